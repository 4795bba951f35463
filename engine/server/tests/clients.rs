//! The Rust `redis` crate (sync API) against the server under test, over RESP2 and RESP3.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod support;

use redis::{Commands, Connection, Value};

use support::Target;

fn connect(target: &Target, resp3: bool) -> Connection {
    let query = if resp3 { "?protocol=resp3" } else { "" };
    let url = format!("redis://127.0.0.1:{}/{query}", target.port());
    let client = redis::Client::open(url.as_str()).expect("client url");
    let conn = client
        .get_connection_with_timeout(support::IO_TIMEOUT)
        .expect("connect");
    conn.set_read_timeout(Some(support::IO_TIMEOUT))
        .expect("read timeout");
    conn.set_write_timeout(Some(support::IO_TIMEOUT))
        .expect("write timeout");
    conn
}

fn exercise(conn: &mut Connection) {
    let _: () = redis::cmd("FLUSHALL").query(conn).expect("FLUSHALL");
    let _: () = conn.set("name", "damselfly").expect("SET");
    let name: String = conn.get("name").expect("GET");
    assert_eq!(name, "damselfly");
    let missing: Option<String> = conn.get("missing").expect("GET missing");
    assert_eq!(missing, None);
    let n: i64 = conn.incr("counter", 1).expect("INCR");
    assert_eq!(n, 1);
    let n: i64 = conn.incr("counter", 41).expect("INCRBY");
    assert_eq!(n, 42);
    let values: Vec<Option<String>> = conn.mget(&["name", "missing", "counter"]).expect("MGET");
    assert_eq!(
        values,
        vec![Some("damselfly".into()), None, Some("42".into())]
    );
    let (a, b, c): (String, i64, Option<String>) = redis::pipe()
        .cmd("SET")
        .arg("p")
        .arg("1")
        .ignore()
        .cmd("GET")
        .arg("p")
        .cmd("INCR")
        .arg("p")
        .cmd("GET")
        .arg("nothing")
        .query(conn)
        .expect("pipeline");
    assert_eq!((a.as_str(), b, c), ("1", 2, None));
    let set: bool = conn.expire("name", 100).expect("EXPIRE");
    assert!(set);
    let ttl: i64 = conn.ttl("name").expect("TTL");
    assert!((99..=100).contains(&ttl), "TTL {ttl}");
    let gone: bool = conn.expire("missing", 100).expect("EXPIRE missing");
    assert!(!gone);
    let err = redis::cmd("INCR")
        .arg("name")
        .query::<i64>(conn)
        .expect_err("INCR on text");
    assert!(err.to_string().contains("not an integer"), "{err}");
    let deleted: i64 = conn.del(&["name", "counter", "p"]).expect("DEL");
    assert_eq!(deleted, 3);
}

#[test]
fn redis_crate_resp2() {
    let target = Target::under_test(&[]);
    exercise(&mut connect(&target, false));
}

#[test]
fn redis_crate_resp3() {
    let target = Target::under_test(&[]);
    let mut conn = connect(&target, true);
    exercise(&mut conn);
    let raw: Value = redis::cmd("GET")
        .arg("missing")
        .query(&mut conn)
        .expect("GET");
    assert_eq!(raw, Value::Nil);
    let config: Value = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory")
        .query(&mut conn)
        .expect("CONFIG");
    assert!(
        matches!(config, Value::Map(_)),
        "RESP3 CONFIG GET is a map: {config:?}"
    );
}
