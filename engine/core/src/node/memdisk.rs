//! A disk in memory for the drivers that have none (the simulator, the engine's test cluster):
//! it carries out `Effect::Disk` operations and keeps, per file, what is durable (synced)
//! apart from what was only written, so that a crash can drop the unsynced part.

use std::collections::BTreeMap;

use crate::cx::{DiskOp, DiskOutcome, FileId, ThreadId};

#[derive(Debug, Default, Clone)]
pub struct MemDisk {
    files: BTreeMap<String, MemFile>,
    /// Open files: who opened them, under which name, and where they live.
    open: BTreeMap<(ThreadId, FileId), String>,
    /// Operations fail with this error while set (a full or broken disk).
    pub failing: Option<String>,
}

#[derive(Debug, Default, Clone)]
struct MemFile {
    /// Everything written, synced or not.
    data: Vec<u8>,
    /// How much of `data` an fsync made durable.
    synced: usize,
}

impl MemDisk {
    /// Runs `op` for `thread`'s `file`, as a driver's disk thread would.
    pub fn apply(
        &mut self,
        thread: ThreadId,
        file: FileId,
        op: DiskOp,
    ) -> Result<DiskOutcome, String> {
        if let Some(error) = &self.failing {
            if !matches!(op, DiskOp::Discard) {
                return Err(error.clone());
            }
        }
        let handle = (thread, file);
        match op {
            DiskOp::Create { path } => {
                self.files.insert(path.clone(), MemFile::default());
                self.open.insert(handle, path);
            }
            DiskOp::Append { bytes } => {
                let path = self.open.get(&handle).ok_or("append to a file not open")?;
                let f = self.files.get_mut(path).ok_or("file removed while open")?;
                f.data.extend_from_slice(&bytes);
            }
            DiskOp::Sync => {
                let path = self.open.get(&handle).ok_or("sync of a file not open")?;
                let f = self.files.get_mut(path).ok_or("file removed while open")?;
                f.synced = f.data.len();
            }
            DiskOp::CloseAndRename { to } => {
                let path = self
                    .open
                    .remove(&handle)
                    .ok_or("rename of a file not open")?;
                let f = self.files.remove(&path).ok_or("file removed while open")?;
                self.files.insert(to, f);
            }
            DiskOp::Discard => {
                if let Some(path) = self.open.remove(&handle) {
                    self.files.remove(&path);
                }
            }
            DiskOp::CreateDir { .. } => {}
            DiskOp::OpenAppend { path } => {
                self.files.entry(path.clone()).or_default();
                self.open.insert(handle, path);
            }
            DiskOp::ReadAll { path } => {
                return Ok(match self.files.get(&path) {
                    Some(f) => DiskOutcome::Read(f.data.clone()),
                    None => DiskOutcome::NotFound,
                });
            }
        }
        Ok(DiskOutcome::Done)
    }

    /// What `path` holds now (synced or not).
    pub fn contents(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(|f| f.data.as_slice())
    }

    /// Puts a whole file in place, durable (a dump to load).
    pub fn put(&mut self, path: &str, bytes: Vec<u8>) {
        let synced = bytes.len();
        self.files.insert(
            path.to_string(),
            MemFile {
                data: bytes,
                synced,
            },
        );
    }

    /// The machine crashes: open files close, and what no fsync made durable is lost.
    pub fn crash(&mut self) {
        self.open.clear();
        for f in self.files.values_mut() {
            f.data.truncate(f.synced);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crash_keeps_only_synced_bytes_and_a_rename_moves_the_file() {
        let (t, f) = (ThreadId(0), FileId(1));
        let mut disk = MemDisk::default();
        let ops = [
            DiskOp::Create {
                path: "temp".into(),
            },
            DiskOp::Append {
                bytes: b"abc".to_vec(),
            },
            DiskOp::Sync,
            DiskOp::Append {
                bytes: b"def".to_vec(),
            },
        ];
        for op in ops {
            assert_eq!(disk.apply(t, f, op), Ok(DiskOutcome::Done));
        }
        assert_eq!(disk.contents("temp"), Some(&b"abcdef"[..]));
        let rename = DiskOp::CloseAndRename {
            to: "dump.rdb".into(),
        };
        assert_eq!(disk.apply(t, f, rename), Ok(DiskOutcome::Done));
        assert_eq!(disk.contents("temp"), None);
        disk.crash();
        assert_eq!(disk.contents("dump.rdb"), Some(&b"abc"[..]));
        let read = DiskOp::ReadAll {
            path: "nope".into(),
        };
        assert_eq!(disk.apply(t, FileId(2), read), Ok(DiskOutcome::NotFound));
        disk.failing = Some("No space left on device".into());
        let create = DiskOp::Create { path: "x".into() };
        assert!(disk.apply(t, f, create).is_err());
    }
}
