"""redis-py's pub/sub API against the server under test, over RESP3 and RESP2: subscribers
on several connections (so, with several threads, on several of the server's threads)."""

import time

import pytest
import redis

PROTOCOLS = [3, 2]


@pytest.fixture(params=PROTOCOLS, ids=lambda p: f"resp{p}")
def make_client(request, server_port):
    clients = []

    def make():
        client = redis.Redis(host="127.0.0.1", port=server_port, protocol=request.param,
                             decode_responses=True, socket_timeout=5, socket_connect_timeout=5)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def next_message(pubsub, timeout_s=5.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.1)
        if message is not None:
            return message
    raise AssertionError("no message arrived")


def test_publish_reaches_channel_and_pattern_subscribers_in_order(make_client):
    publisher = make_client()
    subscribers = [make_client().pubsub() for _ in range(4)]
    for n, pubsub in enumerate(subscribers):
        if n % 2:
            pubsub.psubscribe("news.*")
            assert next_message(pubsub)["type"] == "psubscribe"
        else:
            pubsub.subscribe("news.tech")
            assert next_message(pubsub)["type"] == "subscribe"
    assert publisher.pubsub_numsub("news.tech") == [("news.tech", 2)]
    assert publisher.pubsub_numpat() == 1
    assert publisher.pubsub_channels() == ["news.tech"]
    for i in range(20):
        assert publisher.publish("news.tech", f"m{i}") == 4
    for n, pubsub in enumerate(subscribers):
        got = [next_message(pubsub) for _ in range(20)]
        assert [m["data"] for m in got] == [f"m{i}" for i in range(20)]
        assert {m["type"] for m in got} == {"pmessage" if n % 2 else "message"}
    for pubsub in subscribers:
        pubsub.close()
    deadline = time.monotonic() + 5
    while publisher.pubsub_numsub("news.tech") != [("news.tech", 0)]:
        assert time.monotonic() < deadline, "closed subscribers stayed subscribed"
        time.sleep(0.05)


def test_unsubscribe_and_shard_channels(make_client):
    publisher = make_client()
    pubsub = make_client().pubsub()
    pubsub.ssubscribe("orders")
    assert next_message(pubsub)["type"] == "ssubscribe"
    assert publisher.spublish("orders", "o1") == 1
    assert publisher.publish("orders", "not shard") == 0
    message = next_message(pubsub)
    assert (message["type"], message["data"]) == ("smessage", "o1")
    assert publisher.pubsub_shardchannels() == ["orders"]
    assert publisher.pubsub_shardnumsub("orders") == [("orders", 1)]
    pubsub.sunsubscribe("orders")
    assert next_message(pubsub)["type"] == "sunsubscribe"
    assert publisher.spublish("orders", "o2") == 0
    pubsub.close()


def test_ping_while_subscribed(make_client):
    pubsub = make_client().pubsub()
    pubsub.subscribe("c")
    assert next_message(pubsub)["type"] == "subscribe"
    pubsub.ping("hello")
    message = next_message(pubsub)
    assert message["type"] == "pong" or message["data"] in ("hello", "pong")
    pubsub.close()
