//! What the family generators (`mix_*`) share: building a command line, picking a word or
//! another key, and the coverage check each family's tests run.

use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// A command line: `name` then `args`.
pub fn line(name: &str, args: impl IntoIterator<Item = Vec<u8>>) -> Vec<Vec<u8>> {
    std::iter::once(name.as_bytes().to_vec())
        .chain(args)
        .collect()
}

/// One of `from`, as bytes.
pub fn pick(rng: &mut ChaCha8Rng, from: &[&str]) -> Vec<u8> {
    from.choose(rng).expect("choices").as_bytes().to_vec()
}

/// A key from `other_keys` (possibly `key` itself, or on another shard), `key` when none.
pub fn other(rng: &mut ChaCha8Rng, key: &[u8], other_keys: &[Vec<u8>]) -> Vec<u8> {
    other_keys
        .choose(rng)
        .cloned()
        .unwrap_or_else(|| key.to_vec())
}

/// Runs a family's generator `rounds` times on key `a` with other keys `b` and `c`, checking
/// every line names a key, and returns the command names seen and whether another key was
/// ever used: each family's test asserts its whole command list and its multi-key commands.
#[cfg(test)]
pub fn coverage(
    seed: u64,
    rounds: usize,
    mut generate: impl FnMut(&mut ChaCha8Rng, Vec<u8>, &[Vec<u8>]) -> Vec<Vec<u8>>,
) -> (std::collections::BTreeSet<String>, bool) {
    use rand_core::SeedableRng;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let others = vec![b"b".to_vec(), b"c".to_vec()];
    let mut names = std::collections::BTreeSet::new();
    let mut used_other = false;
    for _ in 0..rounds {
        let cmd = generate(&mut rng, b"a".to_vec(), &others);
        assert!(cmd.len() >= 2, "{cmd:?}");
        used_other |= cmd[1..].iter().any(|a| others.contains(a));
        names.insert(String::from_utf8(cmd[0].clone()).expect("ascii"));
    }
    (names, used_other)
}
