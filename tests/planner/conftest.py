import pytest
import redis

#: Redis database the planner tests use (the shared server's db 0 belongs to running finhubs).
from tests.redis_dbs import PLANNER_DB


@pytest.fixture
def redis_client():
    client = redis.Redis(host="127.0.0.1", port=6379, db=PLANNER_DB)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()
