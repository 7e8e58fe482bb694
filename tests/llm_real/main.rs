//! A real model in the loop: the engine against llama.cpp's OpenAI-compatible
//! server and SmolLM2-135M-Instruct on this machine, offline (`.ci/llm-setup`
//! installs both; see `server.rs` for how they are found).

pub const BACKEND: helpers::Backend = helpers::Backend::Sqlite;

#[path = "../api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

mod formats;
mod grounded;
mod outage;
mod records;
mod server;
