//! One key's entry: a single thin pointer (8 bytes in the table's slot) to one allocation that
//! holds a small header, the deadline if any, the key and, where that pays, the value.
//!
//! ```text
//!  slot: [ptr]──►┌flags┬lru (24 bits)┬key len┬value len┬[deadline u64]┬key…┬value…────┐
//!                │ 1 B │     3 B     │ 1 | 4 │  1 | 4  │  only if TTL │    │ inline   │
//!                └─────┴─────────────┴───────┴─────────┴──────────────┴────┴──────────┘
//!  (a key written through the Memcached port also holds its client flags and CAS, 13 bytes
//!  between the deadline and the key: `MemcacheMeta`)
//!  value: inline bytes | i64 (an "int" string) | external: ptr, len, cap of its own buffer
//!         | object: ptr to a boxed `Collection` (hash, set…)
//! ```
//!
//! Why this shape (papers/dash.md has the figures): a Dash segment splits all at once, so at
//! some key counts most slots are empty, and every slot byte is paid about twice; one pointer is
//! the least a slot can hold. Key and value then share one allocation whose class (size_class.rs)
//! is usually no larger than the key's alone would be: "key:123456" with a 16-byte value is 32
//! bytes, one class-32 block. A value stays in a buffer of its own when that costs fewer bytes
//! in all (a 1 KiB value: the 1024 class plus a 32-byte block, where one block would take the
//! 1280 class), and after APPEND or SETRANGE past `EDIT_INLINE_MAX_BYTES`, so appends grow in
//! amortised time.
//!
//! Lengths are one byte each unless the key, an inline value or an external capacity needs
//! more ("wide" blocks, four bytes each). The LRU clock is Redis's: unix seconds modulo 2^24,
//! so OBJECT IDLETIME wraps as Redis's does (after 194 days) and costs 3 bytes, not 8.
//!
//! Every block is allocated with exactly `Shape::block_len` bytes, and the shape is read back
//! from the block's own first bytes; the `unsafe` here is confined to allocating, viewing and
//! freeing blocks and to owning the external buffer (a `Vec<u8>` taken apart and put back).

use std::alloc::{self, Layout};
use std::mem::ManuallyDrop;
use std::ptr::NonNull;

use super::size_class::class_bytes;
use super::{Collection, StrRef, StrValue, Value, ValueRef};

const KIND_INLINE: u8 = 0;
const KIND_INT: u8 = 1;
const KIND_EXTERNAL: u8 = 2;
/// A collection: the value slot holds a `Box<Collection>`'s pointer.
const KIND_OBJECT: u8 = 3;
const KIND_MASK: u8 = 0b11;
/// OBJECT ENCODING says "raw" rather than "embstr" (a logical mark, not the storage).
const FLAG_RAW: u8 = 1 << 2;
const FLAG_TTL: u8 = 1 << 3;
/// Lengths (and the external length and capacity) take four bytes each instead of one.
const FLAG_WIDE: u8 = 1 << 4;
/// The block holds a `MemcacheMeta` after the deadline.
const FLAG_MEMCACHE: u8 = 1 << 5;

const LRU_AT: usize = 1;
const LRU_BYTES: usize = 3;
const LENGTHS_AT: usize = LRU_AT + LRU_BYTES;
/// Flags, LRU clock, key length and value length, one byte each for the lengths.
const NARROW_PREFIX_BYTES: usize = LENGTHS_AT + 2;
const WIDE_PREFIX_BYTES: usize = LENGTHS_AT + 8;
const TTL_BYTES: usize = 8;
/// `MemcacheMeta`: the client flags (u32), the CAS unique (u64), the meta protocol's state.
const MEMCACHE_META_BYTES: usize = 13;
const INT_BYTES: usize = 8;
const POINTER_BYTES: usize = 8;
/// Redis's LRU_CLOCK_MAX: the clock is 24 bits of unix seconds.
pub const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;
/// Redis's LRU_CLOCK_RESOLUTION.
pub const LRU_CLOCK_RESOLUTION_MS: u64 = 1000;
/// An edited (APPEND, SETRANGE) value longer than this lives in its own growable buffer.
pub const EDIT_INLINE_MAX_BYTES: usize = 64;
/// A narrow block's lengths fit one byte.
const NARROW_LEN_MAX: usize = u8::MAX as usize;

const _: () = assert!(LRU_CLOCK_MAX as u64 >> (8 * LRU_BYTES) == 0);
const _: () = assert!(EDIT_INLINE_MAX_BYTES <= NARROW_LEN_MAX);

/// Redis's LRU clock reading at `now_ms`.
pub fn lru_clock(now_ms: u64) -> u32 {
    ((now_ms / LRU_CLOCK_RESOLUTION_MS) & u64::from(LRU_CLOCK_MAX)) as u32
}

/// How a block's bytes are laid out; decoded from (and encoded into) its prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Shape {
    flags: u8,
    key_len: usize,
    /// Inline value bytes (0 for the other kinds).
    inline_len: usize,
}

impl Shape {
    fn kind(self) -> u8 {
        self.flags & KIND_MASK
    }

    fn wide(self) -> bool {
        self.flags & FLAG_WIDE != 0
    }

    fn has_ttl(self) -> bool {
        self.flags & FLAG_TTL != 0
    }

