"""The Redis databases the test suite flushes, one per group of tests.

``FINHUB_TEST_REDIS_DB_BASE`` (default 10) moves them all, so two checkouts can run their suites at
once against one Redis server without flushing each other's queues.
"""

import os

BASE = int(os.environ.get("FINHUB_TEST_REDIS_DB_BASE", "10"))
RANKINGS_DB = BASE
PIPELINE_DB = BASE + 1
PLANNER_DB = BASE + 2
WEB_DB = BASE + 3


def flushed(db: int):
    """A pytest fixture body: a client of ``db`` (strings decoded), flushed before and after the test."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, db=db, decode_responses=True)
    client.flushdb()
    yield client
    client.flushdb()
