//! The commands simulated clients send. A small key space so clients collide; absolute
//! deadlines (SET … PXAT, PEXPIREAT) so that whether a key is alive depends only on when a read
//! runs, which the checker can bracket by the read's invoke and return times.
//!
//! Multi-key commands draw their keys from one `{tag}` group, so they stay on one shard: until
//! transactions land, a command spanning shards is not atomic and the linearizability check
//! would (rightly) reject it. Single-client runs use any keys.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

pub struct Workload {
    keys: Vec<Vec<u8>>,
    tagged: Vec<Vec<u8>>,
    ttl_per_mille: u32,
    multi_key_per_mille: u32,
    cross_shard: bool,
}

impl Workload {
    pub fn new(
        keys: usize,
        ttl_per_mille: u32,
        multi_key_per_mille: u32,
        cross_shard: bool,
    ) -> Workload {
        Workload {
            keys: (0..keys).map(|i| format!("k{i}").into_bytes()).collect(),
            tagged: ["{t}a", "{t}b", "{t}c"]
                .iter()
                .map(|k| k.as_bytes().to_vec())
                .collect(),
            ttl_per_mille,
            multi_key_per_mille,
            cross_shard,
        }
    }

    /// A command over several keys: each is a transaction when its keys span shards.
    fn multi_key(&self, rng: &mut ChaCha8Rng) -> Vec<Vec<u8>> {
        let n = rng.gen_range(1..=3);
        let keys = self.multi_keys(rng, n);
        let name: &[u8] = match rng.gen_range(0..6) {
            0 => b"MGET",
            1 => b"DEL",
            2 => b"EXISTS",
            3 => {
                let mut rename = vec![b"RENAME".to_vec()];
                rename.extend(self.multi_keys(rng, 2));
                return rename;
            }
            4 => b"MSETNX",
            _ => b"MSET",
        };
        let mut argv = vec![name.to_vec()];
        for key in keys {
            argv.push(key);
            if matches!(name, b"MSET" | b"MSETNX") {
                argv.push(Self::value(rng));
            }
        }
        argv
    }

    fn key(&self, rng: &mut ChaCha8Rng) -> Vec<u8> {
        if rng.gen_ratio(1, 5) {
            self.tagged.choose(rng).expect("tagged keys").clone()
        } else {
            self.keys.choose(rng).expect("keys").clone()
        }
    }

    fn multi_keys(&self, rng: &mut ChaCha8Rng, n: usize) -> Vec<Vec<u8>> {
        let pool = if self.cross_shard {
            &self.keys
        } else {
            &self.tagged
        };
        (0..n)
            .map(|_| pool.choose(rng).expect("key pool").clone())
            .collect()
    }

    fn value(rng: &mut ChaCha8Rng) -> Vec<u8> {
        match rng.gen_range(0..4) {
            0 => rng.gen_range(-5i64..100).to_string().into_bytes(),
            1 => b"".to_vec(),
            2 => format!("v{}", rng.gen_range(0..10)).into_bytes(),
            _ => vec![b'x'; rng.gen_range(1..60)],
        }
    }

    /// A deadline in the near future (sometimes the past) on the wall clock.
    fn deadline_ms(rng: &mut ChaCha8Rng, wall_ms: u64) -> u64 {
        if rng.gen_ratio(1, 10) {
            wall_ms.saturating_sub(rng.gen_range(1..1000))
        } else {
            wall_ms + rng.gen_range(1..40)
        }
    }

    /// The next command, as arguments.
    pub fn next(&self, rng: &mut ChaCha8Rng, wall_ms: u64) -> Vec<Vec<u8>> {
        if rng.gen_range(0..1000) < self.multi_key_per_mille {
            return self.multi_key(rng);
        }
        let key = self.key(rng);
        let words =
            |w: &[&str]| -> Vec<Vec<u8>> { w.iter().map(|s| s.as_bytes().to_vec()).collect() };
        let mut argv = match rng.gen_range(0..16) {
            0 | 1 => words(&["GET"]),
            2 | 3 => {
                let mut set = words(&["SET"]);
                set.push(key.clone());
                set.push(Self::value(rng));
                if rng.gen_range(0..1000) < self.ttl_per_mille {
                    set.push(b"PXAT".to_vec());
                    set.push(Self::deadline_ms(rng, wall_ms).to_string().into_bytes());
                }
                return set;
            }
            4 => words(&["DEL"]),
            5 => words(&["INCR"]),
            6 => {
                let mut append = words(&["APPEND"]);
                append.push(key.clone());
                append.push(Self::value(rng));
                return append;
            }
            7 => words(&["EXISTS"]),
            8 => {
                let mut expire = words(&["PEXPIREAT"]);
                expire.push(key.clone());
                expire.push(Self::deadline_ms(rng, wall_ms).to_string().into_bytes());
                return expire;
            }
            9 => words(&["PERSIST"]),
            10 => words(&["GETDEL"]),
            11 => words(&["STRLEN"]),
            12 => words(&["TYPE"]),
            13 => {
                let mut mset = words(&["MSET"]);
                let n = rng.gen_range(1..=3);
                for k in self.multi_keys(rng, n) {
                    mset.push(k);
                    mset.push(Self::value(rng));
                }
                return mset;
            }
            14 => {
                let mut mget = words(&["MGET"]);
                let n = rng.gen_range(1..=3);
                mget.extend(self.multi_keys(rng, n));
                return mget;
            }
            _ => {
                let mut setnx = words(&["SETNX"]);
                setnx.push(key.clone());
                setnx.push(Self::value(rng));
                return setnx;
            }
        };
        argv.push(key);
        argv
    }
}

/// RESP2 multibulk encoding of a command.
pub fn encode_command(argv: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", argv.len()).into_bytes();
    for arg in argv {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}
