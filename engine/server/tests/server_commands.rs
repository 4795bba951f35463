//! Replies that name the server (INFO, CLIENT LIST/ID/INFO, HELLO, TIME) cannot be compared byte
//! for byte with redis-server; these tests check their shape, and the server's own flags.
//! `DIFF_AGAINST_REDIS=1` runs them against redis-server to prove the expectations are Redis's.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod support;

use std::time::{SystemTime, UNIX_EPOCH};

use support::{escape, RawConn, Target};

/// The payload of a bulk-string reply (`$N\r\n...\r\n`) or a verbatim string (`=N\r\ntxt:...`).
fn bulk_text(reply: &[u8]) -> String {
    let text = String::from_utf8_lossy(reply).to_string();
    assert!(
        text.starts_with('$') || text.starts_with('='),
        "not a bulk string: {}",
        escape(reply)
    );
    let body = text.split_once("\r\n").map(|(_, b)| b).unwrap_or("");
    let body = body.strip_suffix("\r\n").unwrap_or(body);
    body.strip_prefix("txt:").unwrap_or(body).to_string()
}

fn integer(reply: &[u8]) -> i64 {
    let text = String::from_utf8_lossy(reply);
    text.strip_prefix(':')
        .and_then(|t| t.trim_end().parse().ok())
        .unwrap_or_else(|| panic!("not an integer: {}", escape(reply)))
}

fn info(conn: &mut RawConn, section: &[&str]) -> String {
    let mut args: Vec<&[u8]> = vec![b"INFO"];
    args.extend(section.iter().map(|s| s.as_bytes()));
    bulk_text(&conn.cmd(&args))
}

#[test]
fn info_has_the_fields_clients_read() {
    let target = Target::under_test(&[]);
    let mut conn = target.conn();
    let all = info(&mut conn, &[]);
    for field in [
        "redis_version:",
        "connected_clients:",
        "role:master",
        "loading:0",
        "used_memory:",
        "tcp_port:",
    ] {
        assert!(all.contains(field), "INFO lacks {field}:\n{all}");
    }
    for section in [
        "# Server",
        "# Clients",
        "# Memory",
        "# Replication",
        "# Keyspace",
    ] {
        assert!(all.contains(section), "INFO lacks {section}");
    }
    assert!(
        all.contains(&format!("tcp_port:{}", target.port())),
        "tcp_port is not ours"
    );
    assert!(all.contains("\r\n"), "INFO lines end with CRLF");
    assert!(
        !info(&mut conn, &["keyspace"]).contains("db0:"),
        "empty db0 is not listed"
    );
    conn.cmd_str(&["SET", "k", "v"]);
    let keyspace = info(&mut conn, &["keyspace"]);
    assert!(
        keyspace.contains("db0:keys=1,expires=0,avg_ttl=0"),
        "INFO keyspace:\n{keyspace}"
    );
    let server = info(&mut conn, &["server"]);
    assert!(
        server.starts_with("# Server") && !server.contains("# Clients"),
        "INFO server:\n{server}"
    );
    let mut other = target.conn();
    other.cmd_str(&["PING"]);
    let clients = info(&mut conn, &["clients"]);
    assert!(
        clients.contains("connected_clients:2"),
        "INFO clients:\n{clients}"
    );
}

#[test]
fn client_list_id_and_info() {
    let target = Target::under_test(&[]);
    let mut a = target.conn();
    let mut b = target.conn();
    let id_a = integer(&a.cmd_str(&["CLIENT", "ID"]));
    let id_b = integer(&b.cmd_str(&["CLIENT", "ID"]));
    assert!(id_a > 0 && id_b > id_a, "client ids {id_a} then {id_b}");
    assert_eq!(a.cmd_str(&["CLIENT", "SETNAME", "alpha"]), b"+OK\r\n");
    let list = bulk_text(&a.cmd_str(&["CLIENT", "LIST"]));
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "CLIENT LIST:\n{list}");
    for line in &lines {
        for field in ["id=", "addr=127.0.0.1:", "name=", "db=0", "cmd="] {
            assert!(
                line.contains(field),
                "CLIENT LIST line lacks {field}: {line}"
            );
        }
    }
    assert!(
        list.contains(&format!("id={id_a} ")) && list.contains("name=alpha "),
        "{list}"
    );
    let own = bulk_text(&b.cmd_str(&["CLIENT", "INFO"]));
    assert!(
        own.contains(&format!("id={id_b} ")) && own.contains("name= "),
        "CLIENT INFO: {own}"
    );
    let by_id = bulk_text(&a.cmd_str(&["CLIENT", "LIST", "ID", &id_b.to_string()]));
    assert_eq!(by_id.lines().count(), 1, "CLIENT LIST ID: {by_id}");
}

