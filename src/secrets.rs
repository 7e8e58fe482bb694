//! Random secrets and their stored form, shared by keys, sessions and
//! one-time links.

use sha2::{Digest, Sha256};

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The OS random source failing is not recoverable; there is nothing safe to fall back to.
    getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
    bytes
}

/// The stored form of a secret of at least 192 random bits (a key, a
/// session's or a link's): a fast hash is enough for those.
pub fn hash_key(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
