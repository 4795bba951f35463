//! What a command that changed something leaves in the journal: the rule per command, as Redis
//! propagates it to its AOF and replicas. Replaying the records on the state the command saw
//! must give the state it left, whenever and wherever they are replayed: so relative times
//! become absolute, chance becomes its outcome, and a blocking command becomes the plain one
//! that served it.

use crate::argv::Argv;
use crate::reply::Reply;

/// The journal's form of one command.
#[derive(Debug, PartialEq, Eq)]
pub enum Propagation {
    /// The command's own arguments.
    Verbatim,
    /// These commands instead.
    Commands(Vec<Vec<Vec<u8>>>),
    /// The values its keys hold now (RESTORE, or DEL for a key that is gone).
    Values,
}

/// A key's state after the command: absent, or present with this deadline.
pub type KeyAfter = Option<Option<u64>>;

fn word(arg: &[u8], w: &str) -> bool {
    arg.eq_ignore_ascii_case(w.as_bytes())
}

fn owned(parts: &[&[u8]]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.to_vec()).collect()
}

fn bulk(reply: &Reply) -> Option<&[u8]> {
    match reply {
        Reply::Bulk(b) => Some(b),
        _ => None,
    }
}

fn array(reply: &Reply) -> Option<&[Reply]> {
    match reply {
        Reply::Array(items) | Reply::Set(items) => Some(items),
        _ => None,
    }
}

/// `SET key value PXAT deadline`, or the deadline-free SET when the key has none.
fn set_at(key: &[u8], value: &[u8], after: KeyAfter) -> Propagation {
    match after {
        Some(Some(at_ms)) => Propagation::Commands(vec![owned(&[
            b"SET",
            key,
            value,
            b"PXAT",
            at_ms.to_string().as_bytes(),
        ])]),
        Some(None) => Propagation::Commands(vec![owned(&[b"SET", key, value])]),
        None => Propagation::Commands(vec![owned(&[b"DEL", key])]),
    }
}

/// The deadline a command left on `key`: PEXPIREAT, PERSIST, or DEL when it went.
fn deadline(key: &[u8], after: KeyAfter) -> Propagation {
    let argv = match after {
        Some(Some(at_ms)) => owned(&[b"PEXPIREAT", key, at_ms.to_string().as_bytes()]),
        Some(None) => owned(&[b"PERSIST", key]),
        None => owned(&[b"DEL", key]),
    };
    Propagation::Commands(vec![argv])
}

/// `[L|R]POP key count` / `ZPOP(MIN|MAX) key count` for a served multi-pop (`[key, [items]]`).
fn mpop(pop: &[u8], reply: &Reply) -> Propagation {
    let Some([key, items]) = array(reply) else {
        return Propagation::Values;
    };
    let (Some(key), Some(items)) = (bulk(key), array(items)) else {
        return Propagation::Values;
    };
    let count = items.len().to_string();
    Propagation::Commands(vec![owned(&[pop, key, count.as_bytes()])])
}

/// Which end an LMPOP/ZMPOP-style command popped from: its LEFT/RIGHT or MIN/MAX word.
fn mpop_end(argv: &Argv, first: &str, first_cmd: &[u8], second_cmd: &'static [u8]) -> Vec<u8> {
    if argv.iter().any(|a| word(a, first)) {
        first_cmd.to_vec()
    } else {
        second_cmd.to_vec()
    }
}

