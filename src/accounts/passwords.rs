//! Password hashing: argon2id with the configured cost, off the async
//! threads (each hash takes tens of milliseconds and megabytes on purpose).
//! An unknown account is verified against a fixed hash of the same cost, so
//! that how long a sign-in takes does not say whether the address exists.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::configuration::AccountSettings;

/// The hasher for the configured cost.
#[derive(Clone, Copy, Debug)]
pub struct Hasher {
    memory_kib: u32,
    iterations: u32,
}

impl Hasher {
    pub fn new(settings: &AccountSettings) -> Self {
        Self { memory_kib: settings.argon2_memory_kib, iterations: settings.argon2_iterations }
    }

    fn argon2(&self) -> Argon2<'static> {
        // The settings are checked at load (memory >= 8 MiB, iterations >= 1), within argon2's bounds.
        let params = Params::new(self.memory_kib, self.iterations, 1, None).unwrap_or_default();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    /// The PHC string of a new password.
    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let this = *self;
        let password = password.to_string();
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::encode_b64(&crate::secrets::random_bytes::<16>())
                .map_err(|e| anyhow::anyhow!("salt: {e}"))?;
            let hash = this.argon2().hash_password(password.as_bytes(), &salt).map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(hash.to_string())
        })
        .await?
    }

    /// Whether `password` matches `stored` (the parameters stored with the
    /// hash are used); with no stored hash, the work is done anyway and the
    /// answer is no.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let this = *self;
        let password = password.to_string();
        let stored = stored.map(str::to_string);
        tokio::task::spawn_blocking(move || {
            let dummy = this.dummy();
            let (phc, real) = match stored.as_deref() {
                Some(phc) => (phc, true),
                None => (dummy, false),
            };
            let Ok(parsed) = PasswordHash::new(phc) else { return false };
            this.argon2().verify_password(password.as_bytes(), &parsed).is_ok() && real
        })
        .await
        .unwrap_or(false)
    }

    /// A hash of the configured cost that no password is checked into.
    fn dummy(&self) -> &'static str {
        static DUMMY: OnceLock<String> = OnceLock::new();
        DUMMY.get_or_init(|| {
            let salt = SaltString::encode_b64(&[7u8; 16]).expect("16 bytes encode as a salt");
            self.argon2()
                .hash_password(b"no account has this password", &salt)
                .map(|h| h.to_string())
                .unwrap_or_default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_password_verifies_against_its_own_hash_only() {
        let hasher = Hasher { memory_kib: 8192, iterations: 1 };
        let hash = hasher.hash("correct horse battery").await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=8192,t=1,p=1$"), "{hash}");
        assert!(hasher.verify("correct horse battery", Some(&hash)).await);
        assert!(!hasher.verify("correct horse batterx", Some(&hash)).await);
        assert!(!hasher.verify("correct horse battery", None).await);
        assert!(!hasher.verify("correct horse battery", Some("not a hash")).await);
        assert_ne!(hash, hasher.hash("correct horse battery").await.unwrap(), "salted");
    }
}