    fn prefix_len(self) -> usize {
        if self.wide() {
            WIDE_PREFIX_BYTES
        } else {
            NARROW_PREFIX_BYTES
        }
    }

    fn has_memcache(self) -> bool {
        self.flags & FLAG_MEMCACHE != 0
    }

    fn memcache_at(self) -> usize {
        self.prefix_len() + if self.has_ttl() { TTL_BYTES } else { 0 }
    }

    fn key_at(self) -> usize {
        self.memcache_at()
            + if self.has_memcache() {
                MEMCACHE_META_BYTES
            } else {
                0
            }
    }

    fn value_at(self) -> usize {
        self.key_at() + self.key_len
    }

    fn external_len(self) -> usize {
        POINTER_BYTES + if self.wide() { 16 } else { 8 }
    }

    fn value_len_in_block(self) -> usize {
        match self.kind() {
            KIND_INT => INT_BYTES,
            KIND_EXTERNAL => self.external_len(),
            KIND_OBJECT => POINTER_BYTES,
            _ => self.inline_len,
        }
    }

    fn block_len(self) -> usize {
        self.value_at() + self.value_len_in_block()
    }

    fn layout(self) -> Layout {
        Layout::from_size_align(self.block_len(), 1).expect("entry blocks are far below isize::MAX")
    }

    /// Reads the shape from a block's prefix (`bytes` is at least the prefix).
    fn decode(bytes: &[u8]) -> Shape {
        let flags = bytes[0];
        let (key_len, inline_len) = if flags & FLAG_WIDE != 0 {
            (read_u32(bytes, LENGTHS_AT), read_u32(bytes, LENGTHS_AT + 4))
        } else {
            (
                usize::from(bytes[LENGTHS_AT]),
                usize::from(bytes[LENGTHS_AT + 1]),
            )
        };
        Shape {
            flags,
            key_len,
            inline_len,
        }
    }

    fn encode(self, out: &mut [u8]) {
        out[0] = self.flags;
        if self.wide() {
            write_u32(out, LENGTHS_AT, self.key_len);
            write_u32(out, LENGTHS_AT + 4, self.inline_len);
        } else {
            out[LENGTHS_AT] = self.key_len as u8;
            out[LENGTHS_AT + 1] = self.inline_len as u8;
        }
    }
}

fn read_u32(bytes: &[u8], at: usize) -> usize {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("four bytes")) as usize
}

fn write_u32(out: &mut [u8], at: usize, n: usize) {
    let n = u32::try_from(n).expect("wide lengths fit u32");
    out[at..at + 4].copy_from_slice(&n.to_le_bytes());
}

fn read_u64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("eight bytes"))
}

/// A value's storage, on its way into a block.
enum Payload<'a> {
    Inline(&'a [u8]),
    /// Bytes to copy into the block (the Vec is freed once copied).
    InlineOwned(Vec<u8>),
    Int(i64),
    External(Vec<u8>),
    Object(Box<Collection>),
}

/// An external buffer as a block records it: the parts of a `Vec<u8>` the block owns.
#[derive(Clone, Copy, Debug)]
struct ExternalParts {
    ptr: *mut u8,
    len: usize,
    cap: usize,
}

impl ExternalParts {
    fn of(vec: Vec<u8>) -> ExternalParts {
        let mut vec = ManuallyDrop::new(vec);
        ExternalParts {
            ptr: vec.as_mut_ptr(),
            len: vec.len(),
            cap: vec.capacity(),
        }
    }

    /// The empty buffer a block points at while its real one is lent out.
    fn empty() -> ExternalParts {
        ExternalParts::of(Vec::new())
    }

    /// SAFETY (for callers): the parts must come from `ExternalParts::of`, and the caller must
    /// be their only owner from now on (the block no longer frees them).
    unsafe fn into_vec(self) -> Vec<u8> {
        // SAFETY: the parts are those of a Vec<u8> taken apart by `of` (same allocator, pointer,
        // length and capacity), and per this function's contract nothing else will free them.
        unsafe { Vec::from_raw_parts(self.ptr, self.len, self.cap) }
    }
}

/// A key and its value, deadline and LRU clock in one allocation (see the module doc).
pub struct Entry {
    block: NonNull<u8>,
}

// SAFETY: an Entry owns its block and external buffer exclusively, as a Box<[u8]> and a Vec<u8>
// would; nothing else points into them, so moving one to another thread is sound.
unsafe impl Send for Entry {}
// SAFETY: `&Entry` only reads the block; all mutation needs `&mut Entry`.
unsafe impl Sync for Entry {}

impl Entry {
    /// An entry without a deadline, accessed at `now_ms`.
    pub fn new(key: &[u8], value: Value, now_ms: u64) -> Entry {
        let (raw, payload) = match value {
            Value::Str(value) => (
                value.is_raw(),
                owned_payload(key.len(), false, value, false),
            ),
            Value::Coll(object) => (false, Payload::Object(object)),
        };
        Entry::build(key, None, None, lru_clock(now_ms), raw, payload)
    }

