//! People (`docs/accounts.md`): the rules of accounts, as pure functions
//! (addresses, passwords, lockout, the opaque tokens of cookies and links),
//! password hashing ([`passwords`]), and the flows the routes run
//! ([`flows`]: sign-in, invitations, resets).

pub mod flows;
pub mod oidc;
pub mod passwords;

use std::time::Duration;

use askpanel_actors::domain::TenantId;
use uuid::Uuid;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::configuration::AccountSettings;
use crate::secrets::random_bytes;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "askpanel_session";
/// The header carrying the CSRF token on state-changing requests made with the cookie.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The longest email address (RFC 5321's path limit).
pub const EMAIL_MAX: usize = 254;
pub const NAME_MAX: usize = 100;
pub const PASSWORD_MIN: usize = 10;
/// Longer passwords are refused before hashing (argon2 reads all of it).
pub const PASSWORD_MAX: usize = 256;

/// An email address as stored: trimmed and lower-cased; `Err` says what is wrong.
pub fn normalize_email(raw: &str) -> Result<String, &'static str> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() || email.len() > EMAIL_MAX {
        return Err("must be an email address of at most 254 characters");
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err("must be an email address (name@domain)");
    };
    let bad = |part: &str| {
        part.is_empty() || part.chars().any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>' || c == ',')
    };
    if bad(local)
        || bad(domain)
        || local.contains('@')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
    {
        return Err("must be an email address (name@domain)");
    }
    Ok(email)
}

/// Whether a new password may be used; `Err` says why not.
pub fn check_password(password: &str, email: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < PASSWORD_MIN {
        return Err(format!("must be at least {PASSWORD_MIN} characters"));
    }
    if chars > PASSWORD_MAX {
        return Err(format!("must be at most {PASSWORD_MAX} characters"));
    }
    let lower = password.to_lowercase();
    let local = email.split('@').next().unwrap_or(email);
    // A short password built around the address's name guesses easily.
    if lower.trim() == email || (local.chars().count() >= 3 && lower.contains(local) && chars < 2 * PASSWORD_MIN) {
        return Err("must not be (or be built on) the email address".into());
    }
    let mut distinct: Vec<char> = password.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 4 {
        return Err("must use at least 4 different characters".into());
    }
    Ok(())
}

/// How long an account stays locked after `failures` consecutive failed
/// sign-ins: nothing before `lockout_after`, then `lockout_base_s` doubling
/// with each further failure, at most `lockout_max_s`.
pub fn lockout(failures: u32, settings: &AccountSettings) -> Option<Duration> {
    let beyond = failures.checked_sub(settings.lockout_after)?;
    let seconds = settings.lockout_base_s.saturating_mul(1u64 << beyond.min(30)).min(settings.lockout_max_s);
    Some(Duration::from_secs(seconds.max(1)))
}

/// The secret of a cookie or a one-time link: `tenant.id.secret`. The
/// tenant and id say where to look (every read names its tenant); only the
/// secret's hash is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opaque {
    pub tenant: TenantId,
    pub id: Uuid,
    pub secret: String,
}

impl Opaque {
    /// A new one with 192 random bits of secret.
    pub fn new(tenant: TenantId, id: Uuid) -> Self {
        Self { tenant, id, secret: URL_SAFE_NO_PAD.encode(random_bytes::<24>()) }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        let mut parts = raw.trim().splitn(3, '.');
        let tenant = parts.next()?.parse().ok()?;
        let id = parts.next()?.parse().ok()?;
        let secret = parts.next()?;
        let plausible = (16..=64).contains(&secret.len())
            && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        plausible.then(|| Self { tenant: TenantId(tenant), id, secret: secret.to_string() })
    }

    /// What the database keeps.
    pub fn hash(&self) -> String {
        crate::secrets::hash_key(&self.secret)
    }
}

impl std::fmt::Display for Opaque {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.tenant, self.id.hyphenated(), self.secret)
    }
}

/// A link of the page: `base` (no trailing slash) and a route with its token.
pub fn page_link(base: &str, route: &str, token: &Opaque) -> String {
    format!("{}/#/{route}?token={token}", base.trim_end_matches('/'))
}

