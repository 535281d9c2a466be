import pytest

# The runtime tests share the planner's Redis database: pytest runs them one at a time, each flushed.
from tests.redis_dbs import PLANNER_DB, flushed


@pytest.fixture
def redis_client():
    yield from flushed(PLANNER_DB)