    /// The entry SET writes: `value` encoded as Redis's SET encodes it (an int when it is a
    /// canonical i64 of at most 20 characters, else embstr or raw by length), copied straight
    /// into the block when it goes inline (no intermediate buffer).
    pub fn from_set_bytes(
        key: &[u8],
        value: &[u8],
        expire_at_ms: Option<u64>,
        now_ms: u64,
    ) -> Entry {
        Entry::string_with_meta(key, value, expire_at_ms, None, now_ms)
    }

    /// The entry a Memcached store writes: `from_set_bytes` plus the item's flags and CAS.
    pub fn from_memcache_bytes(
        key: &[u8],
        value: &[u8],
        expire_at_ms: Option<u64>,
        meta: MemcacheMeta,
        now_ms: u64,
    ) -> Entry {
        Entry::string_with_meta(key, value, expire_at_ms, Some(meta), now_ms)
    }

    fn string_with_meta(
        key: &[u8],
        value: &[u8],
        expire_at_ms: Option<u64>,
        meta: Option<MemcacheMeta>,
        now_ms: u64,
    ) -> Entry {
        let lru = lru_clock(now_ms);
        if value.len() <= super::INT_TEXT_LEN_MAX_BYTES {
            if let Some(n) = crate::numfmt::parse_i64(value) {
                return Entry::build(key, expire_at_ms, meta, lru, false, Payload::Int(n));
            }
        }
        let raw = value.len() > super::EMBSTR_LEN_MAX_BYTES;
        let has_ttl = expire_at_ms.is_some();
        let payload = if inline_pays(key.len(), has_ttl, value.len(), value.len()) {
            Payload::Inline(value)
        } else {
            Payload::External(value.to_vec())
        };
        Entry::build(key, expire_at_ms, meta, lru, raw, payload)
    }

    /// The same entry with deadline `expire_at_ms`.
    pub fn with_expire_at_ms(mut self, expire_at_ms: Option<u64>) -> Entry {
        self.set_expire_at_ms(expire_at_ms);
        self
    }

    fn build(
        key: &[u8],
        ttl: Option<u64>,
        memcache: Option<MemcacheMeta>,
        lru: u32,
        raw: bool,
        payload: Payload,
    ) -> Entry {
        let (kind, inline_len, cap) = match &payload {
            Payload::Inline(bytes) => (KIND_INLINE, bytes.len(), 0),
            Payload::InlineOwned(bytes) => (KIND_INLINE, bytes.len(), 0),
            Payload::Int(_) => (KIND_INT, 0, 0),
            Payload::External(vec) => (KIND_EXTERNAL, 0, vec.capacity()),
            Payload::Object(_) => (KIND_OBJECT, 0, 0),
        };
        let wide =
            key.len() > NARROW_LEN_MAX || inline_len > NARROW_LEN_MAX || cap > u32::MAX as usize;
        let mut flags = kind;
        if raw {
            flags |= FLAG_RAW;
        }
        if ttl.is_some() {
            flags |= FLAG_TTL;
        }
        if wide {
            flags |= FLAG_WIDE;
        }
        if memcache.is_some() {
            flags |= FLAG_MEMCACHE;
        }
        let shape = Shape {
            flags,
            key_len: key.len(),
            inline_len,
        };
        let layout = shape.layout();
        // SAFETY: the layout's size is at least the prefix, never zero.
        let ptr = unsafe { alloc::alloc(layout) };
        let Some(block) = NonNull::new(ptr) else {
            alloc::handle_alloc_error(layout)
        };
        // SAFETY: `block` is a fresh allocation of `layout.size()` bytes, zeroed here before it
        // is viewed as a slice; nothing else refers to it.
        let out = unsafe {
            std::ptr::write_bytes(block.as_ptr(), 0, layout.size());
            std::slice::from_raw_parts_mut(block.as_ptr(), layout.size())
        };
        shape.encode(out);
        out[LRU_AT..LRU_AT + LRU_BYTES].copy_from_slice(&lru.to_le_bytes()[..LRU_BYTES]);
        if let Some(at_ms) = ttl {
            let at = shape.prefix_len();
            out[at..at + TTL_BYTES].copy_from_slice(&at_ms.to_le_bytes());
        }
        if let Some(meta) = memcache {
            meta.write(&mut out[shape.memcache_at()..shape.key_at()]);
        }
        out[shape.key_at()..shape.value_at()].copy_from_slice(key);
        let value_at = shape.value_at();
        match payload {
            Payload::Inline(bytes) => out[value_at..].copy_from_slice(bytes),
            Payload::InlineOwned(bytes) => out[value_at..].copy_from_slice(&bytes),
            Payload::Int(n) => out[value_at..].copy_from_slice(&n.to_le_bytes()),
            Payload::External(vec) => write_external(out, shape, ExternalParts::of(vec)),
            Payload::Object(object) => {
                let ptr = Box::into_raw(object) as usize as u64;
                out[value_at..].copy_from_slice(&ptr.to_le_bytes());
            }
        }
        Entry { block }
    }

    fn shape(&self) -> Shape {
        let first = self.block.as_ptr();
        // SAFETY: every block starts with its flags byte and a whole prefix of the width the
        // flags name (`build` allocates at least the prefix and encodes it first).
        let prefix = unsafe {
            let len = if *first & FLAG_WIDE != 0 {
                WIDE_PREFIX_BYTES
            } else {
                NARROW_PREFIX_BYTES
            };
            std::slice::from_raw_parts(first, len)
        };
        Shape::decode(prefix)
    }