/// The `Set-Cookie` value of a session (or of its removal, with `None`).
pub fn session_cookie(value: Option<&str>, max_age_s: u64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match value {
        Some(value) => format!("{SESSION_COOKIE}={value}; Path=/; Max-Age={max_age_s}; HttpOnly; SameSite=Lax{secure}"),
        None => format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{secure}"),
    }
}

/// The value of the session cookie in a `Cookie` header.
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').filter_map(|pair| pair.trim().split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| v.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> AccountSettings {
        AccountSettings {
            session_ttl_s: 3600,
            secure_cookies: true,
            invitation_ttl_s: 3600,
            reset_ttl_s: 3600,
            lockout_after: 5,
            lockout_base_s: 30,
            lockout_max_s: 3600,
            failures_per_address_per_minute: 20,
            argon2_memory_kib: 19456,
            argon2_iterations: 2,
            public_url: String::new(),
            oidc_issuer: String::new(),
            oidc_client_id: String::new(),
            oidc_client_secret_env: String::new(),
            oidc_tenants: Vec::new(),
        }
    }

    #[test]
    fn emails_are_trimmed_lower_cased_and_checked() {
        let table: &[(&str, Option<&str>)] = &[
            ("  Ada@Example.ORG ", Some("ada@example.org")),
            ("a@b", Some("a@b")),
            ("no-at-sign", None),
            ("@example.org", None),
            ("ada@", None),
            ("ada lovelace@example.org", None),
            ("ada@example..org", None),
            ("ada@.example.org", None),
            ("a@b@c", None),
            ("<ada@example.org>", None),
        ];
        for (raw, want) in table {
            assert_eq!(normalize_email(raw).ok().as_deref(), *want, "{raw}");
        }
        assert!(normalize_email(&format!("{}@example.org", "a".repeat(250))).is_err());
    }

    #[test]
    fn passwords_need_length_variety_and_not_the_address() {
        let table: &[(&str, bool)] = &[
            ("correct horse battery", true),
            ("short", false),
            ("aaaaaaaaaaaa", false),
            ("abababababab", false),
            ("ada@example.org", false),
            ("ada12345678", false),
            ("ada-is-a-long-enough-passphrase", true),
        ];
        for (password, ok) in table {
            assert_eq!(check_password(password, "ada@example.org").is_ok(), *ok, "{password}");
        }
        assert!(check_password(&"ab1!".repeat(65), "x@y").is_err());
    }

    #[test]
    fn lockout_starts_after_the_threshold_and_doubles_to_the_cap() {
        let s = settings();
        let table: &[(u32, Option<u64>)] =
            &[(0, None), (4, None), (5, Some(30)), (6, Some(60)), (7, Some(120)), (12, Some(3600)), (99, Some(3600))];
        for (failures, want) in table {
            assert_eq!(lockout(*failures, &s).map(|d| d.as_secs()), *want, "{failures}");
        }
    }

    #[test]
    fn opaque_tokens_round_trip_and_reject_junk() {
        let token = Opaque::new(TenantId::new(), Uuid::now_v7());
        assert_eq!(Opaque::parse(&token.to_string()), Some(token.clone()));
        assert_eq!(token.secret.len(), 32);
        for junk in [
            "",
            "a.b.c",
            &format!("{}.{}", token.tenant, token.id),
            &format!("{}.{}.short", token.tenant, token.id),
            &format!("{}.{}.{}!", token.tenant, token.id, token.secret),
        ] {
            assert_eq!(Opaque::parse(junk), None, "{junk}");
        }
    }

    #[test]
    fn cookies_are_http_only_lax_and_secure_when_asked() {
        let set = session_cookie(Some("v"), 60, true);
        assert_eq!(set, "askpanel_session=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure");
        assert!(session_cookie(None, 60, false).contains("Max-Age=0"));
        assert_eq!(cookie_value("a=1; askpanel_session=xyz; b=2", SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie_value("askpanel_sessionx=1", SESSION_COOKIE), None);
    }
}
