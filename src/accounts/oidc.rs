//! Single sign-on with OpenID Connect (the `openidconnect` crate), for the
//! tenants named in `accounts.oidc_tenants`. The authorization code flow
//! with PKCE, a nonce and a state bound to the browser by a short-lived,
//! signed, HttpOnly cookie (so any node can finish what another started,
//! and a login cannot be planted in someone else's browser). The ID token's
//! signature, issuer, audience, expiry and nonce are checked by the crate.
//! A sign-in finds its account by the bound identity (`issuer|subject`), or
//! else by a verified email of an active or invited account, which it then
//! binds; nobody gets an account by signing in.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio::sync::RwLock;

use crate::configuration::AccountSettings;

/// The pending sign-in's cookie.
pub const PENDING_COOKIE: &str = "askpanel_oidc";
/// How long a sign-in may take at the provider.
pub const PENDING_TTL_S: i64 = 600;
/// How long the provider's discovery document is trusted.
const METADATA_TTL: Duration = Duration::from_secs(3600);

#[derive(Debug, Error)]
pub enum OidcError {
    #[error("single sign-on is not configured")]
    Disabled,
    #[error("the identity provider could not be reached or answered wrongly: {0}")]
    Provider(String),
    #[error("the sign-in could not be verified: {0}")]
    Invalid(String),
}

/// What the browser carries between the start and the callback.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    /// The tenant's id.
    pub t: uuid::Uuid,
    /// State, nonce and PKCE verifier.
    pub s: String,
    pub n: String,
    pub v: String,
    /// The redirect URI the flow began with.
    pub r: String,
    /// Expiry, seconds since the epoch.
    pub e: i64,
}

/// Who the provider says signed in.
#[derive(Clone, Debug, PartialEq)]
pub struct Identity {
    /// `issuer|subject`: what an account is bound to.
    pub subject: String,
    /// The address, when the provider has verified it.
    pub verified_email: Option<String>,
}

pub struct Oidc {
    issuer: String,
    client_id: String,
    client_secret: Option<String>,
    pub tenants: Vec<String>,
    http: reqwest::Client,
    metadata: RwLock<Option<(CoreProviderMetadata, std::time::Instant)>>,
}

