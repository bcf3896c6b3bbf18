//! API token secrets: random, shown once, stored as a SHA-256 hash.
//!
//! A token carries 256 bits of randomness, so a fast hash is the right
//! choice (a slow password hash would add latency to every request and
//! protect nothing more).

use sha2::{Digest, Sha256};

/// Prefix that makes StackFlow tokens recognisable to secret scanners.
const PREFIX: &str = "sf_";

/// Prefix of calendar feed keys: told apart from API tokens at a glance,
/// since a feed key opens only the schedule, and masked wherever a request
/// path is logged.
pub const FEED_KEY_PREFIX: &str = "sfcal_";

/// A fresh random token secret.
pub fn new_secret() -> String {
    random_with(PREFIX)
}

/// A fresh random calendar feed key.
pub fn new_feed_key() -> String {
    random_with(FEED_KEY_PREFIX)
}

/// 256 random bits, hex, after `prefix`.
fn random_with(prefix: &str) -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{prefix}{}", hex::encode(bytes))
}

/// The stored form of a secret.
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_unique_and_hashes_stable() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert!(a.starts_with("sf_") && a.len() == 67);
        assert_eq!(hash(&a), hash(&a));
        assert_ne!(hash(&a), hash(&b));
    }

    #[test]
    fn feed_keys_are_unique_and_never_look_like_tokens() {
        let (a, b) = (new_feed_key(), new_feed_key());
        assert_ne!(a, b);
        assert!(a.starts_with("sfcal_") && a.len() == 70);
        assert!(!a.starts_with("sf_"));
    }
}
