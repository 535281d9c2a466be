"""The work behind the actors, as plain functions over a :class:`~finhub.runtime.context.Context`:
quotes, cross-checks, history, backfills, aggregation, rankings and maintenance."""
