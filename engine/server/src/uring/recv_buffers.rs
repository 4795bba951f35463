//! The receive buffers a ring's receives pick from: a registered buffer ring ("provided
//! buffers", kernel 5.19+).
//!
//! Why: a receive must name its buffer when it is armed, and a thread keeps one receive armed
//! on every connection that may send. A buffer per connection would cost its size for every
//! idle client (10k idle clients × 16 KiB = 160 MiB). With a buffer ring the kernel picks a
//! buffer only when data arrives, so memory follows the data in flight, not the clients: the
//! loop copies the bytes out at once and hands the buffer back before its next submit.
//!
//! Ownership: a buffer belongs to the kernel from `provide` until a completion names it (its id
//! in the CQE flags); then to us until the next `provide`. We read a buffer only in between.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::types::BufRingEntry;
use io_uring::IoUring;

/// The ring of entries must start on a page (the kernel maps it by address).
const RING_ALIGN_BYTES: usize = 4096;

pub struct RecvBuffers {
    /// `count` entries, page aligned; the kernel reads them, we write them.
    ring: NonNull<BufRingEntry>,
    ring_layout: Layout,
    /// `count` buffers of `buffer_bytes` each, back to back. A raw block, not a slice we
    /// borrow whole: the kernel writes some buffers while we read others.
    bytes: NonNull<u8>,
    bytes_layout: Layout,
    buffer_bytes: u32,
    count: u16,
    /// Entries we have published (wrapping); the kernel's head chases it.
    tail: u16,
    group: u16,
}

impl RecvBuffers {
    /// `count` (a power of two) buffers of `buffer_bytes`, all provided, for buffer group
    /// `group`; call `register` before arming a receive that picks from it.
    pub fn new(count: u16, buffer_bytes: u32, group: u16) -> RecvBuffers {
        assert!(count.is_power_of_two(), "a buffer ring has 2^n entries");
        let entry_bytes = std::mem::size_of::<BufRingEntry>();
        let ring_layout =
            Layout::from_size_align(entry_bytes * usize::from(count), RING_ALIGN_BYTES)
                .expect("buffer ring layout");
        // SAFETY: the layout has a non-zero size (count >= 1); zeroed entries are valid.
        let ring = unsafe { alloc_zeroed(ring_layout) }.cast::<BufRingEntry>();
        let Some(ring) = NonNull::new(ring) else {
            std::alloc::handle_alloc_error(ring_layout);
        };
        assert!(buffer_bytes > 0, "empty receive buffers");
        let total_bytes = usize::from(count) * buffer_bytes as usize;
        let bytes_layout = Layout::from_size_align(total_bytes, 64).expect("buffers layout");
        // SAFETY: non-zero size (count >= 1, buffer_bytes > 0).
        let bytes = unsafe { alloc_zeroed(bytes_layout) };
        let Some(bytes) = NonNull::new(bytes) else {
            std::alloc::handle_alloc_error(bytes_layout);
        };
        let mut buffers = RecvBuffers {
            ring,
            ring_layout,
            bytes,
            bytes_layout,
            buffer_bytes,
            count,
            tail: 0,
            group,
        };
        for id in 0..count {
            buffers.provide(id);
        }
        buffers
    }

    pub fn group(&self) -> u16 {
        self.group
    }

    #[cfg(test)]
    pub fn buffer_bytes(&self) -> u32 {
        self.buffer_bytes
    }

    /// Registers the ring with `ring` under our group id.
    ///
    /// The caller keeps `self` alive until the group is unregistered or `ring` is dropped with
    /// no receive in flight (uring/mod.rs drains every operation before either; if it cannot,
    /// it leaks the buffers instead of freeing them).
    pub fn register(&self, ring: &IoUring) -> std::io::Result<()> {
        // SAFETY: `self.ring` points to `count` entries that stay allocated (and never move:
        // they are a separate heap block) for as long as `self` lives, which the caller keeps
        // beyond the registration (see above).
        unsafe {
            ring.submitter().register_buf_ring_with_flags(
                self.ring.as_ptr() as u64,
                self.count,
                self.group,
                0,
            )
        }
    }

