//! Password hashing: argon2id with the configured cost, off the async
//! threads (each hash takes tens of milliseconds and megabytes on purpose),
//! at most one per core at a time: a burst of sign-ins waits its turn a
//! little, then is told the server is busy, rather than taking all memory.
//! An unknown account is verified against a fixed hash of the same cost, so
//! that how long a sign-in takes does not say whether the address exists.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use thiserror::Error;
use tokio::sync::Semaphore;

use crate::configuration::AccountSettings;
use crate::error::ApiError;

/// How long a hash waits for its turn before the server says it is busy.
const WAIT_FOR_TURN: Duration = Duration::from_secs(3);

#[derive(Debug, Error)]
pub enum HashError {
    #[error("too many password checks at once; try again in a moment")]
    Busy,
    #[error("password hashing failed: {0}")]
    Failed(String),
}

impl From<HashError> for ApiError {
    fn from(error: HashError) -> Self {
        match error {
            HashError::Busy => ApiError::Unavailable(error.to_string()),
            HashError::Failed(message) => ApiError::Internal(anyhow::anyhow!(message)),
        }
    }
}

/// The hasher for the configured cost.
#[derive(Clone, Debug)]
pub struct Hasher {
    memory_kib: u32,
    iterations: u32,
    turns: Arc<Semaphore>,
}

impl Hasher {
    pub fn new(settings: &AccountSettings) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            memory_kib: settings.argon2_memory_kib,
            iterations: settings.argon2_iterations,
            turns: Arc::new(Semaphore::new(cores)),
        }
    }

    async fn turn(&self) -> Result<tokio::sync::OwnedSemaphorePermit, HashError> {
        match tokio::time::timeout(WAIT_FOR_TURN, self.turns.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(HashError::Busy),
        }
    }

    fn argon2(&self) -> Argon2<'static> {
        // The settings are checked at load (memory >= 8 MiB, iterations >= 1), within argon2's bounds.
        let params = Params::new(self.memory_kib, self.iterations, 1, None).unwrap_or_default();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    /// The PHC string of a new password.
    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let permit = self.turn().await?;
        let this = self.clone();
        let password = password.to_string();
        tokio::task::spawn_blocking(move || {
            let (_permit, _work) = (permit, crate::memory::work());
            let salt = SaltString::encode_b64(&crate::secrets::random_bytes::<16>())
                .map_err(|e| HashError::Failed(format!("salt: {e}")))?;
            let hash = this
                .argon2()
                .hash_password(password.as_bytes(), &salt)
                .map_err(|e| HashError::Failed(e.to_string()))?;
            Ok(hash.to_string())
        })
        .await
        .map_err(|e| HashError::Failed(e.to_string()))?
    }

    /// Whether `password` matches `stored` (the parameters stored with the
    /// hash are used); with no stored hash, the work is done anyway and the
    /// answer is no.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, HashError> {
        let permit = self.turn().await?;
        let this = self.clone();
        let password = password.to_string();
        let stored = stored.map(str::to_string);
        tokio::task::spawn_blocking(move || {
            let (_permit, _work) = (permit, crate::memory::work());
            let dummy = this.dummy();
            let (phc, real) = match stored.as_deref() {
                Some(phc) => (phc, true),
                None => (dummy, false),
            };
            let Ok(parsed) = PasswordHash::new(phc) else { return false };
            this.argon2().verify_password(password.as_bytes(), &parsed).is_ok() && real
        })
        .await
        .map_err(|e| HashError::Failed(e.to_string()))
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
    async fn a_password_check_is_work_the_memory_trim_sees() {
        // Each check takes megabytes that the allocator keeps until trimmed;
        // the trim runs only after work it was told of.
        let hasher = Hasher { memory_kib: 8192, iterations: 1, turns: Arc::new(Semaphore::new(1)) };
        let before = crate::memory::work_noted();
        hasher.verify("password", None).await.unwrap();
        assert!(crate::memory::work_noted() > before, "a verify was not noted");
        let before = crate::memory::work_noted();
        hasher.hash("password").await.unwrap();
        assert!(crate::memory::work_noted() > before, "a hash was not noted");
    }

    #[tokio::test]
    async fn a_password_verifies_against_its_own_hash_only() {
        let hasher = Hasher { memory_kib: 8192, iterations: 1, turns: Arc::new(Semaphore::new(1)) };
        let hash = hasher.hash("correct horse battery").await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=8192,t=1,p=1$"), "{hash}");
        assert!(hasher.verify("correct horse battery", Some(&hash)).await.unwrap());
        assert!(!hasher.verify("correct horse batterx", Some(&hash)).await.unwrap());
        assert!(!hasher.verify("correct horse battery", None).await.unwrap());
        assert!(!hasher.verify("correct horse battery", Some("not a hash")).await.unwrap());
        assert_ne!(hash, hasher.hash("correct horse battery").await.unwrap(), "salted");
    }

    #[tokio::test]
    async fn checks_past_the_cores_wait_their_turn_then_are_told_the_server_is_busy() {
        let hasher = Hasher { memory_kib: 8192, iterations: 1, turns: Arc::new(Semaphore::new(1)) };
        let held = hasher.turns.clone().acquire_owned().await.unwrap();
        let started = std::time::Instant::now();
        assert!(matches!(hasher.verify("x", None).await, Err(HashError::Busy)));
        assert!(started.elapsed() >= WAIT_FOR_TURN, "it waited for its turn first");
        drop(held);
        assert!(!hasher.verify("x", None).await.unwrap(), "a free turn checks again");
    }
}
