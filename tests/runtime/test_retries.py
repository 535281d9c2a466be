"""A failed job's retry is never lost to a Redis outage: the worker enqueues it once Redis answers
again (dramatiq alone logs the failed enqueue and acknowledges the message all the same)."""

import threading

import dramatiq
import pytest
import redis
from dramatiq.broker import MessageProxy

from finhub.runtime import broker as broker_module
from finhub.runtime.broker import make_broker
from providers.base import RetryLater
from tests.private_services import PrivateRedis


@pytest.mark.slow
def test_a_retry_enqueued_while_redis_is_down_lands_once_it_is_back(monkeypatch):
    monkeypatch.setattr(broker_module, "REENQUEUE_PAUSE_S", 0.1)
    server = PrivateRedis()
    server.start()
    broker = make_broker(server.url)
    try:
        @dramatiq.actor(broker=broker, queue_name="validation", actor_name="store_quotes")
        def store_quotes(observations):
            pass

        message = MessageProxy(store_quotes.message([{"symbol": "BTC"}]))
        retries = next(m for m in broker.middleware if isinstance(m, broker_module.Retries))
        server.shutdown()
        worker_thread = threading.Thread(target=retries.after_process_message, args=(broker, message),
                                         kwargs={"exception": RetryLater("redis", "connection lost")})
        worker_thread.start()
        worker_thread.join(1.5)
        assert worker_thread.is_alive(), "the retry must wait for Redis, not give up"
        server.start()
        worker_thread.join(15)
        assert not worker_thread.is_alive()
        client = redis.Redis.from_url(server.url, decode_responses=True)
        (retry,) = [dramatiq.Message.decode(m.encode()) for m in client.hvals("dramatiq:validation.DQ.msgs")]
        assert retry.message_id == message.message_id and retry.args == ([{"symbol": "BTC"}],)
        assert retry.options["retries"] == 1
        assert not message.failed
    finally:
        broker.close()
        server.close()
