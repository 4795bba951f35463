//! The commands simulated clients send. A small key space so clients collide; absolute
//! deadlines (SET … PXAT, PEXPIREAT) so that whether a key is alive depends only on when a read
//! runs, which the checker can bracket by the read's invoke and return times.
//!
//! Multi-key commands draw their keys from one `{tag}` group, so they stay on one shard: until
//! transactions land, a command spanning shards is not atomic and the linearizability check
//! would (rightly) reject it. Single-client runs use any keys.

use std::collections::{BTreeMap, VecDeque};

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

use crate::config::{CollectionMix, Family};

/// Most commands a transaction's body holds (between MULTI and EXEC).
const TRANSACTION_BODY_MAX: usize = 5;

pub struct Workload {
    keys: Vec<Vec<u8>>,
    tagged: Vec<Vec<u8>>,
    ttl_per_mille: u32,
    multi_key_per_mille: u32,
    multi_per_mille: u32,
    cross_shard: bool,
    /// Per client, the rest of a transaction already decided (WATCH .. MULTI .. EXEC).
    scripted: BTreeMap<usize, VecDeque<Vec<Vec<u8>>>>,
    /// Collection commands and the generator they are drawn with: a stream apart from the
    /// main one, so the string commands a seed draws are the same with or without them.
    collections: Option<(CollectionMix, ChaCha8Rng)>,
    /// The own-stream families (`config::OWN_STREAM_FAMILIES`): share per mille and stream.
    own_streams: Vec<(Family, u32, ChaCha8Rng)>,
    /// A queue run: the number of producers, and each client's count of elements pushed.
    queue: Option<(usize, BTreeMap<usize, u64>)>,
    /// The queue run is on streams (`stream_queue`), not lists.
    queue_streams: bool,
}