#[test]
fn hello_time_and_command_count_shapes() {
    let target = Target::under_test(&[]);
    let mut conn = target.conn();
    let hello = String::from_utf8_lossy(&conn.cmd_str(&["HELLO", "3"])).to_string();
    assert!(hello.starts_with("%7\r\n"), "HELLO 3: {hello}");
    for key in [
        "server", "version", "proto", "id", "mode", "role", "modules",
    ] {
        assert!(
            hello.contains(&format!("${}\r\n{key}\r\n", key.len())),
            "HELLO lacks {key}: {hello}"
        );
    }
    assert!(
        hello.contains("$5\r\nproto\r\n:3\r\n"),
        "HELLO 3 proto: {hello}"
    );
    let time = String::from_utf8_lossy(&conn.cmd_str(&["TIME"])).to_string();
    let parts: Vec<&str> = time.split("\r\n").collect();
    assert_eq!(parts[0], "*2", "TIME: {time}");
    let secs: u64 = parts[2].parse().expect("TIME seconds");
    let micros: u64 = parts[4].parse().expect("TIME micros");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    assert!(
        secs.abs_diff(now) <= 5 && micros < 1_000_000,
        "TIME {secs} {micros} vs {now}"
    );
    let count = integer(&conn.cmd_str(&["COMMAND", "COUNT"]));
    assert!(count >= 30, "COMMAND COUNT {count}");
}

#[test]
fn dbnum_flag_sets_databases() {
    let target = Target::under_test(&["--dbnum", "4"]);
    let mut conn = target.conn();
    assert_eq!(conn.cmd_str(&["SELECT", "3"]), b"+OK\r\n");
    assert_eq!(
        conn.cmd_str(&["SELECT", "4"]),
        b"-ERR DB index is out of range\r\n"
    );
    assert_eq!(
        conn.cmd_str(&["CONFIG", "GET", "databases"]),
        b"*2\r\n$9\r\ndatabases\r\n$1\r\n4\r\n"
    );
}

#[test]
fn requirepass_flag_demands_auth() {
    let target = Target::under_test(&["--requirepass", "s3cret"]);
    let mut conn = target.conn();
    assert_eq!(
        conn.cmd_str(&["GET", "k"]),
        b"-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(
        conn.cmd_str(&["AUTH", "wrong"]),
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(conn.cmd_str(&["AUTH", "s3cret"]), b"+OK\r\n");
    assert_eq!(conn.cmd_str(&["GET", "k"]), b"$-1\r\n");
    let mut other = target.conn();
    let hello = other.cmd_str(&["HELLO", "3", "AUTH", "default", "s3cret"]);
    assert!(
        hello.starts_with(b"%7\r\n"),
        "HELLO AUTH: {}",
        escape(&hello)
    );
}

#[test]
fn maxclients_flag_refuses_extra_clients() {
    let target = Target::under_test(&["--maxclients", "2"]);
    let mut first = target.conn();
    // The readiness probe's connection closes asynchronously: wait until the server has
    // counted it out, so exactly `first` is connected.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !String::from_utf8_lossy(&first.cmd_str(&["INFO", "clients"]))
        .contains("connected_clients:1\r\n")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "probe connection never closed"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let mut second = target.conn();
    assert_eq!(first.cmd_str(&["PING"]), b"+PONG\r\n");
    assert_eq!(second.cmd_str(&["PING"]), b"+PONG\r\n");
    let mut third = target.conn();
    let reply = third.read_reply();
    assert_eq!(
        escape(&reply),
        escape(b"-ERR max number of clients reached\r\n")
    );
    assert!(third.is_closed(), "refused client is closed");
    drop(second);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(target.conn().cmd_str(&["PING"]), b"+PONG\r\n");
}

/// INFO's `hops_to_other_threads`: GETs of keys the connection's own thread does not own each
/// cost a hop; on one thread nothing does.
#[test]
fn hops_to_other_threads_are_counted() {
    if support::against_redis() {
        return;
    }
    let hops = |conn: &mut support::RawConn| -> u64 {
        let info = String::from_utf8(conn.cmd_str(&["INFO", "stats"])).unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix("hops_to_other_threads:"))
            .expect("the field")
            .trim()
            .parse()
            .unwrap()
    };
    const KEYS: u64 = 40;
    for (threads, expect_hops) in [("1", false), ("2", true)] {
        let target = Target::under_test(&["--proactor_threads", threads]);
        let mut conn = target.conn();
        let before = hops(&mut conn);
        for k in 0..KEYS {
            assert_eq!(conn.cmd_str(&["GET", &format!("key:{k}")]), b"$-1\r\n");
        }
        let sent = hops(&mut conn) - before;
        if expect_hops {
            // About half the keys live on the other thread (and INFO itself asks it once).
            assert!(
                (KEYS / 4..=KEYS).contains(&sent),
                "{threads} threads: {sent} hops"
            );
        } else {
            assert_eq!(sent, 0, "one thread never hops");
        }
    }
}

#[test]
fn proactor_threads_flag_is_accepted() {
    for threads in ["1", "2"] {
        let target = Target::under_test(&["--proactor_threads", threads]);
        let mut conn = target.conn();
        conn.cmd_str(&["MSET", "a", "1", "b", "2", "c", "3"]);
        assert_eq!(
            conn.cmd_str(&["MGET", "a", "b", "c"]),
            b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
        );
        assert_eq!(conn.cmd_str(&["DBSIZE"]), b":3\r\n");
    }
}
