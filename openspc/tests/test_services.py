"""The real services the production setup uses: Redis channel layer and cache, Mosquitto."""

import os
import uuid

import pytest
from asgiref.sync import async_to_sync

REDIS_URL = os.environ.get("OPENSPC_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.mark.redis
def test_a_message_crosses_the_redis_channel_layer():
    from channels_redis.core import RedisChannelLayer

    layer = RedisChannelLayer(hosts=[REDIS_URL])
    group = f"test-{uuid.uuid4().hex}"

    async def roundtrip():
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        await layer.group_send(group, {"type": "sample.recorded", "value": 74.01})
        message = await layer.receive(channel)
        await layer.flush()
        return message

    assert async_to_sync(roundtrip)() == {"type": "sample.recorded", "value": 74.01}


@pytest.mark.redis
def test_the_configured_channel_layer_and_cache_follow_openspc_redis_url(settings):
    from django.core.cache import cache

    if not os.environ.get("OPENSPC_REDIS_URL"):
        assert settings.CHANNEL_LAYERS["default"]["BACKEND"].endswith("InMemoryChannelLayer")
        assert settings.CELERY_TASK_ALWAYS_EAGER is True
        return
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    key = f"probe-{uuid.uuid4().hex}"
    cache.set(key, "stored in redis", 30)
    import redis

    raw = redis.Redis.from_url(REDIS_URL)
    assert any(key in k.decode() for k in raw.keys(f"*{key}*"))


@pytest.mark.mqtt
def test_a_message_crosses_the_mosquitto_broker():
    import queue

    import paho.mqtt.client as mqtt

    topic = f"openspc/test/{uuid.uuid4().hex}"
    received: queue.Queue = queue.Queue()
    subscribed: queue.Queue = queue.Queue()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    sub.on_message = lambda c, u, msg: received.put(msg.payload)
    sub.on_subscribe = lambda *args: subscribed.put(True)
    sub.connect("127.0.0.1", 1883)
    sub.loop_start()
    try:
        sub.subscribe(topic, qos=1)
        subscribed.get(timeout=5)
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        pub.connect("127.0.0.1", 1883)
        pub.loop_start()
        pub.publish(topic, b'{"value": 74.012}', qos=1).wait_for_publish(5)
        pub.loop_stop()
        pub.disconnect()
        assert received.get(timeout=5) == b'{"value": 74.012}'
    finally:
        sub.loop_stop()
        sub.disconnect()


@pytest.mark.postgres
def test_the_postgresql_run_really_uses_postgresql():
    from django.db import connection

    from conftest import database_is_postgres

    expected = "postgresql" if database_is_postgres() else "sqlite"
    assert connection.vendor == expected