    /// The whole block.
    fn bytes(&self) -> &[u8] {
        self.bytes_of(self.shape())
    }

    /// `bytes` for a caller that already decoded the shape (the prefix is read once per
    /// lookup, not once per field: GET reads the key, the deadline and the value).
    fn bytes_of(&self, shape: Shape) -> &[u8] {
        // SAFETY: the block was allocated with exactly the length its shape gives, initialised
        // in `build`, and its shape never changes in place (only through a new block).
        unsafe { std::slice::from_raw_parts(self.block.as_ptr(), shape.block_len()) }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        let len = self.shape().block_len();
        // SAFETY: as in `bytes`; `&mut self` makes this the only view of the block.
        unsafe { std::slice::from_raw_parts_mut(self.block.as_ptr(), len) }
    }

    pub fn key(&self) -> &[u8] {
        let shape = self.shape();
        &self.bytes_of(shape)[shape.key_at()..shape.value_at()]
    }

    pub fn expire_at_ms(&self) -> Option<u64> {
        let shape = self.shape();
        shape
            .has_ttl()
            .then(|| read_u64(self.bytes_of(shape), shape.prefix_len()))
    }

    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at_ms().is_some_and(|at| at <= now_ms)
    }

    /// The Memcached flags and CAS of a key the Memcached port wrote; `None` for any other
    /// (written through RESP, or changed through RESP since).
    pub fn memcache(&self) -> Option<MemcacheMeta> {
        let shape = self.shape();
        shape
            .has_memcache()
            .then(|| MemcacheMeta::read(&self.bytes_of(shape)[shape.memcache_at()..shape.key_at()]))
    }

    /// Replaces the Memcached section of an entry that has one, in place (same length);
    /// false when it has none.
    pub fn set_memcache_in_place(&mut self, meta: MemcacheMeta) -> bool {
        let shape = self.shape();
        if !shape.has_memcache() {
            return false;
        }
        let (at, end) = (shape.memcache_at(), shape.key_at());
        meta.write(&mut self.bytes_mut()[at..end]);
        true
    }

    /// The same entry holding `meta` (a new block: the section changes the block's length).
    pub fn with_memcache(mut self, meta: Option<MemcacheMeta>) -> Entry {
        let shape = self.shape();
        let raw = shape.flags & FLAG_RAW != 0;
        let ttl = self.expire_at_ms();
        self.rebuild_with(ttl, meta, raw, NewValue::Keep);
        self
    }

    /// The LRU clock (unix seconds modulo 2^24) of the last access.
    pub fn lru(&self) -> u32 {
        let b = &self.bytes()[LRU_AT..LRU_AT + LRU_BYTES];
        u32::from_le_bytes([b[0], b[1], b[2], 0])
    }

    /// Records an access at `now_ms`.
    pub fn touch(&mut self, now_ms: u64) {
        let clock = lru_clock(now_ms).to_le_bytes();
        self.bytes_mut()[LRU_AT..LRU_AT + LRU_BYTES].copy_from_slice(&clock[..LRU_BYTES]);
    }

    /// Whole seconds since the last access, as Redis's estimateObjectIdleTime counts them
    /// (wrapping once around the 24-bit clock).
    pub fn idle_s(&self, now_ms: u64) -> u64 {
        let (now, then) = (lru_clock(now_ms), self.lru());
        let ticks = if now >= then {
            now - then
        } else {
            LRU_CLOCK_MAX - then + now
        };
        u64::from(ticks) * LRU_CLOCK_RESOLUTION_MS / 1000
    }

    fn external(&self) -> Option<ExternalParts> {
        let shape = self.shape();
        (shape.kind() == KIND_EXTERNAL).then(|| self.external_of(shape))
    }

    /// The external buffer's parts; `shape` is this entry's, of kind external.
    fn external_of(&self, shape: Shape) -> ExternalParts {
        let bytes = self.bytes_of(shape);
        let at = shape.value_at();
        let ptr = read_u64(bytes, at) as usize as *mut u8;
        let (len, cap) = if shape.wide() {
            (
                read_u64(bytes, at + 8) as usize,
                read_u64(bytes, at + 16) as usize,
            )
        } else {
            (read_u32(bytes, at + 8), read_u32(bytes, at + 12))
        };
        ExternalParts { ptr, len, cap }
    }

    pub fn value(&self) -> ValueRef<'_> {
        let shape = self.shape();
        let raw = shape.flags & FLAG_RAW != 0;
        let at = shape.value_at();
        let str_ref = match shape.kind() {
            KIND_OBJECT => {
                // SAFETY: an object block owns the box its pointer came from (`build`); the
                // reference lives no longer than `&self`, and the box changes only through
                // `&mut self`.
                return ValueRef::Coll(unsafe { &*self.object_ptr(shape) });
            }
            KIND_INT => StrRef::Int(read_u64(self.bytes_of(shape), at) as i64),
            KIND_EXTERNAL => {
                let parts = self.external_of(shape);
                // SAFETY: the block owns this buffer (parts of a live Vec<u8>); the slice lives
                // no longer than `&self`, and the buffer changes only through `&mut self`.
                let bytes = unsafe { std::slice::from_raw_parts(parts.ptr, parts.len) };
                StrRef::Bytes { bytes, raw }
            }
            _ => StrRef::Bytes {
                bytes: &self.bytes_of(shape)[at..at + shape.inline_len],
                raw,
            },
        };
        ValueRef::Str(str_ref)
    }

    /// The boxed collection's pointer; `shape` is this entry's, of kind object.
    fn object_ptr(&self, shape: Shape) -> *mut Collection {
        read_u64(self.bytes_of(shape), shape.value_at()) as usize as *mut Collection
    }

    /// The collection this entry holds, to change in place (`None` for a string). The caller
    /// keeps the database's byte count (`EntryMut` does).
    pub fn collection_mut(&mut self) -> Option<&mut Collection> {
        let shape = self.shape();
        // SAFETY: as in `value`; `&mut self` makes this the only reference to the box.
        (shape.kind() == KIND_OBJECT).then(|| unsafe { &mut *self.object_ptr(shape) })
    }

    /// Bytes this entry holds on the heap, by allocator class: the block, plus the external
    /// buffer's capacity or the collection (its box and what it owns) if it has one. The
    /// shard's memory accounting adds these up; a collection keeps its own count, so this is
    /// O(1).
    pub fn heap_bytes(&self) -> usize {
        let shape = self.shape();
        let value = match shape.kind() {
            KIND_EXTERNAL => class_bytes(self.external_of(shape).cap),
            KIND_OBJECT => match self.value() {
                ValueRef::Coll(c) => {
                    class_bytes(std::mem::size_of::<Collection>()) + c.heap_bytes()
                }
                ValueRef::Str(_) => unreachable!("an object block holds a collection"),
            },
            _ => 0,
        };
        class_bytes(shape.block_len()) + value
    }

    /// Takes the collection out of an object block, leaving it to be freed without it.
    fn take_object(&mut self, shape: Shape) -> Box<Collection> {
        let ptr = self.object_ptr(shape);
        // The block points nowhere valid now: its caller frees or rebuilds it at once.
        let at = shape.value_at();
        self.bytes_mut()[at..at + POINTER_BYTES].copy_from_slice(&0u64.to_le_bytes());
        // SAFETY: the pointer came from `Box::into_raw` in `build` and the block no longer
        // records it, so this box is its only owner.
        unsafe { Box::from_raw(ptr) }
    }

    /// Replaces this block by one built from its key and LRU clock with `ttl`, `raw` and the
    /// value `next` names, then frees the old block (not its external buffer: the new block
    /// takes that over, or it is dropped here).
    /// A new value is a write through RESP, which ends the Memcached item: the flags and CAS
    /// go (a CAS must not survive a change of the value); a kept value keeps them.
    fn rebuild(&mut self, ttl: Option<u64>, raw: bool, next: NewValue) {
        let memcache = match next {
            NewValue::Keep => self.memcache(),
            NewValue::Owned { .. } | NewValue::Object(_) => None,
        };
        self.rebuild_with(ttl, memcache, raw, next);
    }

    fn rebuild_with(
        &mut self,
        ttl: Option<u64>,
        memcache: Option<MemcacheMeta>,
        raw: bool,
        next: NewValue,
    ) {
        let shape = self.shape();
        let old_layout = shape.layout();
        let old_value = match (shape.kind(), self.external()) {
            (KIND_OBJECT, _) => Payload::Object(self.take_object(shape)),
            // SAFETY: the block owns the buffer; it is freed below without touching it, so
            // the Vec made here is its only owner.
            (_, Some(parts)) => Payload::External(unsafe { parts.into_vec() }),
            (_, None) => match self.value() {
                ValueRef::Str(StrRef::Int(n)) => Payload::Int(n),
                ValueRef::Str(StrRef::Bytes { bytes, .. }) => Payload::Inline(bytes),
                ValueRef::Coll(_) => unreachable!("object blocks are handled above"),
            },
        };
        let payload = match next {
            NewValue::Keep => old_value,
            NewValue::Owned { value, edited } => {
                drop(old_value);
                owned_payload(self.shape().key_len, ttl.is_some(), value, edited)
            }
            NewValue::Object(object) => {
                drop(old_value);
                Payload::Object(object)
            }
        };
        let built = Entry::build(self.key(), ttl, memcache, self.lru(), raw, payload);
        let old_block = std::mem::replace(&mut self.block, built.block);
        std::mem::forget(built);
        // SAFETY: `old_block` was allocated with `old_layout` and nothing refers to it any more
        // (its external buffer, if any, went to `next` above).
        unsafe { alloc::dealloc(old_block.as_ptr(), old_layout) };
    }

    /// Sets or clears the deadline (the caller keeps the database's TTL count).
    pub(crate) fn set_expire_at_ms(&mut self, expire_at_ms: Option<u64>) {
        let shape = self.shape();
        match (shape.has_ttl(), expire_at_ms) {
            (true, Some(at_ms)) => {
                let at = shape.prefix_len();
                self.bytes_mut()[at..at + TTL_BYTES].copy_from_slice(&at_ms.to_le_bytes());
            }
            (false, None) => {}
            _ => {
                let raw = shape.flags & FLAG_RAW != 0;
                self.rebuild(expire_at_ms, raw, NewValue::Keep);
            }
        }
    }

    /// Replaces the value, keeping the key, deadline and access time.
    pub fn set_value(&mut self, value: Value) {
        let value = match value {
            Value::Str(value) => value,
            Value::Coll(object) => {
                let ttl = self.expire_at_ms();
                self.rebuild(ttl, false, NewValue::Object(object));
                return;
            }
        };
        let shape = self.shape();
        if let (KIND_INT, StrValue::Int(n), false) = (shape.kind(), &value, shape.has_memcache()) {
            let at = shape.value_at();
            self.bytes_mut()[at..at + INT_BYTES].copy_from_slice(&n.to_le_bytes());
            return;
        }
        let ttl = self.expire_at_ms();
        let raw = value.is_raw();
        let edited = false;
        self.rebuild(ttl, raw, NewValue::Owned { value, edited });
    }

    /// Redis's dbUnshareStringValue then an edit: the value as raw bytes to change in place,
    /// left "raw" encoded. Returns what `edit` returns.
    pub fn edit_raw<R>(&mut self, edit: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        let shape = self.shape();
        let mut bytes = match self.external() {
            Some(parts) => {
                // The block points at an empty buffer while this one is lent to `edit`, so a
                // panic in `edit` cannot free it twice.
                write_external(self.bytes_mut(), shape, ExternalParts::empty());
                // SAFETY: the block just gave the buffer up (it now owns an empty one).
                unsafe { parts.into_vec() }
            }
            None => match self.value() {
                ValueRef::Str(str_ref) => str_ref.to_bytes(),
                ValueRef::Coll(_) => unreachable!("edit_raw on a collection (type unchecked)"),
            },
        };
        let result = edit(&mut bytes);
        let ttl = self.expire_at_ms();
        let value = StrValue::raw(bytes);
        self.rebuild(
            ttl,
            true,
            NewValue::Owned {
                value,
                edited: true,
            },
        );
        result
    }

    /// A copy of this entry under another key (RENAME, COPY), same value, deadline and clock.
    pub fn with_key(&self, key: &[u8]) -> Entry {
        let shape = self.shape();
        let raw = shape.flags & FLAG_RAW != 0;
        let payload = match self.value() {
            ValueRef::Str(StrRef::Int(n)) => Payload::Int(n),
            ValueRef::Str(StrRef::Bytes { bytes, .. }) => match shape.kind() {
                KIND_EXTERNAL => Payload::External(bytes.to_vec()),
                _ => Payload::Inline(bytes),
            },
            ValueRef::Coll(c) => Payload::Object(Box::new(c.clone())),
        };
        let memcache = self.memcache();
        Entry::build(key, self.expire_at_ms(), memcache, self.lru(), raw, payload)
    }
}

