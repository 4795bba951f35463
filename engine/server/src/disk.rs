//! The disk thread: carries out the engines' file operations (`Effect::Disk`) off the proactor
//! threads, one at a time in the order asked (so a thread's operations on one file keep their
//! order), and posts each outcome to the asking thread's mailbox as `Msg::DiskDone`.
//!
//! One thread is enough for what asks for it today (SAVE/BGSAVE write one file at a time, in
//! large appends); the engine decides nothing here, it only reads the outcome.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};

use damselfly_core::cx::{DiskOp, DiskOutcome, FileId, Msg, ThreadId};

use crate::mailbox::Signal;
use crate::worker::{Inbound, Shared};

/// One operation asked by one thread.
pub struct DiskRequest {
    pub thread: ThreadId,
    pub file: FileId,
    pub op: DiskOp,
}

/// What the disk thread is asked.
enum DiskWork {
    Op(DiskRequest),
    /// Everything asked before is done: fsync every open file, then answer.
    Finish(Sender<()>),
}

/// The sending side, shared by every proactor thread.
pub struct DiskQueue {
    tx: Mutex<Sender<DiskWork>>,
    rx: Mutex<Option<Receiver<DiskWork>>>,
}

impl Default for DiskQueue {
    fn default() -> DiskQueue {
        let (tx, rx) = channel();
        DiskQueue {
            tx: Mutex::new(tx),
            rx: Mutex::new(Some(rx)),
        }
    }
}

impl DiskQueue {
    pub fn push(&self, request: DiskRequest) {
        // The disk thread lives as long as the process: a send only fails while stopping.
        let sent = self
            .tx
            .lock()
            .expect("disk queue lock")
            .send(DiskWork::Op(request));
        drop(sent);
    }

    /// At shutdown, once the proactor threads stopped: waits (up to `patience`) until every
    /// operation asked is done and every open file is fsynced, so the append-only file keeps
    /// every write acknowledged before a clean stop, as Redis's shutdown fsyncs it.
    pub fn finish(&self, patience: std::time::Duration) -> bool {
        let (done_tx, done_rx) = channel();
        let sent = self
            .tx
            .lock()
            .expect("disk queue lock")
            .send(DiskWork::Finish(done_tx));
        sent.is_ok() && done_rx.recv_timeout(patience).is_ok()
    }
}

/// Starts the disk thread; it ends when the process does.
pub fn spawn(shared: Arc<Shared>) -> std::io::Result<()> {
    let rx = shared
        .disk
        .rx
        .lock()
        .expect("disk queue lock")
        .take()
        .expect("one disk thread");
    std::thread::Builder::new()
        .name("disk".into())
        .spawn(move || run(&rx, &shared))?;
    Ok(())
}

fn run(rx: &Receiver<DiskWork>, shared: &Shared) {
    let mut open: BTreeMap<(ThreadId, FileId), (File, PathBuf)> = BTreeMap::new();
    while let Ok(work) = rx.recv() {
        let DiskRequest { thread, file, op } = match work {
            DiskWork::Op(request) => request,
            DiskWork::Finish(done) => {
                for (f, path) in open.values() {
                    if let Err(err) = f.sync_all() {
                        tracing::warn!(file = %path.display(), %err, "fsync at shutdown failed");
                    }
                }
                done.send(()).ok();
                continue;
            }
        };
        let result = perform(&mut open, thread, file, op).map_err(|err| err.to_string());
        if let Err(err) = &result {
            tracing::warn!(thread = thread.0, %err, "disk operation failed");
        }
        let mailbox = &shared.mailboxes[usize::from(thread.0)];
        // Refused only when the thread has stopped: nobody is left to tell.
        if mailbox
            .push(Inbound::Msg(Msg::DiskDone { file, result }))
            .is_ok()
        {
            mailbox.signal().notify();
        }
    }
}

fn perform(
    open: &mut BTreeMap<(ThreadId, FileId), (File, PathBuf)>,
    thread: ThreadId,
    file: FileId,
    op: DiskOp,
) -> std::io::Result<DiskOutcome> {
    let handle = (thread, file);
    let not_open = || std::io::Error::other("the file is not open");
    match op {
        DiskOp::Create { path } => {
            let path = PathBuf::from(path);
            let f = File::create(&path)?;
            open.insert(handle, (f, path));
        }
        DiskOp::Append { bytes } => {
            open.get_mut(&handle)
                .ok_or_else(not_open)?
                .0
                .write_all(&bytes)?;
        }
        DiskOp::Sync => open.get_mut(&handle).ok_or_else(not_open)?.0.sync_all()?,
        DiskOp::CloseAndRename { to } => {
            let (f, path) = open.remove(&handle).ok_or_else(not_open)?;
            drop(f);
            std::fs::rename(&path, &to)?;
            // The rename is durable once its directory is synced (as Redis's fsyncFileDir).
            let dir = std::path::Path::new(&to)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            File::open(dir)?.sync_all()?;
        }
        DiskOp::Discard => {
            if let Some((f, path)) = open.remove(&handle) {
                drop(f);
                std::fs::remove_file(path)?;
            }
        }
        DiskOp::CreateDir { path } => std::fs::create_dir_all(path)?,
        DiskOp::OpenAppend { path } => {
            let path = PathBuf::from(path);
            let f = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(&path)?;
            open.insert(handle, (f, path));
        }
        DiskOp::ReadAll { path } => {
            return match std::fs::read(path) {
                Ok(bytes) => Ok(DiskOutcome::Read(bytes)),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(DiskOutcome::NotFound),
                Err(err) => Err(err),
            };
        }
    }
    Ok(DiskOutcome::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_write_sync_rename_and_discard_real_files() {
        let dir = std::env::temp_dir().join(format!("damselfly-disk-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let temp = dir.join("temp.rdb").to_string_lossy().into_owned();
        let dump = dir.join("dump.rdb").to_string_lossy().into_owned();
        let mut open = BTreeMap::new();
        let (t, f) = (ThreadId(0), FileId(7));
        let ops = [
            DiskOp::Create { path: temp.clone() },
            DiskOp::Append {
                bytes: b"REDIS".to_vec(),
            },
            DiskOp::Append {
                bytes: b"0010".to_vec(),
            },
            DiskOp::Sync,
            DiskOp::CloseAndRename { to: dump.clone() },
        ];
        for op in ops {
            assert_eq!(perform(&mut open, t, f, op).unwrap(), DiskOutcome::Done);
        }
        assert_eq!(std::fs::read(&dump).unwrap(), b"REDIS0010");
        assert!(!std::path::Path::new(&temp).exists());
        let read = perform(&mut open, t, f, DiskOp::ReadAll { path: dump.clone() }).unwrap();
        assert_eq!(read, DiskOutcome::Read(b"REDIS0010".to_vec()));
        let missing = DiskOp::ReadAll {
            path: dir.join("nope").to_string_lossy().into_owned(),
        };
        assert_eq!(
            perform(&mut open, t, f, missing).unwrap(),
            DiskOutcome::NotFound
        );
        perform(&mut open, t, f, DiskOp::Create { path: temp.clone() }).unwrap();
        perform(&mut open, t, f, DiskOp::Discard).unwrap();
        assert!(!std::path::Path::new(&temp).exists());
        assert!(perform(&mut open, t, f, DiskOp::Sync).is_err(), "closed");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
