//! A command's arguments: one buffer holding every argument back to back, plus their bounds.
//! At most two allocations however many arguments it has, and cheap to send to a shard. On the
//! hot path none at all: the decoder fills an `Argv` the caller keeps and `clear`s, so its two
//! buffers serve command after command (see `Decoder::next_command_into`).

use std::fmt;

#[derive(Clone, Default, PartialEq, Eq)]
pub struct Argv {
    data: Vec<u8>,
    ends: Vec<u32>,
}

impl Argv {
    pub fn new() -> Argv {
        Argv::default()
    }

    pub fn with_capacity(args: usize, bytes: usize) -> Argv {
        Argv {
            data: Vec::with_capacity(bytes),
            ends: Vec::with_capacity(args),
        }
    }

    pub fn from_slices<S: AsRef<[u8]>>(args: &[S]) -> Argv {
        let mut argv = Argv::new();
        for arg in args {
            argv.push(arg.as_ref());
        }
        argv
    }

    /// Empties the argv, keeping both buffers for the next command.
    pub fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
    }

    /// Reserves room for `args` more arguments of `bytes` bytes in all.
    pub fn reserve(&mut self, args: usize, bytes: usize) {
        self.ends.reserve(args);
        self.data.reserve(bytes);
    }

    #[inline]
    pub fn push(&mut self, arg: &[u8]) {
        self.data.extend_from_slice(arg);
        self.ends
            .push(u32::try_from(self.data.len()).expect("argv larger than 4 GiB"));
    }

    /// Appends bytes to the last argument (the decoder fills a bulk string in pieces).
    pub fn extend_last(&mut self, bytes: &[u8]) {
        self.data.extend_from_slice(bytes);
        *self.ends.last_mut().expect("extend_last on empty argv") =
            u32::try_from(self.data.len()).expect("argv larger than 4 GiB");
    }

    /// Reserves room for `additional` more bytes, capped so a peer's claim cannot force a big
    /// allocation before the bytes arrive.
    pub fn reserve_bytes(&mut self, additional: usize) {
        self.data.reserve(additional);
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    #[inline]
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        let end = *self.ends.get(index)? as usize;
        let start = if index == 0 {
            0
        } else {
            self.ends[index - 1] as usize
        };
        Some(&self.data[start..end])
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        (0..self.len()).map(move |i| &self[i])
    }

    /// Total bytes of all arguments.
    pub fn bytes_len(&self) -> usize {
        self.data.len()
    }

    /// A new argv made of the arguments at `indexes`, in that order.
    pub fn select(&self, indexes: impl IntoIterator<Item = usize>) -> Argv {
        let mut argv = Argv::new();
        for i in indexes {
            argv.push(&self[i]);
        }
        argv
    }
}

impl std::ops::Index<usize> for Argv {
    type Output = [u8];

    #[inline]
    fn index(&self, index: usize) -> &[u8] {
        match self.get(index) {
            Some(arg) => arg,
            None => panic!("argv index {index} out of range (len {})", self.len()),
        }
    }
}

impl fmt::Debug for Argv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_get_extend() {
        let mut argv = Argv::new();
        argv.push(b"SET");
        argv.push(b"");
        argv.push(b"ab");
        argv.extend_last(b"cd");
        assert_eq!(argv.len(), 3);
        assert_eq!(&argv[0], b"SET");
        assert_eq!(&argv[1], b"");
        assert_eq!(&argv[2], b"abcd");
        assert_eq!(argv.get(3), None);
        assert_eq!(argv.select([2, 0]), Argv::from_slices(&["abcd", "SET"]));
    }

    #[test]
    fn clear_keeps_capacity() {
        let mut argv = Argv::from_slices(&["SET", "key", "value"]);
        let (data_cap, ends_cap) = (argv.data.capacity(), argv.ends.capacity());
        argv.clear();
        assert!(argv.is_empty());
        assert_eq!(argv.bytes_len(), 0);
        assert_eq!(
            (argv.data.capacity(), argv.ends.capacity()),
            (data_cap, ends_cap)
        );
        argv.reserve(2, 6);
        argv.push(b"GET");
        argv.push(b"key");
        assert_eq!(argv, Argv::from_slices(&["GET", "key"]));
    }
}