/// What a Memcached item keeps beside its value: the client's opaque flags and the CAS unique
/// that changes with every write (`gets`, `cas`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemcacheMeta {
    pub flags: u32,
    pub cas: u64,
    /// The meta protocol's marks (`MemcacheMeta::FETCHED`…).
    pub state: u8,
}

impl MemcacheMeta {
    /// Fetched by `mg` since written (its `h` flag).
    pub const FETCHED: u8 = 1 << 0;
    /// Invalidated (`md I`, `ms I`): served stale until rewritten (`X`).
    pub const STALE: u8 = 1 << 1;
    /// A client has been told to recache (`W`); the others hear `Z`.
    pub const TOKEN_SENT: u8 = 1 << 2;
    /// Written with a base64 (binary) key: `k` answers it in base64.
    pub const BINARY_KEY: u8 = 1 << 3;

    pub fn new(flags: u32, cas: u64) -> MemcacheMeta {
        MemcacheMeta {
            flags,
            cas,
            state: 0,
        }
    }

    pub fn has(self, mark: u8) -> bool {
        self.state & mark != 0
    }

    fn read(bytes: &[u8]) -> MemcacheMeta {
        MemcacheMeta {
            flags: u32::from_le_bytes(bytes[..4].try_into().expect("four bytes")),
            cas: read_u64(bytes, 4),
            state: bytes[12],
        }
    }