    /// Hands buffer `id` (back) to the kernel.
    pub fn provide(&mut self, id: u16) {
        assert!(id < self.count, "buffer id {id} out of {}", self.count);
        let mask = self.count - 1;
        let addr = self.buffer_ptr(id) as u64;
        // SAFETY: `tail & mask` < count, so the entry is inside the ring allocation. The kernel
        // reads only entries between its head and the published tail, and this one is past
        // the tail until the store below publishes it, so nobody reads it while we write.
        let entry = unsafe { &mut *self.ring.as_ptr().add(usize::from(self.tail & mask)) };
        entry.set_addr(addr);
        entry.set_len(self.buffer_bytes);
        entry.set_bid(id);
        self.tail = self.tail.wrapping_add(1);
        // SAFETY: the tail field lives in the first entry (ring memory, 2-byte aligned), which
        // is valid for our whole life; the kernel reads it with acquire, so a release store
        // makes the entry written above visible before the new tail.
        let tail = unsafe { &*BufRingEntry::tail(self.ring.as_ptr()).cast::<AtomicU16>() };
        tail.store(self.tail, Ordering::Release);
    }

    /// The first `len_bytes` of buffer `id`, which a completion just handed us.
    pub fn filled(&self, id: u16, len_bytes: usize) -> &[u8] {
        assert!(id < self.count, "buffer id {id} out of {}", self.count);
        assert!(
            len_bytes <= self.buffer_bytes as usize,
            "completion longer than its buffer"
        );
        // SAFETY: buffer `id` lies inside the block; a completion named it, so the kernel is
        // done writing it and will not touch it again until we `provide` it, which needs
        // `&mut self` and so ends this borrow first.
        unsafe { std::slice::from_raw_parts(self.buffer_ptr(id), len_bytes) }
    }

    fn buffer_ptr(&self, id: u16) -> *mut u8 {
        let offset = usize::from(id) * self.buffer_bytes as usize;
        // SAFETY: id < count, so the offset is inside the block of count × buffer_bytes.
        unsafe { self.bytes.as_ptr().add(offset) }
    }
}