impl Workload {
    pub fn new(
        keys: usize,
        ttl_per_mille: u32,
        multi_key_per_mille: u32,
        multi_per_mille: u32,
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
            multi_per_mille,
            cross_shard,
            scripted: BTreeMap::new(),
            collections: None,
            own_streams: Vec::new(),
            queue: None,
            queue_streams: false,
        }
    }

    /// A queue run (`SimConfig::queue`): every command comes from `queue::command`.
    pub fn with_queue(mut self, producers: Option<usize>, streams: bool) -> Workload {
        self.queue = producers.map(|p| (p, BTreeMap::new()));
        self.queue_streams = streams;
        self
    }

    /// Mixes collection commands in as `mix` says, drawn from a stream seeded by `seed`.
    pub fn with_collections(mut self, mix: Option<CollectionMix>, seed: u64) -> Workload {
        let own = mix.iter().flat_map(|m| m.own_streams.iter().copied());
        self.own_streams = own
            .map(|(family, per_mille)| {
                let salt = crate::config::OWN_STREAM_FAMILIES
                    .iter()
                    .find(|(f, _)| *f == family)
                    .map_or(0, |(_, salt)| *salt);
                let rng = ChaCha8Rng::seed_from_u64(seed ^ salt ^ 0x6f77_6e5f_7374_7265);
                (family, per_mille, rng)
            })
            .collect();
        self.collections =
            mix.map(|mix| (mix, ChaCha8Rng::seed_from_u64(seed ^ 0x6d69_785f_636f_6c6c)));
        self
    }

    /// A collection command, when the collection stream says this one is: over the same keys
    /// as the rest (so types collide and WRONGTYPE is exercised).
    fn collection_command(&mut self) -> Option<Vec<Vec<u8>>> {
        let (mix, rng) = self.collections.as_mut()?;
        if mix.families.is_empty() {
            return None;
        }
        if rng.gen_range(0..1000) >= mix.per_mille {
            return None;
        }
        let family = *mix.families.choose(rng).expect("a mix names a family");
        let key = if rng.gen_ratio(1, 5) {
            self.tagged.choose(rng)
        } else {
            self.keys.choose(rng)
        }
        .expect("keys")
        .clone();
        Some(match family {
            Family::List
            | Family::Draws
            | Family::ZSet
            | Family::Bitmap
            | Family::Hll
            | Family::Stream => {
                unreachable!("drawn from their own streams")
            }
            Family::Hash => crate::mix_hash::hash_command(rng, key),
            Family::Set => {
                let pool = if self.cross_shard {
                    &self.keys
                } else {
                    &self.tagged
                };
                crate::mix_set::set_command(rng, key, pool)
            }
        })
    }

    /// Commands of an own-stream family, when its stream says this turn is one: a single
    /// command, or (when `whole_transactions`, outside a transaction) sometimes a MULTI script.
    fn own_stream_script(&mut self, whole_transactions: bool) -> Option<Vec<Vec<Vec<u8>>>> {
        let pool = if self.cross_shard {
            &self.keys
        } else {
            &self.tagged
        };
        for (family, per_mille, rng) in &mut self.own_streams {
            if rng.gen_range(0..1000) >= *per_mille {
                continue;
            }
            let key = pool.choose(rng).expect("keys").clone();
            return Some(match family {
                Family::List if whole_transactions && rng.gen_ratio(1, 10) => {
                    crate::mix_list::list_transaction(rng, key, pool)
                }
                Family::List => vec![crate::mix_list::list_command(rng, key, pool)],
                Family::Draws => vec![crate::mix_draws::draw_command(rng, key)],
                Family::ZSet => vec![crate::mix_zset::zset_command(rng, key, pool)],
                Family::Bitmap => vec![crate::mix_bits::bitmap_command(rng, key, pool)],
                Family::Hll => vec![crate::mix_bits::hll_command(rng, key, pool)],
                Family::Stream if whole_transactions && rng.gen_ratio(1, 2) => {
                    crate::mix_stream::stream_session(rng, key)
                }
                Family::Stream => vec![crate::mix_stream::stream_command(rng, key)],
                Family::Hash | Family::Set => unreachable!("drawn from the shared stream"),
            });
        }
        None
    }

    /// The next command `client` sends: the rest of its transaction if it is in one, else
    /// sometimes the start of a new one, else one command.
    pub fn next(&mut self, client: usize, rng: &mut ChaCha8Rng, wall_ms: u64) -> Vec<Vec<u8>> {
        if let Some((producers, pushed)) = &mut self.queue {
            let n = pushed.entry(client).or_default();
            let producer = client < *producers;
            if self.queue_streams {
                return crate::stream_queue::command(rng, client, producer, n);
            }
            return crate::queue::command(rng, client, producer, n);
        }
        if let Some(argv) = self.scripted.get_mut(&client).and_then(VecDeque::pop_front) {
            return argv;
        }
        // Own-stream families first: a seed without them draws nothing here.
        if let Some(script) = self.own_stream_script(true) {
            let mut script: VecDeque<Vec<Vec<u8>>> = script.into();
            let first = script.pop_front().expect("a script has commands");
            if !script.is_empty() {
                self.scripted.insert(client, script);
            }
            return first;
        }
        // Collection commands are extra commands from their own stream (see `collections`).
        if let Some(argv) = self.collection_command() {
            return argv;
        }
        // No draw at all when transactions are off, so such seeds replay as they always did.
        if self.multi_per_mille > 0 && rng.gen_range(0..1000) < self.multi_per_mille {
            let mut script = self.transaction(rng, wall_ms);
            let first = script.pop_front().expect("a transaction has commands");
            self.scripted.insert(client, script);
            return first;
        }
        self.command(rng, wall_ms)
    }

    /// WATCH (half the time, sometimes followed by a command or an UNWATCH), MULTI, a body
    /// over keys of every shard, then EXEC, or DISCARD now and then. A body sometimes holds a
    /// command the server must refuse while queueing, so that EXEC replies EXECABORT.
    /// Collection commands are extra: one may come before any body command, drawn from their
    /// own stream, so the rest of the script is what the main stream alone would make.
    fn transaction(&mut self, rng: &mut ChaCha8Rng, wall_ms: u64) -> VecDeque<Vec<Vec<u8>>> {
        let word = |w: &str| vec![w.as_bytes().to_vec()];
        let mut script = VecDeque::new();
        if rng.gen_ratio(1, 2) {
            let n = rng.gen_range(1..=2);
            let mut watch = word("WATCH");
            watch.extend((0..n).map(|_| self.key(rng)));
            script.push_back(watch);
            if rng.gen_ratio(1, 3) {
                script.push_back(self.command(rng, wall_ms));
            }
            if rng.gen_ratio(1, 10) {
                script.push_back(word("UNWATCH"));
            }
        }
        script.push_back(word("MULTI"));
        for _ in 0..rng.gen_range(1..=TRANSACTION_BODY_MAX) {
            // Extras, each from its own stream: an own-stream family's command beside (never
            // instead of) the shared collection stream's.
            let own = self.own_stream_script(false);
            if let Some(extra) = own.and_then(|s| s.into_iter().next()) {
                script.push_back(extra);
            }
            if let Some(extra) = self.collection_command() {
                script.push_back(extra);
            }
            let argv = match rng.gen_range(0..20) {
                0 => word("GET"),                                // wrong arity
                1 => vec![b"NOSUCHCMD".to_vec(), self.key(rng)], // unknown command
                _ => self.command(rng, wall_ms),
            };
            script.push_back(argv);
        }
        script.push_back(word(if rng.gen_ratio(1, 8) {
            "DISCARD"
        } else {
            "EXEC"
        }));
        script
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

    /// One command, as arguments.
    fn command(&self, rng: &mut ChaCha8Rng, wall_ms: u64) -> Vec<Vec<u8>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Each client's stream is whole transactions: WATCH and UNWATCH only outside MULTI, every
    /// MULTI closed by EXEC or DISCARD before the next one, bodies of 1 to 5 commands, however
    /// the clients' requests interleave.
    #[test]
    fn transactions_are_well_formed_per_client() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut workload = Workload::new(8, 100, 100, 500, true);
        let clients = 3;
        let mut body: Vec<Option<usize>> = vec![None; clients];
        let mut seen = [0usize; 2]; // EXEC, DISCARD
        for _ in 0..3_000 {
            let client = rng.gen_range(0..clients);
            let argv = workload.next(client, &mut rng, 1_000);
            let name = String::from_utf8_lossy(&argv[0]).to_ascii_uppercase();
            match (name.as_str(), body[client]) {
                ("MULTI", None) => body[client] = Some(0),
                ("EXEC" | "DISCARD", Some(n)) => {
                    assert!((1..=TRANSACTION_BODY_MAX).contains(&n), "body of {n}");
                    seen[usize::from(name == "DISCARD")] += 1;
                    body[client] = None;
                }
                ("WATCH" | "UNWATCH", None) => {}
                ("MULTI" | "EXEC" | "DISCARD" | "WATCH" | "UNWATCH", _) => {
                    panic!("client {client}: {name} out of place")
                }
                (_, Some(n)) => body[client] = Some(n + 1),
                (_, None) => {}
            }
        }
        assert!(
            seen[0] > 100 && seen[1] > 10,
            "EXEC/DISCARD counts {seen:?}"
        );
    }

    /// With transactions off, `next` draws exactly what it drew before they existed, so every
    /// seed's run (and each planted bug's budget) is unchanged.
    #[test]
    fn no_transactions_means_no_extra_draws() {
        let mut a = ChaCha8Rng::seed_from_u64(3);
        let mut b = a.clone();
        let mut workload = Workload::new(8, 100, 100, 0, true);
        for _ in 0..100 {
            let argv = workload.next(0, &mut a, 1_000);
            assert_eq!(argv, workload.command(&mut b, 1_000));
        }
    }

    /// Collection commands come from their own stream: taking them out of a mixed stream
    /// leaves exactly the commands the seed draws without them.
    #[test]
    fn collections_leave_the_other_commands_unchanged() {
        let mix = CollectionMix {
            per_mille: 400,
            families: vec![Family::Hash, Family::Set],
            own_streams: Vec::new(),
        };
        let mut plain = Workload::new(8, 100, 100, 300, true);
        let mut mixed = Workload::new(8, 100, 100, 300, true).with_collections(Some(mix), 9);
        let (mut a, mut b) = (ChaCha8Rng::seed_from_u64(5), ChaCha8Rng::seed_from_u64(5));
        let mut collection_commands = 0;
        for _ in 0..2_000 {
            let expected = plain.next(0, &mut a, 1_000);
            let got = loop {
                let argv = mixed.next(0, &mut b, 1_000);
                let name = String::from_utf8_lossy(&argv[0]).to_ascii_uppercase();
                let strings = ["SET", "SETNX", "STRLEN"];
                let collection = name.starts_with('H')
                    || (name.starts_with('S') && !strings.contains(&name.as_str()));
                if !collection {
                    break argv;
                }
                collection_commands += 1;
            };
            assert_eq!(got, expected);
        }
        assert!(
            collection_commands > 500,
            "{collection_commands} collection commands"
        );
    }

    /// Lists come from their own stream: taking list commands (and the list stream's MULTI
    /// scripts) out of a mixed stream leaves exactly what the seed draws without lists.
    #[test]
    fn lists_leave_the_other_commands_unchanged() {
        let mix = |own_streams| CollectionMix {
            per_mille: 300,
            families: vec![Family::Hash, Family::Set],
            own_streams,
        };
        // No main-stream transactions: every MULTI/EXEC seen comes from the list stream.
        let mut plain = Workload::new(8, 100, 100, 0, true).with_collections(Some(mix(vec![])), 9);
        let with_lists = mix(vec![(Family::List, 300)]);
        let mut mixed = Workload::new(8, 100, 100, 0, true).with_collections(Some(with_lists), 9);
        let (mut a, mut b) = (ChaCha8Rng::seed_from_u64(5), ChaCha8Rng::seed_from_u64(5));
        let (mut list_commands, mut transactions) = (0, 0);
        for _ in 0..2_000 {
            let expected = plain.next(0, &mut a, 1_000);
            let got = loop {
                let argv = mixed.next(0, &mut b, 1_000);
                let name = String::from_utf8_lossy(&argv[0]).to_ascii_uppercase();
                let list = name.starts_with('L') || name.starts_with("RP");
                transactions += usize::from(name == "MULTI");
                if !(list || name == "MULTI" || name == "EXEC") {
                    break argv;
                }
                list_commands += usize::from(list);
            };
            assert_eq!(got, expected);
        }
        assert!(list_commands > 500, "{list_commands} list commands");
        assert!(transactions > 10, "{transactions} list transactions");
    }

    /// Sorted sets come from their own stream too: every other command is unchanged.
    #[test]
    fn sorted_sets_leave_every_other_command_unchanged() {
        let mix = |own_streams| CollectionMix {
            per_mille: 400,
            families: vec![Family::Hash, Family::Set],
            own_streams,
        };
        let mut before =
            Workload::new(8, 100, 100, 300, true).with_collections(Some(mix(vec![])), 9);
        let with_zsets = mix(vec![(Family::ZSet, 300)]);
        let mut after = Workload::new(8, 100, 100, 300, true).with_collections(Some(with_zsets), 9);
        let (mut a, mut b) = (ChaCha8Rng::seed_from_u64(5), ChaCha8Rng::seed_from_u64(5));
        let mut zset_commands = 0;
        let mut unionstores = 0;
        for _ in 0..2_000 {
            let expected = before.next(0, &mut a, 1_000);
            let got = loop {
                let argv = after.next(0, &mut b, 1_000);
                if !argv[0].starts_with(b"Z") {
                    break argv;
                }
                zset_commands += 1;
                unionstores += usize::from(argv[0] == b"ZUNIONSTORE");
            };
            assert_eq!(got, expected);
        }
        assert!(zset_commands > 200, "{zset_commands} sorted-set commands");
        assert!(unionstores > 5, "{unionstores} ZUNIONSTOREs");
    }

    /// Bitmaps and HyperLogLogs come from streams of their own too: every other command is
    /// unchanged.
    #[test]
    fn bitmaps_and_hlls_leave_every_other_command_unchanged() {
        let mix = |own_streams| CollectionMix {
            per_mille: 400,
            families: vec![Family::Hash, Family::Set],
            own_streams,
        };
        let mut before =
            Workload::new(8, 100, 100, 300, true).with_collections(Some(mix(vec![])), 9);
        let with_bits = mix(vec![(Family::Bitmap, 200), (Family::Hll, 200)]);
        let mut after = Workload::new(8, 100, 100, 300, true).with_collections(Some(with_bits), 9);
        let (mut a, mut b) = (ChaCha8Rng::seed_from_u64(5), ChaCha8Rng::seed_from_u64(5));
        let ours = |name: &[u8]| {
            name.starts_with(b"BIT")
                || name.starts_with(b"PF")
                || name == b"SETBIT"
                || name == b"GETBIT"
                || name == b"SUBSTR"
        };
        let mut taken = 0;
        for _ in 0..2_000 {
            let expected = before.next(0, &mut a, 1_000);
            let got = loop {
                let argv = after.next(0, &mut b, 1_000);
                if !ours(&argv[0]) {
                    break argv;
                }
                taken += 1;
            };
            assert_eq!(got, expected);
        }
        assert!(taken > 400, "{taken} bitmap and HLL commands");
    }

    /// Streams come from their own stream too: every other command is unchanged. A session's
    /// opening DEL (one key, then XADD on it) is the stream family's, not the main stream's.
    #[test]
    fn streams_leave_every_other_command_unchanged() {
        let mix = |own_streams| CollectionMix {
            per_mille: 400,
            families: vec![Family::Hash, Family::Set],
            own_streams,
        };
        let mut before =
            Workload::new(8, 100, 100, 300, true).with_collections(Some(mix(vec![])), 9);
        let with_streams = mix(vec![(Family::Stream, 300)]);
        let mut after =
            Workload::new(8, 100, 100, 300, true).with_collections(Some(with_streams), 9);
        let (mut a, mut b) = (ChaCha8Rng::seed_from_u64(5), ChaCha8Rng::seed_from_u64(5));
        let mut pending: Option<Vec<Vec<u8>>> = None;
        let mut stream_commands = 0;
        let mut reads = 0;
        for _ in 0..2_000 {
            let expected = before.next(0, &mut a, 1_000);
            let got = loop {
                let argv = pending
                    .take()
                    .unwrap_or_else(|| after.next(0, &mut b, 1_000));
                if argv[0].starts_with(b"X") {
                    stream_commands += 1;
                    reads += usize::from(argv[0] == b"XREADGROUP");
                    continue;
                }
                if argv[0] == b"DEL" && argv.len() == 2 {
                    let following = after.next(0, &mut b, 1_000);
                    let session = following[0] == b"XADD" && following[1] == argv[1];
                    // Put the command back: the loop takes it next.
                    pending = Some(following);
                    if session {
                        continue;
                    }
                }
                break argv;
            };
            assert_eq!(got, expected);
        }
        assert!(stream_commands > 200, "{stream_commands} stream commands");
        assert!(reads > 50, "{reads} XREADGROUPs");
    }
}
