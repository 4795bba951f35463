//! Loading the append-only file at start (`--appendonly yes`), before the node serves anyone:
//! the manifest under `--dir`/appenddirname names a base (an RDB, or commands) and incremental
//! files of commands; they are replayed in order on a private node (`node::replay`), and the
//! keys it ends with are dealt to the threads like an RDB's. As Redis 7.0, with `appendonly
//! yes` and no manifest nothing is loaded (not even dump.rdb): the node starts empty and lays
//! out a new set of files.
//!
//! A last file cut short by a crash (a command half written, or a MULTI without its EXEC) is
//! truncated to its last whole command when `aof-load-truncated` is yes, as Redis does; in any
//! other file, or with it off, the start fails.

use std::path::Path;

use damselfly_core::config::Config;
use damselfly_core::node::aof::{files_to_load, parse_manifest};
use damselfly_core::node::replay::Replayer;

use crate::load::{Loaded, Preload};

/// Reads the append-only files under `dir` if there are any and deals their keys out to
/// `threads` threads.
pub fn load(
    dir: &Path,
    config: &Config,
    threads: u16,
    now_ms: u64,
    seed: u64,
) -> Result<(Preload, Loaded), String> {
    let aof_dir = dir.join(&config.appenddirname);
    let manifest_path = aof_dir.join(format!("{}.manifest", config.appendfilename));
    let manifest = match std::fs::read(&manifest_path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let empty = (0..threads).map(|_| Vec::new()).collect();
            return Ok((empty, Loaded::default()));
        }
        Err(err) => return Err(format!("cannot read {}: {err}", manifest_path.display())),
    };
    let files =
        parse_manifest(&manifest).map_err(|err| format!("{}: {err}", manifest_path.display()))?;
    let order = files_to_load(&files);
    let mut replayer = Replayer::new(config.clone(), seed);
    for (n, file) in order.iter().enumerate() {
        let path = aof_dir.join(&file.name);
        let last = n + 1 == order.len();
        if file.kind == b'b' && is_rdb(&path)? {
            // An RDB base keeps keys past their deadline: commands after it may touch them.
            let (keys, _) = crate::load::load(&path, config, 1, 0, seed)?;
            for (db, entry) in keys.into_iter().flatten() {
                replayer.insert(db, entry);
            }
            continue;
        }
        let bytes =
            std::fs::read(&path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
        let report = replayer
            .replay(&bytes)
            .map_err(|err| format!("{}: {err}", path.display()))?;
        if report.torn_bytes > 0 {
            if !(last && config.aof_load_truncated) {
                return Err(format!(
                    "{}: Bad file format reading the append only file (a command is cut short; \
                     aof-load-truncated is off or it is not the last file)",
                    path.display()
                ));
            }
            tracing::warn!(
                file = %path.display(),
                valid_bytes = report.valid_len,
                torn_bytes = report.torn_bytes,
                "!!! Warning: short read while loading the AOF file: truncating it to its last whole command !!!"
            );
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|err| format!("cannot truncate {}: {err}", path.display()))?;
            f.set_len(report.valid_len)
                .and_then(|()| f.sync_all())
                .map_err(|err| format!("cannot truncate {}: {err}", path.display()))?;
        }
    }
    let (preload, expired) = replayer.finish(threads, now_ms);
    let keys = preload.iter().map(|p| p.len() as u64).sum();
    Ok((
        preload,
        Loaded {
            keys,
            expired_skipped: expired,
        },
    ))
}

/// Whether the file starts as an RDB does (a base written with the RDB preamble).
fn is_rdb(path: &Path) -> Result<bool, String> {
    let mut magic = [0u8; 5];
    let mut f = std::fs::File::open(path)
        .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    let n = std::io::Read::read(&mut f, &mut magic).unwrap_or(0);
    Ok(n == 5 && &magic == b"REDIS")
}