/// `name` is the command table's lower-case name; `reply` what the command answered; `after`
/// tells a key's state once the command ran.
pub fn propagation(
    name: &str,
    argv: &Argv,
    reply: &Reply,
    after: &mut dyn FnMut(&[u8]) -> KeyAfter,
) -> Propagation {
    match name {
        "set" => {
            let relative = argv
                .iter()
                .skip(3)
                .any(|a| word(a, "EX") || word(a, "PX") || word(a, "EXAT"));
            if relative {
                set_at(&argv[1], &argv[2], after(&argv[1]))
            } else {
                Propagation::Verbatim
            }
        }
        "setex" | "psetex" => set_at(&argv[1], &argv[3], after(&argv[1])),
        "expire" | "pexpire" | "expireat" | "pexpireat" | "getex" => {
            deadline(&argv[1], after(&argv[1]))
        }
        "getdel" => Propagation::Commands(vec![owned(&[b"DEL", &argv[1]])]),
        "incrbyfloat" => match bulk(reply) {
            Some(value) => {
                Propagation::Commands(vec![owned(&[b"SET", &argv[1], value, b"KEEPTTL"])])
            }
            None => Propagation::Values,
        },
        "hincrbyfloat" => match bulk(reply) {
            Some(value) => {
                Propagation::Commands(vec![owned(&[b"HSET", &argv[1], &argv[2], value])])
            }
            None => Propagation::Values,
        },
        "spop" => {
            let members: Vec<&[u8]> = match reply {
                Reply::Bulk(m) => vec![m],
                _ => match array(reply) {
                    Some(items) => items.iter().filter_map(bulk).collect(),
                    None => return Propagation::Values,
                },
            };
            let mut srem = owned(&[b"SREM", &argv[1]]);
            srem.extend(members.iter().map(|m| m.to_vec()));
            Propagation::Commands(vec![srem])
        }
        "blpop" | "brpop" => {
            let pop: &[u8] = if name == "blpop" { b"LPOP" } else { b"RPOP" };
            match array(reply).and_then(|items| items.first()).and_then(bulk) {
                Some(key) => Propagation::Commands(vec![owned(&[pop, key])]),
                None => Propagation::Values,
            }
        }
        "bzpopmin" | "bzpopmax" => {
            let pop: &[u8] = if name == "bzpopmin" {
                b"ZPOPMIN"
            } else {
                b"ZPOPMAX"
            };
            match array(reply).and_then(|items| items.first()).and_then(bulk) {
                Some(key) => Propagation::Commands(vec![owned(&[pop, key])]),
                None => Propagation::Values,
            }
        }
        "brpoplpush" => Propagation::Commands(vec![owned(&[b"RPOPLPUSH", &argv[1], &argv[2]])]),
        "blmove" => Propagation::Commands(vec![owned(&[
            b"LMOVE", &argv[1], &argv[2], &argv[3], &argv[4],
        ])]),
        "lmpop" | "blmpop" => mpop(&mpop_end(argv, "LEFT", b"LPOP", b"RPOP"), reply),
        "zmpop" | "bzmpop" => mpop(&mpop_end(argv, "MIN", b"ZPOPMIN", b"ZPOPMAX"), reply),
        "xadd" => {
            if argv.iter().any(|a| a == b"~") {
                return Propagation::Values;
            }
            let Some(id) = bulk(reply) else {
                return Propagation::Values;
            };
            // The ID is the first argument that is not an option word or its value.
            let Some(at) = xadd_id_index(argv) else {
                return Propagation::Values;
            };
            let mut out: Vec<Vec<u8>> = argv.iter().map(<[u8]>::to_vec).collect();
            out[at] = id.to_vec();
            Propagation::Commands(vec![out])
        }
        "xtrim" => {
            if argv.iter().any(|a| a == b"~") {
                Propagation::Values
            } else {
                Propagation::Verbatim
            }
        }
        // Delivery times, idle times and chance: the outcome is the state.
        "xreadgroup" | "xclaim" | "xautoclaim" | "restore" | "sort" => Propagation::Values,
        // Memcached's operations have no Redis command: their strings are recorded whole.
        name if name.starts_with("mc_") => Propagation::Values,
        _ => Propagation::Verbatim,
    }
}

/// Where XADD's ID sits: after the key and the options (NOMKSTREAM, MAXLEN/MINID with their
/// `=`/`~`, threshold and LIMIT count).
fn xadd_id_index(argv: &Argv) -> Option<usize> {
    let mut i = 2;
    while i < argv.len() {
        let a = &argv[i];
        if word(a, "NOMKSTREAM") {
            i += 1;
        } else if word(a, "MAXLEN") || word(a, "MINID") {
            i += 1;
            if argv.get(i).is_some_and(|x| x == b"=" || x == b"~") {
                i += 1;
            }
            i += 1;
        } else if word(a, "LIMIT") {
            i += 2;
        } else {
            return Some(i);
        }
    }
    None
}

