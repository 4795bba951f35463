//! Loading the RDB file at start (`--dir`/`--dbfilename`), before the node serves anyone: the
//! file is read and parsed once here, each key goes to the thread whose shard owns it, and each
//! thread inserts its keys into its shard before its first step. A key already expired is
//! skipped, as a Redis master skips it. A corrupt file stops the start with the reader's error,
//! as Redis refuses to start on one.

use std::path::Path;

use damselfly_core::config::Config;
use damselfly_core::db::Entry;
use damselfly_core::node::shard_of;
use damselfly_core::rdb::{LoadCx, RdbReader, Record};

/// How much of the file is read at a time.
const READ_PIECE_BYTES: usize = 1 << 20;

/// Each thread's keys: (database, entry).
pub type Preload = Vec<Vec<(u16, Entry)>>;

/// What loading found, for the log and INFO.
#[derive(Debug, Default)]
pub struct Loaded {
    pub keys: u64,
    pub expired_skipped: u64,
}

/// Reads `path` if it exists and deals its keys out to `threads` threads.
pub fn load(
    path: &Path,
    config: &Config,
    threads: u16,
    now_ms: u64,
    seed: u64,
) -> Result<(Preload, Loaded), String> {
    let mut preload: Preload = (0..threads).map(|_| Vec::new()).collect();
    let mut loaded = Loaded::default();
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok((preload, loaded)),
        Err(err) => return Err(format!("cannot read {}: {err}", path.display())),
    };
    let cx = LoadCx {
        limits: config.collection_limits(),
        seed,
    };
    let mut reader = RdbReader::new();
    let mut db: u32 = 0;
    let bad =
        |err: damselfly_core::rdb::RdbError| format!("{}: bad RDB file: {err:?}", path.display());
    // Read in pieces, so the file is never held whole beside the data it becomes.
    let mut piece = vec![0u8; READ_PIECE_BYTES];
    let mut input_done = false;
    loop {
        let Some(record) = reader.next_record(&cx).map_err(bad)? else {
            if input_done {
                break;
            }
            let n = std::io::Read::read(&mut file, &mut piece)
                .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
            if n == 0 {
                reader.finish_input();
                input_done = true;
            } else {
                reader.push(&piece[..n]);
            }
            continue;
        };
        match record {
            Record::SelectDb(n) => {
                if n as usize >= config.databases {
                    return Err(format!(
                        "{}: the file has database {n}, beyond the {} configured (--dbnum)",
                        path.display(),
                        config.databases
                    ));
                }
                db = n;
            }
            Record::Entry {
                key,
                value,
                expire_at_ms,
                ..
            } => {
                if expire_at_ms.is_some_and(|at| at <= now_ms) {
                    loaded.expired_skipped += 1;
                    continue;
                }
                let owner = shard_of(&key, threads);
                let entry = Entry::new(&key, value, now_ms).with_expire_at_ms(expire_at_ms);
                preload[usize::from(owner.0)].push((db as u16, entry));
                loaded.keys += 1;
            }
            Record::Eof => break,
            _ => {}
        }
    }
    Ok((preload, loaded))
}
