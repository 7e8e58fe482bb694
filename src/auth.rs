//! Authentication: API keys (random, stored as SHA-256 hashes, shown once),
//! people's sign-in sessions (`docs/accounts.md`), the platform admin key,
//! roles, CSRF tokens and short-lived signed WebSocket tokens. A key and a
//! session make the same [`Principal`] and authorise the same way.
//! Keys and tenants are cached for a few seconds; revoking a key or changing
//! a tenant on this node invalidates its entry at once. Only keys that exist
//! are cached (an unknown key is a database miss each time, and a flood of
//! them is stopped per client address by [`crate::limits::FailureLimiter`]),
//! and the cache holds at most [`KEY_CACHE_MAX`] keys.

use std::time::{Duration, Instant};

use askpanel_actors::domain::{KeyId, TenantId, UserId};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use dashmap::DashMap;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::ApiError;
use crate::store::accounts::{SessionId, SessionRecord, UserRecord};
use crate::store::{KeyRecord, Role, Store, TenantRecord};

/// How long a cached key or tenant is trusted before it is read again.
const CACHE_TTL: Duration = Duration::from_secs(5);
/// The most keys the cache holds; past it, stale entries go, then all.
pub const KEY_CACHE_MAX: usize = 10_000;

/// A new random key: `ap_` and 32 base64url characters (192 bits).
pub fn generate_key() -> String {
    format!("ap_{}", URL_SAFE_NO_PAD.encode(random_bytes::<24>()))
}

pub use crate::secrets::{hash_key, random_bytes};

/// The first characters of a key, kept to recognise it in listings.
pub fn key_prefix(key: &str) -> String {
    key.chars().take(8).collect()
}

/// What a caller authenticated with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    /// An API key (machines).
    Key(KeyId),
    /// A person's sign-in session (the cookie).
    Session { user: UserId, session: SessionId },
}

/// Who is calling.
#[derive(Clone, Debug)]
pub struct Principal {
    pub tenant: TenantRecord,
    pub credential: Credential,
    pub role: Role,
    /// The key's or the person's name (shown in presence).
    pub name: String,
}

impl Principal {
    pub fn tenant_id(&self) -> TenantId {
        self.tenant.id
    }

    /// The key's or the user's id: what streams are counted and closed by.
    pub fn holder(&self) -> uuid::Uuid {
        match &self.credential {
            Credential::Key(key) => key.0,
            Credential::Session { user, .. } => user.0,
        }
    }

    pub fn key_id(&self) -> Option<KeyId> {
        match &self.credential {
            Credential::Key(key) => Some(*key),
            Credential::Session { .. } => None,
        }
    }

    pub fn user_id(&self) -> Option<UserId> {
        match &self.credential {
            Credential::Key(_) => None,
            Credential::Session { user, .. } => Some(*user),
        }
    }

    pub fn session_id(&self) -> Option<SessionId> {
        match &self.credential {
            Credential::Key(_) => None,
            Credential::Session { session, .. } => Some(*session),
        }
    }

    /// `key` or `user`.
    pub fn kind(&self) -> &'static str {
        match &self.credential {
            Credential::Key(_) => "key",
            Credential::Session { .. } => "user",
        }
    }

    /// Refuses callers below `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this needs the {} role; the {} is {}",
                role.as_str(),
                self.kind(),
                self.role.as_str()
            )))
        }
    }

    pub fn caller(&self) -> askpanel_actors::domain::Caller {
        askpanel_actors::domain::Caller {
            id: self.holder().to_string(),
            key_id: self.key_id(),
            user_id: self.user_id(),
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
    /// Live sessions by the hash of their cookie.
    sessions: DashMap<String, Cached<(SessionRecord, UserRecord)>>,
    /// Raised by every [`AuthService::invalidate_sessions`]: a lookup that
    /// began before one does not put what it read in the cache.
    sessions_generation: std::sync::atomic::AtomicU64,
    /// When each key's use was last written (at most once a [`KEY_USE_EVERY`]).
    key_uses: DashMap<KeyId, Instant>,
}

/// How often a key's last use is written, at most, per node.
pub const KEY_USE_EVERY: Duration = Duration::from_secs(60);

/// Claims of a WebSocket token: a key's, or a user's session's.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct WsClaims {
    /// Tenant id.
    pub t: TenantId,
    /// Key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<KeyId>,
    /// User id and session id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub u: Option<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s: Option<SessionId>,
    pub r: Role,
    /// Expiry, seconds since the epoch.
    pub e: i64,
}