/// Commands whose record touches other databases, or every key: the merger keeps them in place.
pub fn touches_everything(name: &str, argv: &Argv) -> bool {
    match name {
        "move" | "swapdb" | "flushdb" | "flushall" => true,
        "copy" => argv.iter().any(|a| word(a, "DB")),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Argv {
        Argv::from_slices(&s.split(' ').collect::<Vec<_>>())
    }

    fn cmds(lines: &[&str]) -> Propagation {
        Propagation::Commands(
            lines
                .iter()
                .map(|l| l.split(' ').map(|w| w.as_bytes().to_vec()).collect())
                .collect(),
        )
    }

    fn run(name: &str, line: &str, reply: Reply, after: KeyAfter) -> Propagation {
        propagation(name, &argv(line), &reply, &mut |_| after)
    }

    #[test]
    fn relative_times_become_deadlines() {
        assert_eq!(
            run("set", "SET k v EX 10", Reply::OK, Some(Some(5000))),
            cmds(&["SET k v PXAT 5000"])
        );
        assert_eq!(
            run("set", "SET k v KEEPTTL", Reply::OK, Some(Some(5000))),
            Propagation::Verbatim
        );
        assert_eq!(
            run("setex", "SETEX k 10 v", Reply::OK, Some(Some(7))),
            cmds(&["SET k v PXAT 7"])
        );
        assert_eq!(
            run("expire", "EXPIRE k 10", Reply::Int(1), Some(Some(9))),
            cmds(&["PEXPIREAT k 9"])
        );
        assert_eq!(
            run("expire", "EXPIRE k -1", Reply::Int(1), None),
            cmds(&["DEL k"])
        );
        assert_eq!(
            run(
                "getex",
                "GETEX k PERSIST",
                Reply::Bulk(b"v".to_vec()),
                Some(None)
            ),
            cmds(&["PERSIST k"])
        );
    }

    #[test]
    fn chance_and_blocking_become_their_outcome() {
        let members = Reply::Array(vec![Reply::Bulk(b"a".to_vec()), Reply::Bulk(b"b".to_vec())]);
        assert_eq!(
            run("spop", "SPOP s 2", members, Some(None)),
            cmds(&["SREM s a b"])
        );
        let served = Reply::Array(vec![
            Reply::Bulk(b"l2".to_vec()),
            Reply::Bulk(b"x".to_vec()),
        ]);
        assert_eq!(
            run("brpop", "BRPOP l1 l2 0", served, None),
            cmds(&["RPOP l2"])
        );
        let mpop = Reply::Array(vec![
            Reply::Bulk(b"l".to_vec()),
            Reply::Array(vec![Reply::Bulk(b"x".to_vec()), Reply::Bulk(b"y".to_vec())]),
        ]);
        assert_eq!(
            run("blmpop", "BLMPOP 0 1 l RIGHT COUNT 5", mpop, Some(None)),
            cmds(&["RPOP l 2"])
        );
        assert_eq!(
            run(
                "incrbyfloat",
                "INCRBYFLOAT k 1.5",
                Reply::Bulk(b"3.5".to_vec()),
                Some(None)
            ),
            cmds(&["SET k 3.5 KEEPTTL"])
        );
    }

    #[test]
    fn xadd_records_the_id_it_chose() {
        assert_eq!(
            run(
                "xadd",
                "XADD s MAXLEN = 5 * f v",
                Reply::Bulk(b"7-0".to_vec()),
                Some(None)
            ),
            cmds(&["XADD s MAXLEN = 5 7-0 f v"])
        );
        assert_eq!(
            run(
                "xadd",
                "XADD s NOMKSTREAM 9-* f v",
                Reply::Bulk(b"9-3".to_vec()),
                Some(None)
            ),
            cmds(&["XADD s NOMKSTREAM 9-3 f v"])
        );
        assert_eq!(
            run(
                "xadd",
                "XADD s MAXLEN ~ 5 * f v",
                Reply::Bulk(b"7-0".to_vec()),
                Some(None)
            ),
            Propagation::Values
        );
    }
}
