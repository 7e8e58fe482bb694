//! Webhooks (`docs/webhooks.md`): a tenant's endpoints hear about its
//! panels. Each delivery is signed as the Standard Webhooks specification
//! says (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64
//! HMAC-SHA256 of "{id}.{timestamp}.{body}">`), retried with exponential
//! backoff for a day, logged, and may be sent again by hand; an endpoint that
//! keeps failing is disabled and the tenant's admins are told.
//!
//! [`rules`] are pure (which events are sent and with what, the signature,
//! the retry schedule, the disabling rule, which targets are allowed);
//! [`sender`] claims and sends the deliveries. The store depends on the
//! rules only.

pub mod rules;
pub mod sender;

pub use rules::*;
