//! Authentication: API keys (random, stored as SHA-256 hashes, shown once),
//! the platform admin key, roles, and short-lived signed WebSocket tokens.
//! Keys and tenants are cached for a few seconds; revoking a key or changing
//! a tenant on this node invalidates its entry at once. Only keys that exist
//! are cached (an unknown key is a database miss each time, and a flood of
//! them is stopped per client address by [`crate::limits::FailureLimiter`]),
//! and the cache holds at most [`KEY_CACHE_MAX`] keys.

use std::time::{Duration, Instant};

use askpanel_actors::domain::{KeyId, TenantId};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use dashmap::DashMap;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::store::{KeyRecord, Role, Store, TenantRecord};

/// How long a cached key or tenant is trusted before it is read again.
const CACHE_TTL: Duration = Duration::from_secs(5);
/// The most keys the cache holds; past it, stale entries go, then all.
pub const KEY_CACHE_MAX: usize = 10_000;

/// A new random key: `ap_` and 32 base64url characters (192 bits).
pub fn generate_key() -> String {
    format!("ap_{}", URL_SAFE_NO_PAD.encode(random_bytes::<24>()))
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The OS random source failing is not recoverable; there is nothing safe to fall back to.
    getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
    bytes
}

/// The stored form of a key. Keys carry 192 random bits, so a fast hash is enough.
pub fn hash_key(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The first characters of a key, kept to recognise it in listings.
pub fn key_prefix(key: &str) -> String {
    key.chars().take(8).collect()
}

/// Who is calling.
#[derive(Clone, Debug)]
pub struct Principal {
    pub tenant: TenantRecord,
    pub key_id: KeyId,
    pub role: Role,
}

impl Principal {
    pub fn tenant_id(&self) -> TenantId {
        self.tenant.id
    }

    /// Refuses callers below `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this needs the {} role; the key is {}",
                role.as_str(),
                self.role.as_str()
            )))
        }
    }

    pub fn caller(&self) -> askpanel_actors::domain::Caller {
        askpanel_actors::domain::Caller {
            id: self.key_id.to_string(),
            key_id: Some(self.key_id),
            is_moderator: self.role >= Role::Moderator,
        }
    }
}

struct Cached<T> {
    value: T,
    at: Instant,
}

/// Key and tenant lookups with a short cache, and the secrets.
pub struct AuthService {
    admin_key_hash: String,
    token_secret: Vec<u8>,
    keys: DashMap<String, Cached<Option<KeyRecord>>>,
    tenants: DashMap<TenantId, Cached<Option<TenantRecord>>>,
}

/// Claims of a WebSocket token.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct WsClaims {
    /// Tenant id.
    pub t: TenantId,
    /// Key id.
    pub k: KeyId,
    pub r: Role,
    /// Expiry, seconds since the epoch.
    pub e: i64,
}

impl AuthService {
    pub fn new(admin_key_hash: String, token_secret: Vec<u8>) -> Self {
        Self { admin_key_hash, token_secret, keys: DashMap::new(), tenants: DashMap::new() }
    }

    /// Whether `key` is the platform admin key (compared by hash, in constant time).
    pub fn is_admin_key(&self, key: &str) -> bool {
        constant_time_eq(hash_key(key).as_bytes(), self.admin_key_hash.as_bytes())
    }

    pub async fn key_by_plain(&self, store: &dyn Store, key: &str) -> Result<Option<KeyRecord>, ApiError> {
        let hash = hash_key(key);
        if let Some(hit) = self.keys.get(&hash).filter(|c| c.at.elapsed() < CACHE_TTL).map(|c| c.value.clone()) {
            return Ok(hit);
        }
        let record = store.find_key_by_hash(&hash).await?;
        if record.is_some() {
            if self.keys.len() >= KEY_CACHE_MAX {
                self.keys.retain(|_, cached| cached.at.elapsed() < CACHE_TTL);
                if self.keys.len() >= KEY_CACHE_MAX {
                    self.keys.clear();
                }
            }
            self.keys.insert(hash, Cached { value: record.clone(), at: Instant::now() });
        }
        Ok(record)
    }

    /// Whether `key` is in the cache and fresh (using it costs no lookup).
    pub fn is_cached(&self, key: &str) -> bool {
        self.keys.get(&hash_key(key)).is_some_and(|c| c.at.elapsed() < CACHE_TTL)
    }

    /// Keys in the cache now.
    pub fn cached_keys(&self) -> usize {
        self.keys.len()
    }

    pub async fn key_by_id(
        &self,
        store: &dyn Store,
        tenant: TenantId,
        key: KeyId,
    ) -> Result<Option<KeyRecord>, ApiError> {
        Ok(store.get_key(tenant, key).await?)
    }

    pub async fn tenant(&self, store: &dyn Store, id: TenantId) -> Result<Option<TenantRecord>, ApiError> {
        if let Some(hit) = self.tenants.get(&id).filter(|c| c.at.elapsed() < CACHE_TTL).map(|c| c.value.clone()) {
            return Ok(hit);
        }
        let record = store.get_tenant(id).await?;
        self.tenants.insert(id, Cached { value: record.clone(), at: Instant::now() });
        Ok(record)
    }

    /// Forgets every cached key (after a revocation).
    pub fn invalidate_keys(&self) {
        self.keys.clear();
    }

    pub fn invalidate_tenant(&self, id: TenantId) {
        self.tenants.remove(&id);
    }

    /// A signed token for `GET /v1/ws?token=`.
    pub fn issue_ws_token(&self, principal: &Principal, ttl: Duration) -> (String, DateTime<Utc>) {
        let expires_at = Utc::now() + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::seconds(300));
        let claims =
            WsClaims { t: principal.tenant.id, k: principal.key_id, r: principal.role, e: expires_at.timestamp() };
        // Serialising four plain fields cannot fail.
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
        let signature = URL_SAFE_NO_PAD.encode(self.sign(payload.as_bytes()));
        (format!("{payload}.{signature}"), expires_at)
    }

    /// Checks a token's signature and expiry.
    pub fn verify_ws_token(&self, token: &str) -> Result<WsClaims, ApiError> {
        let invalid = || ApiError::Unauthorized("invalid or expired WebSocket token".into());
        let (payload, signature) = token.split_once('.').ok_or_else(invalid)?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| invalid())?;
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        mac.verify_slice(&signature).map_err(|_| invalid())?;
        let claims: WsClaims =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid())?).map_err(|_| invalid())?;
        if claims.e < Utc::now().timestamp() {
            return Err(invalid());
        }
        Ok(claims)
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length.
        <Hmac<Sha256> as KeyInit>::new_from_slice(&self.token_secret).expect("hmac accepts any key length")
    }

    fn sign(&self, payload: &[u8]) -> Vec<u8> {
        let mut mac = self.mac();
        mac.update(payload);
        mac.finalize().into_bytes().to_vec()
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The bearer token of an `Authorization` header.
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let value = header?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_hash_stably() {
        let (a, b) = (generate_key(), generate_key());
        assert_ne!(a, b);
        assert!(a.starts_with("ap_") && a.len() == 35);
        assert_eq!(hash_key(&a), hash_key(&a));
        assert_eq!(hash_key("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(Some("Bearer")), None);
        assert_eq!(bearer(None), None);
    }
}