impl AuthService {
    pub fn new(admin_key_hash: String, token_secret: Vec<u8>) -> Self {
        Self {
            admin_key_hash,
            token_secret,
            keys: DashMap::new(),
            tenants: DashMap::new(),
            sessions: DashMap::new(),
            sessions_generation: std::sync::atomic::AtomicU64::new(0),
            key_uses: DashMap::new(),
        }
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

    /// Whether a use of `key` now should be written (none was this last
    /// [`KEY_USE_EVERY`] on this node); notes it when so. Bounded as the cache.
    pub fn key_use_due(&self, key: KeyId) -> bool {
        let now = Instant::now();
        if let Some(last) = self.key_uses.get(&key)
            && now.duration_since(*last) < KEY_USE_EVERY
        {
            return false;
        }
        if self.key_uses.len() >= KEY_CACHE_MAX {
            self.key_uses.retain(|_, at| now.duration_since(*at) < KEY_USE_EVERY);
            if self.key_uses.len() >= KEY_CACHE_MAX {
                self.key_uses.clear();
            }
        }
        self.key_uses.insert(key, now);
        true
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

    /// The live session a cookie names, and its (active) user; `None` for
    /// anything else. Cached like keys; [`AuthService::invalidate_sessions`]
    /// forgets them when a session ends or a user changes.
    pub async fn session(
        &self,
        store: &dyn Store,
        cookie: &crate::accounts::Opaque,
    ) -> Result<Option<(SessionRecord, UserRecord)>, ApiError> {
        let hash = hash_key(&cookie.to_string());
        if let Some(hit) = self.sessions.get(&hash).filter(|c| c.at.elapsed() < CACHE_TTL).map(|c| c.value.clone())
            && hit.0.expires_at > Utc::now()
        {
            return Ok(Some(hit));
        }
        let generation = self.sessions_generation.load(std::sync::atomic::Ordering::SeqCst);
        let found = store.find_session(cookie.tenant, SessionId(cookie.id), Some(&cookie.hash()), Utc::now()).await?;
        let unchanged = generation == self.sessions_generation.load(std::sync::atomic::Ordering::SeqCst);
        if let Some(found) = found.as_ref().filter(|_| unchanged) {
            if self.sessions.len() >= KEY_CACHE_MAX {
                self.sessions.retain(|_, cached| cached.at.elapsed() < CACHE_TTL);
                if self.sessions.len() >= KEY_CACHE_MAX {
                    self.sessions.clear();
                }
            }
            self.sessions.insert(hash, Cached { value: found.clone(), at: Instant::now() });
        }
        Ok(found)
    }

    /// Forgets every cached session (one ended, or a user changed).
    pub fn invalidate_sessions(&self) {
        self.sessions_generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.sessions.clear();
    }

    /// The CSRF token of a session: a MAC of its id, so any node can check it.
    pub fn csrf_token(&self, session: SessionId) -> String {
        let mut mac = self.mac();
        mac.update(b"csrf:");
        mac.update(session.0.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Whether `token` is the session's CSRF token (in constant time).
    pub fn csrf_ok(&self, session: SessionId, token: &str) -> bool {
        constant_time_eq(self.csrf_token(session).as_bytes(), token.trim().as_bytes())
    }

    /// A MAC of `data` for one purpose (`oidc`...), under the token secret.
    pub fn seal(&self, purpose: &str, data: &[u8]) -> Vec<u8> {
        let mut mac = self.mac();
        mac.update(purpose.as_bytes());
        mac.update(b":");
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }

    /// Whether `tag` is [`AuthService::seal`]'s MAC of `data` (in constant time).
    pub fn unseal(&self, purpose: &str, data: &[u8], tag: &[u8]) -> bool {
        constant_time_eq(&self.seal(purpose, data), tag)
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
        let claims = WsClaims {
            t: principal.tenant.id,
            k: principal.key_id(),
            u: principal.user_id(),
            s: principal.session_id(),
            r: principal.role,
            e: expires_at.timestamp(),
        };
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
        if claims.e < Utc::now().timestamp() || claims.k.is_none() == (claims.u.is_none() || claims.s.is_none()) {
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
