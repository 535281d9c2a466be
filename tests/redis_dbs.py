"""The Redis databases the test suite flushes, one per group of tests.

``FINHUB_TEST_REDIS_DB_BASE`` (default 10) moves them all, so two checkouts can run their suites at
once against one Redis server without flushing each other's queues.
"""

import os

BASE = int(os.environ.get("FINHUB_TEST_REDIS_DB_BASE", "10"))
RANKINGS_DB = BASE
PIPELINE_DB = BASE + 1
PLANNER_DB = BASE + 2
