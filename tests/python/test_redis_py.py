"""redis-py against the server under test, over RESP3 and RESP2."""

import pytest
import redis

PROTOCOLS = [3, 2]


@pytest.fixture(params=PROTOCOLS, ids=lambda p: f"resp{p}")
def r(request, server_port):
    client = redis.Redis(host="127.0.0.1", port=server_port, protocol=request.param,
                         decode_responses=True, socket_timeout=5, socket_connect_timeout=5)
    client.flushall()
    yield client
    client.close()


def test_set_get(r):
    assert r.set("name", "damselfly") is True
    assert r.get("name") == "damselfly"
    assert r.get("missing") is None
    assert r.set("name", "other", nx=True) is None
    assert r.set("name", "x", xx=True, get=True) == "damselfly"
    assert r.getdel("name") == "x"
    assert r.exists("name") == 0


def test_incr(r):
    assert r.incr("n") == 1
    assert r.incrby("n", 41) == 42
    assert r.decr("n") == 41
    assert r.incrbyfloat("f", 1.5) == 1.5
    with pytest.raises(redis.ResponseError, match="not an integer"):
        r.set("s", "text")
        r.incr("s")


def test_mget_mset(r):
    assert r.mset({"a": "1", "b": "2"}) is True
    assert r.mget("a", "missing", "b") == ["1", None, "2"]


def test_pipeline(r):
    pipe = r.pipeline(transaction=False)
    pipe.set("p", "1").incr("p").get("p").get("nothing")
    assert pipe.execute() == [True, 2, "2", None]


def test_expire_ttl(r):
    r.set("k", "v")
    assert r.ttl("k") == -1
    assert r.expire("k", 100) is True
    assert 99 <= r.ttl("k") <= 100
    assert 99_000 <= r.pttl("k") <= 100_000
    assert r.persist("k") is True
    assert r.ttl("k") == -1
    assert r.ttl("missing") == -2
    assert r.expire("missing", 10) is False
    r.set("e", "v", ex=100)
    assert 99 <= r.ttl("e") <= 100


def test_scan_iter(r):
    keys = {f"key:{i}" for i in range(250)}
    r.mset({k: "v" for k in keys})
    r.set("other", "v")
    assert set(r.scan_iter(match="key:*", count=20)) == keys
    assert len(set(r.scan_iter())) == 251
    assert set(r.scan_iter(_type="string", match="oth*")) == {"other"}


def test_client_setname(r):
    assert r.client_setname("py-client") is True
    assert r.client_getname() == "py-client"
    assert r.client_id() > 0
    assert any(c.get("name") == "py-client" for c in r.client_list())


def test_info(r):
    r.set("k", "v")
    info = r.info()
    assert "redis_version" in info
    assert info["role"] == "master"
    assert info["connected_clients"] >= 1
    assert info["db0"]["keys"] == 1
    assert "used_memory" in r.info("memory")
    assert r.dbsize() == 1
    assert r.ping() is True
    assert r.echo("hi") == "hi"
