//! The black-box suite of `tests/api` again, on PostgreSQL (a fresh database
//! per test, the server connected as the row-level-security-bound
//! application role), plus tests of the row-level security itself.

pub const BACKEND: helpers::Backend = helpers::Backend::Postgres;

#[path = "../api/helpers.rs"]
mod helpers;
#[path = "../api/receiver.rs"]
mod receiver;
#[path = "../api/smtp.rs"]
mod smtp;
#[path = "../api/stub.rs"]
mod stub;

#[path = "../api/accounts.rs"]
mod accounts;
#[path = "../api/administration.rs"]
mod administration;
#[path = "../api/audit.rs"]
mod audit;
#[path = "../api/auth.rs"]
mod auth;
#[path = "../api/crash.rs"]
mod crash;
#[path = "../api/documents.rs"]
mod documents;
#[path = "../api/experts.rs"]
mod experts;
#[path = "../api/hostile.rs"]
mod hostile;
#[path = "../api/hybrid.rs"]
mod hybrid;
#[path = "../api/keys.rs"]
mod keys;
#[path = "../api/limits.rs"]
mod limits;
#[path = "../api/llm.rs"]
mod llm;
#[path = "../api/notifications.rs"]
mod notifications;
#[path = "../api/panels.rs"]
mod panels;
#[path = "../api/presence.rs"]
mod presence;
#[path = "../api/records.rs"]
mod records;
#[path = "../api/restart.rs"]
mod restart;
#[path = "../api/sse.rs"]
mod sse;
#[path = "../api/sso.rs"]
mod sso;
#[path = "../api/tenants.rs"]
mod tenants;
#[path = "../api/webhooks.rs"]
mod webhooks;
#[path = "../api/ws.rs"]
mod ws;

mod cluster;
mod locks;
mod rls;