    fn write(self, out: &mut [u8]) {
        out[..4].copy_from_slice(&self.flags.to_le_bytes());
        out[4..12].copy_from_slice(&self.cas.to_le_bytes());
        out[12] = self.state;
    }
}

/// The value a rebuilt block holds.
enum NewValue {
    /// The old value, moved over unchanged.
    Keep,
    /// A new value; `edited` by APPEND or SETRANGE (it may grow again).
    Owned { value: StrValue, edited: bool },
    /// A new collection.
    Object(Box<Collection>),
}

fn write_external(out: &mut [u8], shape: Shape, parts: ExternalParts) {
    let at = shape.value_at();
    out[at..at + 8].copy_from_slice(&(parts.ptr as usize as u64).to_le_bytes());
    if shape.wide() {
        out[at + 8..at + 16].copy_from_slice(&(parts.len as u64).to_le_bytes());
        out[at + 16..at + 24].copy_from_slice(&(parts.cap as u64).to_le_bytes());
    } else {
        write_u32(out, at + 8, parts.len);
        write_u32(out, at + 12, parts.cap);
    }
}

/// Where an owned string value goes: inline when one block costs no more than a block plus a
/// buffer (by allocator class), else in its own buffer; `edited` values past
/// `EDIT_INLINE_MAX_BYTES` always get their own buffer (room to grow).
fn owned_payload(key_len: usize, has_ttl: bool, value: StrValue, edited: bool) -> Payload<'static> {
    let bytes = match value {
        StrValue::Int(n) => return Payload::Int(n),
        StrValue::Bytes { bytes, .. } => bytes,
    };
    let inline = if edited && bytes.len() > EDIT_INLINE_MAX_BYTES {
        false
    } else {
        inline_pays(key_len, has_ttl, bytes.len(), bytes.capacity())
    };
    if inline {
        Payload::InlineOwned(bytes)
    } else {
        Payload::External(bytes)
    }
}