impl Oidc {
    /// `None` when no issuer is configured.
    pub fn new(settings: &AccountSettings) -> anyhow::Result<Option<Arc<Self>>> {
        if settings.oidc_issuer.is_empty() {
            return Ok(None);
        }
        anyhow::ensure!(
            !settings.oidc_client_id.is_empty(),
            "settings: accounts.oidc_client_id is required with an issuer"
        );
        let client_secret = std::env::var(&settings.oidc_client_secret_env).ok().filter(|s| !s.is_empty());
        // The provider's answers are never followed elsewhere.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Some(Arc::new(Self {
            issuer: settings.oidc_issuer.clone(),
            client_id: settings.oidc_client_id.clone(),
            client_secret,
            tenants: settings.oidc_tenants.clone(),
            http,
            metadata: RwLock::new(None),
        })))
    }

    /// Whether a tenant's members may sign in with the provider.
    pub fn serves(&self, slug: &str) -> bool {
        self.tenants.iter().any(|t| t == slug)
    }

    async fn metadata(&self) -> Result<CoreProviderMetadata, OidcError> {
        if let Some((metadata, at)) = self.metadata.read().await.as_ref()
            && at.elapsed() < METADATA_TTL
        {
            return Ok(metadata.clone());
        }
        let issuer = IssuerUrl::new(self.issuer.clone()).map_err(|e| OidcError::Provider(e.to_string()))?;
        let http = self.http_client();
        let metadata = CoreProviderMetadata::discover_async(issuer, &http)
            .await
            .map_err(|e| OidcError::Provider(format!("discovery: {e}")))?;
        *self.metadata.write().await = Some((metadata.clone(), std::time::Instant::now()));
        Ok(metadata)
    }

    fn http_client(
        &self,
    ) -> impl Fn(
        openidconnect::HttpRequest,
    ) -> std::pin::Pin<
        Box<dyn Future<Output = Result<openidconnect::HttpResponse, HttpError>> + Send + 'static>,
    > + '_ {
        move |request: openidconnect::HttpRequest| {
            let client = self.http.clone();
            Box::pin(async move {
                let (parts, body) = request.into_parts();
                let mut outgoing = client.request(parts.method, parts.uri.to_string()).body(body);
                for (name, value) in &parts.headers {
                    outgoing = outgoing.header(name, value);
                }
                let response = outgoing.send().await.map_err(|e| HttpError(e.to_string()))?;
                let mut builder = http::Response::builder().status(response.status());
                for (name, value) in response.headers() {
                    builder = builder.header(name, value);
                }
                // Provider documents are small; a huge one is refused.
                let bytes = response.bytes().await.map_err(|e| HttpError(e.to_string()))?;
                if bytes.len() > 1 << 20 {
                    return Err(HttpError("the provider's answer is larger than 1 MiB".into()));
                }
                builder.body(bytes.to_vec()).map_err(|e| HttpError(e.to_string()))
            })
        }
    }

    fn client(
        &self,
        metadata: CoreProviderMetadata,
        redirect: &str,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        OidcError,
    > {
        let redirect = RedirectUrl::new(redirect.to_string()).map_err(|e| OidcError::Invalid(e.to_string()))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.client_id.clone()),
            self.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(redirect))
    }

    /// Where to send the browser, and what it must bring back.
    pub async fn start(
        &self,
        tenant: uuid::Uuid,
        redirect: &str,
        login_hint: Option<&str>,
    ) -> Result<(String, Pending), OidcError> {
        let client = self.client(self.metadata().await?, redirect)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge);
        if let Some(hint) = login_hint {
            request = request.add_extra_param("login_hint", hint.to_string());
        }
        let (url, state, nonce) = request.url();
        let pending = Pending {
            t: tenant,
            s: state.secret().clone(),
            n: nonce.secret().clone(),
            v: verifier.secret().clone(),
            r: redirect.to_string(),
            e: Utc::now().timestamp() + PENDING_TTL_S,
        };
        Ok((url.to_string(), pending))
    }

    /// Exchanges the code and verifies the ID token.
    pub async fn finish(&self, pending: &Pending, code: &str) -> Result<Identity, OidcError> {
        let client = self.client(self.metadata().await?, &pending.r)?;
        let http = self.http_client();
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| OidcError::Provider(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.v.clone()))
            .request_async(&http)
            .await
            .map_err(|e| OidcError::Provider(format!("token: {e}")))?;
        let token = response.id_token().ok_or_else(|| OidcError::Invalid("no ID token in the answer".into()))?;
        let claims = token
            .claims(&client.id_token_verifier(), &Nonce::new(pending.n.clone()))
            .map_err(|e| OidcError::Invalid(e.to_string()))?;
        let verified_email = match (claims.email(), claims.email_verified()) {
            (Some(email), Some(true)) => Some(email.as_str().to_string()),
            _ => None,
        };
        Ok(Identity { subject: format!("{}|{}", claims.issuer().as_str(), claims.subject().as_str()), verified_email })
    }
}

/// An HTTP failure talking to the provider.
#[derive(Debug, Error)]
#[error("{0}")]
pub struct HttpError(String);

/// The pending sign-in as a cookie value: its JSON and a MAC under `secret`.
pub fn seal(pending: &Pending, mac: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(pending).unwrap_or_default());
    let tag = URL_SAFE_NO_PAD.encode(mac(payload.as_bytes()));
    format!("{payload}.{tag}")
}

/// The pending sign-in of a cookie, if its MAC holds and it has not expired.
pub fn open(raw: &str, verify: impl Fn(&[u8], &[u8]) -> bool, now: i64) -> Option<Pending> {
    let (payload, tag) = raw.split_once('.')?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    if !verify(payload.as_bytes(), &tag) {
        return None;
    }
    let pending: Pending = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    (pending.e >= now).then_some(pending)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_sign_in_opens_only_with_its_mac_and_before_it_expires() {
        let pending = Pending {
            t: uuid::Uuid::new_v4(),
            s: "state".into(),
            n: "nonce".into(),
            v: "verifier".into(),
            r: "http://x/cb".into(),
            e: 1000,
        };
        let mac = |data: &[u8]| data.iter().rev().copied().collect::<Vec<u8>>();
        let verify = |data: &[u8], tag: &[u8]| mac(data) == tag;
        let sealed = seal(&pending, mac);
        assert_eq!(open(&sealed, verify, 999), Some(pending.clone()));
        assert_eq!(open(&sealed, verify, 1001), None, "expired");
        let (payload, tag) = sealed.split_once('.').unwrap();
        let forged = format!("{}.{tag}", URL_SAFE_NO_PAD.encode(b"{\"t\":\"00000000-0000-0000-0000-000000000000\"}"));
        assert_eq!(open(&forged, verify, 0), None);
        assert_eq!(open(payload, verify, 0), None);
        assert_eq!(open("", verify, 0), None);
    }
}
