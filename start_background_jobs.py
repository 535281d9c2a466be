"""Start finhub: the scheduler and its worker processes. Ctrl+C stops both cleanly.

    python start_background_jobs.py [--workers N | --no-workers] [--once] [--strict]
"""

import sys

from finhub.runtime.driver import main

if __name__ == "__main__":
    sys.exit(main())