/// True when key and value in one block take no more allocator bytes than a block holding the
/// key and a pointer plus the value's own buffer of `cap` bytes.
pub fn inline_pays(key_len: usize, has_ttl: bool, value_len: usize, cap: usize) -> bool {
    let width = |len: usize| {
        if len > NARROW_LEN_MAX {
            WIDE_PREFIX_BYTES
        } else {
            NARROW_PREFIX_BYTES
        }
    };
    let ttl = if has_ttl { TTL_BYTES } else { 0 };
    let one_block = width(key_len.max(value_len)) + ttl + key_len + value_len;
    let external = width(key_len) + ttl + key_len + POINTER_BYTES + 8;
    class_bytes(one_block) <= class_bytes(external) + class_bytes(cap.max(value_len))
}

impl Drop for Entry {
    fn drop(&mut self) {
        let shape = self.shape();
        if shape.kind() == KIND_OBJECT {
            drop(self.take_object(shape));
        }
        if let Some(parts) = self.external() {
            // SAFETY: the block owns the buffer and is being freed: this is its last owner.
            drop(unsafe { parts.into_vec() });
        }
        let layout = self.shape().layout();
        // SAFETY: the block was allocated with the layout its shape gives, and is never used
        // after this.
        unsafe { alloc::dealloc(self.block.as_ptr(), layout) };
    }
}

impl Clone for Entry {
    fn clone(&self) -> Entry {
        self.with_key(self.key())
    }
}