impl Drop for RecvBuffers {
    fn drop(&mut self) {
        // SAFETY: both allocated in `new` with these very layouts, freed once.
        unsafe {
            dealloc(self.ring.as_ptr().cast(), self.ring_layout);
            dealloc(self.bytes.as_ptr(), self.bytes_layout);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    use io_uring::{cqueue, opcode, squeue, types, IoUring};

    use super::RecvBuffers;

    const GROUP: u16 = 7;

    /// Arms one receive that picks from the group and waits for its completion.
    fn recv_once(ring: &mut IoUring, fd: i32, buffers: &RecvBuffers) -> cqueue::Entry {
        let recv = opcode::Recv::new(types::Fd(fd), std::ptr::null_mut(), buffers.buffer_bytes())
            .buf_group(buffers.group())
            .build()
            .flags(squeue::Flags::BUFFER_SELECT)
            .user_data(1);
        // SAFETY: the receive names no memory of its own; the buffers it picks from are
        // registered and outlive the ring (dropped after it, by declaration order in the test).
        unsafe { ring.submission().push(&recv) }.expect("queue has room");
        ring.submit_and_wait(1).expect("submit");
        ring.completion().next().expect("a completion")
    }

    /// More messages than buffers: every buffer is handed back and picked again, the tail
    /// wraps the ring, and each completion's bytes are exactly what was sent.
    #[test]
    fn buffers_come_back_and_are_picked_again() {
        let mut ring = IoUring::new(8).unwrap();
        let mut buffers = RecvBuffers::new(4, 64, GROUP);
        buffers.register(&ring).unwrap();
        let (ours, mut peer) = UnixStream::pair().unwrap();
        let mut seen_ids = Vec::new();
        for i in 0..11u32 {
            let msg = format!("message {i}");
            peer.write_all(msg.as_bytes()).unwrap();
            let cqe = recv_once(&mut ring, ours.as_raw_fd(), &buffers);
            let len = usize::try_from(cqe.result()).expect("a receive, not an error");
            let id = cqueue::buffer_select(cqe.flags()).expect("a picked buffer");
            assert_eq!(buffers.filled(id, len), msg.as_bytes());
            seen_ids.push(id);
            buffers.provide(id);
        }
        seen_ids.sort_unstable();
        seen_ids.dedup();
        assert_eq!(seen_ids, [0, 1, 2, 3], "every buffer served in turn");
        ring.submitter().unregister_buf_ring(GROUP).unwrap();
    }

    /// With every buffer out, a receive fails with ENOBUFS rather than writing anywhere; one
    /// buffer handed back serves the next receive.
    #[test]
    fn no_buffer_left_fails_the_receive() {
        let mut ring = IoUring::new(8).unwrap();
        let mut buffers = RecvBuffers::new(2, 16, GROUP);
        buffers.register(&ring).unwrap();
        let (ours, mut peer) = UnixStream::pair().unwrap();
        let mut taken = Vec::new();
        for _ in 0..2 {
            peer.write_all(b"x").unwrap();
            let cqe = recv_once(&mut ring, ours.as_raw_fd(), &buffers);
            taken.push(cqueue::buffer_select(cqe.flags()).unwrap());
        }
        peer.write_all(b"y").unwrap();
        let cqe = recv_once(&mut ring, ours.as_raw_fd(), &buffers);
        assert_eq!(cqe.result(), -libc::ENOBUFS);
        buffers.provide(taken[0]);
        let cqe = recv_once(&mut ring, ours.as_raw_fd(), &buffers);
        assert_eq!(cqe.result(), 1);
        assert_eq!(cqueue::buffer_select(cqe.flags()), Some(taken[0]));
        assert_eq!(buffers.filled(taken[0], 1), b"y");
    }

    /// One multishot receive serves every message (each completion flagged MORE, each in a
    /// buffer of its own) until the ring runs dry: then it ends with ENOBUFS and no MORE.
    #[test]
    fn a_multishot_receive_serves_until_the_buffers_run_out() {
        let mut ring = IoUring::new(8).unwrap();
        let buffers = RecvBuffers::new(2, 16, GROUP);
        buffers.register(&ring).unwrap();
        let (ours, mut peer) = UnixStream::pair().unwrap();
        let recv = opcode::RecvMulti::new(types::Fd(ours.as_raw_fd()), GROUP)
            .build()
            .user_data(1);
        // SAFETY: as in `recv_once`; the receive ends (ENOBUFS, asserted below) before the
        // buffers are dropped.
        unsafe { ring.submission().push(&recv) }.expect("queue has room");
        ring.submit().unwrap();
        let mut taken = Vec::new();
        for msg in [&b"one"[..], b"two"] {
            peer.write_all(msg).unwrap();
            ring.submit_and_wait(1).unwrap();
            let cqe = ring.completion().next().expect("a completion");
            assert!(cqueue::more(cqe.flags()), "still armed");
            let id = cqueue::buffer_select(cqe.flags()).expect("a picked buffer");
            let len = usize::try_from(cqe.result()).expect("a receive, not an error");
            assert_eq!(buffers.filled(id, len), msg);
            taken.push(id);
        }
        assert_ne!(taken[0], taken[1]);
        peer.write_all(b"three").unwrap();
        ring.submit_and_wait(1).unwrap();
        let cqe = ring.completion().next().expect("a completion");
        assert_eq!(cqe.result(), -libc::ENOBUFS);
        assert!(!cqueue::more(cqe.flags()), "a dry ring ends the receive");
        ring.submitter().unregister_buf_ring(GROUP).unwrap();
    }
}
