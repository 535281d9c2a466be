"""``python -m finhub status``: queues, workers, scheduler, jobs, stored data, provider health and
asset warnings; ``--json`` prints the same document as ``GET /api/status``. Exits 1 when something
needs attention (a service down, no scheduler lease, a breaker open, stale assets, dead letters),
saying which."""

from __future__ import annotations

import json
from typing import Any

from finhub.runtime.context import Context
from finhub.runtime.redis import resolve_redis_url
from finhub.runtime.status import status_document


def register(subparsers) -> None:
    parser = subparsers.add_parser("status", help="queue depths, last job runs, stored rows, provider health "
                                                  "(exit 1 when something needs attention)")
    parser.add_argument("--json", action="store_true", help="print the status document as JSON (as GET /api/status)")
    parser.set_defaults(func=run)


def run(args, settings) -> int:
    try:
        ctx = Context(settings, resolve_redis_url(settings))
    except RuntimeError:
        ctx = Context(settings, "")
    doc = status_document(ctx)
    print(json.dumps(doc, indent=2) if args.json else render(doc))
    return 1 if doc["attention"] else 0


def render(doc: dict[str, Any]) -> str:
    """The status document as ``finhub status`` prints it: each section that could be read, one line
    per unreachable service, and what needs attention last."""
    lines: list[str] = []
    redis, database = doc["redis"], doc["database"]
    if redis["ok"]:
        lines.append(f"redis: {redis['url']}; append-only persistence {'yes' if redis.get('append_only') else 'no'}")
        if not redis.get("append_only"):
            lines.append("  WARNING: this Redis keeps no append-only file: queued messages are lost when it restarts "
                         "(set appendonly yes and maxmemory-policy noeviction)")
    else:
        lines.append(f"redis: {redis['problem']}")
    if doc["queues"] is not None:
        lines += ["", "queues              waiting  delayed  in-flight  dead  live workers"]
        for queue, d in doc["queues"].items():
            live = d["live_workers"]
            lines.append(f"  {queue:16} {d['waiting']:9} {d['delayed']:8} {d['in_flight']:10} {d['dead']:5}  "
                         + (f"{live}" if live else "0: NO live worker consumes this queue"))
    if doc["workers"] is not None:
        lines += ["", f"workers: {len(doc['workers'])} live process(es) (finhub workers lists them)"]
    if doc["scheduler"] is not None:
        s = doc["scheduler"]
        lines.append(f"scheduler: lease held by pid {s['holder_pid']}" if s["lease_held"]
                     else "scheduler: NO driver holds the lease")
    if doc["jobs"] is not None:
        lines += ["", "jobs (last run, outcome, detail; schedule, next run)"]
        for job in doc["jobs"]:
            last = " ".join(filter(None, (job["last_run"], job["outcome"], job["detail"]))) or "(not run yet)"
            plan = ", ".join(filter(None, (job["schedule"], job["next_run"] and f"next {job['next_run']}")))
            lines.append(f"  {job['job']:20} {last}" + (f"  [{plan}]" if plan else ""))
    if doc["history"] is not None:
        lines += ["", "history (assets_assetpriceshistoric)"]
        for asset_type, h in doc["history"].items() or [("(empty)", {"rows": 0, "latest": None})]:
            lines.append(f"  {asset_type:8} {h['rows']:10,} rows, latest market time {h['latest'] or '-'}")
    if doc["quotes"] is not None:
        q = doc["quotes"]
        lines.append(f"  quotes: {q['fresh']} of {q['active']} active assets fresh")
    u = doc["universe"]
    lines.append(f"  universe: {u['stocks']} stocks, {u['cryptos']} cryptos collected")
    if doc["providers"] is not None:
        lines += ["", "providers"]
        for p in doc["providers"]:
            b = p["breaker"]
            extra = f", retry in {b['retry_after_s']:.0f}s, last error: {b['last_error']}" \
                if b["state"] != "closed" else ""
            spent = ", ".join(f"{w['window']} {w['used']}/{w['limit']}" for w in p["windows"])
            lines.append(f"  {p['provider']:13} breaker {b['state']}{extra}; calls {spent or 'unlimited'}; "
                         f"429s {p['rate_limited']}" + ("" if p["enabled"] else " (off)"))
    if doc["quality"] is not None:
        lines += _quality(doc["quality"], doc["superseded_batches"])
    if not database["ok"]:
        lines.append(f"database: {database['problem']}")
    lines += ["", "asset warnings"]
    lines += [f"  {w}" for w in _warnings(doc)] or ["  (none)"]
    # The services' problems are the lines above; the rest once more, as what to look at.
    needs = [a for a in doc["attention"] if not a.startswith(("redis:", "database:"))]
    if needs:
        lines += ["", "needs attention"] + [f"  {a}" for a in needs]
    return "\n".join(lines)


def _warnings(doc: dict[str, Any]) -> list[str]:
    warnings = [f"{n['symbol']}: {n['notice']}" for n in doc["notices"]]
    warnings += [f"{a['symbol']}: no fresh quote, "
                 + (f"the newest is from {a['market_time']}" if a["market_time"] else "none stored yet")
                 for a in doc["assets"] or [] if a["freshness"] != "fresh"]
    warnings += [f"{s}: rejected by every provider: {reason}" for s, reason in (doc["rejected_symbols"] or {}).items()]
    return warnings


def _quality(quality: dict[str, Any], superseded: dict[str, int] | None) -> list[str]:
    """The ``data quality`` section: validated share of the last hour, quarantine, dropped batches."""
    lines = ["", "data quality"]
    for kind, figures in quality["last_hour"].items():
        share = figures["validated_share"]
        lines.append(f"  {kind:8} {figures['quotes']:6,} quotes in the last hour, "
                     f"{'-' if share is None else f'{share:.1%}'} validated (cross-checked by a second provider)")
    if not quality["last_hour"]:
        lines.append("  no quote stored in the last hour")
    lines.append(f"  quarantine: {quality['quarantined']:,} observations (finhub quarantine lists them)")
    if superseded is not None:
        lines.append("  throttled quote batches dropped for their next scheduled run: "
                     + (", ".join(f"{k} {v:,}" for k, v in sorted(superseded.items())) or "none"))
    return lines