/// Equal key, value, deadline and access clock.
impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        self.key() == other.key()
            && self.value() == other.value()
            && self.expire_at_ms() == other.expire_at_ms()
            && self.lru() == other.lru()
    }
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("key", &String::from_utf8_lossy(self.key()))
            .field("value", &self.value())
            .field("expire_at_ms", &self.expire_at_ms())
            .field("lru", &self.lru())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Collection;

    fn bytes(s: &[u8]) -> Value {
        Value::Str(StrValue::from_bytes(s.to_vec()))
    }

    fn str_of(e: &Entry) -> StrRef<'_> {
        match e.value() {
            ValueRef::Str(s) => s,
            ValueRef::Coll(_) => panic!("a string entry"),
        }
    }

    fn hash_of(fields: &[(&str, &str)]) -> Value {
        let mut h = crate::db::HashValue::new(7);
        for (f, v) in fields {
            h.insert(f.as_bytes(), v.as_bytes(), &Default::default());
        }
        Value::Coll(Box::new(Collection::Hash(h)))
    }

    /// The object kind's box is owned, moved and freed by the block: through a deadline
    /// added and removed (rebuilds), a clone under another key, an in-place edit, a value
    /// replaced by a string and back, and drop (Miri checks the frees).
    #[test]
    fn collections_live_behind_the_object_pointer() {
        let mut e = Entry::new(b"h", hash_of(&[("f", "v")]), 0);
        assert_eq!(e.value().type_name(), "hash");
        let one_field = e.heap_bytes();
        e.set_expire_at_ms(Some(99));
        e.set_expire_at_ms(None);
        e.set_expire_at_ms(Some(100));
        assert_eq!(e.expire_at_ms(), Some(100));
        match e.collection_mut() {
            Some(Collection::Hash(h)) => {
                h.insert(b"g", b"w", &Default::default());
            }
            other => panic!("{other:?}"),
        }
        assert!(e.heap_bytes() >= one_field);
        let copy = e.with_key(b"h2");
        assert_eq!(copy.value(), e.value());
        assert_eq!(copy.key(), b"h2");
        assert_eq!(e.clone(), e);
        e.set_value(bytes(b"plain"));
        assert_eq!(
            str_of(&e),
            StrRef::Bytes {
                bytes: b"plain",
                raw: false
            }
        );
        e.set_value(hash_of(&[("a", "b")]));
        assert_eq!(e.value().encoding(), "listpack");
        assert_eq!(e.expire_at_ms(), Some(100));
        drop(copy);
    }

    #[test]
    fn the_loader_shape_is_one_32_byte_block() {
        // "key:123456" with a 16-byte value: the figure the memory benchmark loads.
        let e = Entry::new(b"key:123456", bytes(&[b'x'; 16]), 0);
        assert_eq!(e.shape().block_len(), 32);
        assert_eq!(e.heap_bytes(), 32);
        assert_eq!(
            std::mem::size_of::<Option<Entry>>(),
            8,
            "a slot is one pointer"
        );
    }

    #[test]
    fn a_1k_value_keeps_its_own_1024_class_buffer() {
        let e = Entry::new(b"key:123456", bytes(&[b'x'; 1024]), 0);
        assert!(e.external().is_some());
        assert_eq!(e.heap_bytes(), 32 + 1024);
        assert_eq!(str_of(&e).len_bytes(), 1024);
    }

    #[test]
    fn values_round_trip_in_every_storage() {
        let long_key = vec![b'k'; 300];
        for key in [&b"k"[..], &long_key] {
            for len in [0, 1, 16, 44, 45, 255, 256, 1000, 1024, 5000] {
                let value = vec![b'v'; len];
                let e = Entry::new(key, bytes(&value), 7_000);
                assert_eq!(e.key(), key);
                assert_eq!(str_of(&e).to_bytes(), value, "len {len}");
                assert_eq!(e.expire_at_ms(), None);
                assert_eq!(e.lru(), 7);
                let copy = e.clone();
                assert_eq!(copy, e);
                let moved = e.with_key(b"other");
                assert_eq!(moved.key(), b"other");
                assert_eq!(str_of(&moved).to_bytes(), value);
            }
            let e = Entry::new(key, bytes(b"-42"), 0);
            assert_eq!(str_of(&e), StrRef::Int(-42));
        }
    }

    #[test]
    fn deadlines_are_added_changed_and_cleared() {
        for len in [3, 1024] {
            let mut e = Entry::new(b"k", bytes(&vec![b'a'; len]), 0);
            let without = e.heap_bytes();
            e.set_expire_at_ms(Some(5));
            assert_eq!(e.expire_at_ms(), Some(5));
            assert!(e.heap_bytes() >= without);
            e.set_expire_at_ms(Some(9));
            assert_eq!(e.expire_at_ms(), Some(9));
            assert!(e.is_expired(9) && !e.is_expired(8));
            e.set_expire_at_ms(None);
            assert_eq!(e.expire_at_ms(), None);
            assert_eq!(e.heap_bytes(), without);
            assert_eq!(str_of(&e).len_bytes(), len);
        }
    }

    #[test]
    fn edits_go_raw_and_grow_in_their_own_buffer() {
        let mut e = Entry::new(b"k", bytes(b"12"), 0).with_expire_at_ms(Some(99));
        let len = e.edit_raw(|b| {
            b.extend_from_slice(b"3");
            b.len()
        });
        assert_eq!(len, 3);
        assert_eq!(
            str_of(&e),
            StrRef::Bytes {
                bytes: b"123",
                raw: true
            }
        );
        for _ in 0..100 {
            e.edit_raw(|b| b.extend_from_slice(b"xy"));
        }
        assert_eq!(str_of(&e).len_bytes(), 203);
        assert!(e.external().is_some(), "past EDIT_INLINE_MAX_BYTES");
        assert_eq!(e.expire_at_ms(), Some(99));
        e.set_value(Value::Str(StrValue::Int(5)));
        assert_eq!(str_of(&e), StrRef::Int(5));
        e.set_value(Value::Str(StrValue::Int(6)));
        assert_eq!(str_of(&e), StrRef::Int(6));
        assert_eq!(e.expire_at_ms(), Some(99));
    }

    #[test]
    fn idle_time_wraps_like_redis() {
        let mut e = Entry::new(b"k", bytes(b"v"), 10_500);
        assert_eq!(e.idle_s(10_999), 0);
        assert_eq!(e.idle_s(13_000), 3);
        let wrap_ms = (u64::from(LRU_CLOCK_MAX) + 1) * 1000;
        e.touch(wrap_ms);
        assert_eq!(e.lru(), 0, "the clock wraps to 0 at 2^24 seconds");
        // Redis counts a wrapped interval one tick short (LRU_CLOCK_MAX, not 2^24); so do we.
        e.touch(wrap_ms - 2000);
        assert_eq!(e.idle_s(wrap_ms + 3000), 2 + 3 - 1);
    }

    #[test]
    fn entries_cross_threads() {
        let e = Entry::new(b"k", bytes(&[b'z'; 2000]), 0);
        let back = std::thread::scope(|s| s.spawn(move || e).join().expect("joined"));
        assert_eq!(str_of(&back).len_bytes(), 2000);
    }

    #[test]
    fn set_bytes_encode_as_from_bytes_does() {
        let long = vec![b'x'; 2000];
        let values: [&[u8]; 8] = [
            b"",
            b"12",
            b"-0",
            b"012",
            &[b'a'; 44],
            &[b'a'; 45],
            b"99999999999999999999",
            &long,
        ];
        for value in values {
            for ttl in [None, Some(5)] {
                let direct = Entry::from_set_bytes(b"k", value, ttl, 3000);
                let via = Entry::new(b"k", bytes(value), 3000).with_expire_at_ms(ttl);
                assert_eq!(direct, via, "{value:?}");
                assert_eq!(direct.heap_bytes(), via.heap_bytes());
            }
        }
    }

    #[test]
    fn inline_pays_by_class() {
        assert!(inline_pays(10, false, 16, 16));
        assert!(!inline_pays(10, false, 1024, 1024));
        assert!(inline_pays(10, false, 100, 100));
    }
}
