//! Black-box tests: the real server on port 0, over HTTP and WebSocket, on
//! a fresh SQLite database (`tests/api_postgres` runs the same on PostgreSQL).

pub const BACKEND: helpers::Backend = helpers::Backend::Sqlite;

mod accounts;
mod administration;
mod audit;
mod auth;
mod cli;
mod crash;
mod documents;
mod durability;
mod experts;
mod fidelity;
mod hardening;
mod helpers;
mod hostile;
mod hybrid;
mod keys;
mod limits;
mod llm;
mod notifications;
mod openapi;
mod panels;
mod presence;
mod prompts_doc;
mod receiver;
mod records;
mod restart;
mod smtp;
mod sse;
mod sso;
mod stub;
mod tenants;
mod webhooks;
mod ws;
