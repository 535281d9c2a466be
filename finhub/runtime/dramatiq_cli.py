"""``dramatiq`` with finhub's logging: ``python -m finhub.runtime.dramatiq_cli actors [dramatiq args]``.

dramatiq's CLI calls ``logging.basicConfig`` with its own plain-text format in the master process
(its "booting up" and "Sending signal" lines) and in every worker before the actors module is
imported. Here finhub's logging is configured first and dramatiq runs with ``--skip-logging``, so
the master's lines go through finhub's handler too (one JSON object a line in JSON mode); the
workers configure it again when they import ``actors`` (their stderr is then dramatiq's pipe).
"""

from __future__ import annotations

import sys

from dramatiq.cli import main as dramatiq_main
from dramatiq.cli import make_argument_parser

from finhub.config import load_settings
from finhub.logs import configure_logging
from finhub.runtime.broker import expose_worker_metrics


def main(argv: list[str] | None = None) -> int:
    settings = load_settings()
    configure_logging(settings)
    expose_worker_metrics(settings)  # before dramatiq's master forks the metrics server
    args = make_argument_parser().parse_args(["--skip-logging", *(sys.argv[1:] if argv is None else argv)])
    return dramatiq_main(args)


if __name__ == "__main__":
    sys.exit(main())
