//! The `openai` expert model: any OpenAI-compatible chat completions server
//! (OpenAI, vLLM, Ollama, llama.cpp, gateways) through async-openai.
//!
//! - Turns stream: deltas go to clients as they arrive, with the rating
//!   trailer held back ([`stream`]); JSON-schema structured output when the
//!   server supports it, else a parsed trailer; one short follow-up when the
//!   rating is unreadable; still unreadable: the turn keeps its text and no
//!   rating.
//! - Failures before the stream starts are retried with exponential backoff
//!   and jitter, honouring `Retry-After` ([`retry`]); an error or a stall
//!   mid-stream ends the turn with an error (the panel voids it and runs it
//!   again); a shared circuit breaker ([`breaker`]) fails fast while the
//!   backend is down (the panel pauses until it is back).
//! - Token usage comes from the stream's usage chunk, or is estimated.

pub mod breaker;
pub mod prompt;
pub mod retry;
pub mod stream;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use askpanel_actors::domain::RatingTarget;
use askpanel_actors::event::Verdict;
use askpanel_actors::model::rating::parse_trailer;
use askpanel_actors::model::{
    Bid, BidRequest, DraftRequest, Drafted, ExpertModel, JudgeRequest, ModelError, RatingRead, SynthesisRequest, TurnChunk, TurnFlag, TurnOutput, TurnRequest, TurnStream, Usage,
};
use askpanel_actors::panel::feedback::{Feedback, MAX_ARGUMENTS};
use askpanel_actors::panel::ideas::extract_ideas;
use askpanel_actors::panel::strategy::TurnTask;
use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::middleware::ReqwestService;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::configuration::LlmSettings;
use crate::metrics::Metrics;
use breaker::CircuitBreaker;
use prompt::{Message, RatingFormat};
use stream::TurnReader;

/// Whether the server accepts `stream_options`; learned from its answers.
const UNKNOWN: u8 = 0;
const SUPPORTED: u8 = 1;
const UNSUPPORTED: u8 = 2;

/// Models whose learned output format is remembered (beyond it, learning
/// starts over from the configured format: bounded by construction).
const MAX_LEARNED_MODELS: usize = 64;
/// JSON asked for and prose received this many times in a row: the server
/// ignores the request, so ask for the trailer.
const IGNORED_BEFORE_STEP_DOWN: u32 = 2;

/// The output formats, best first.
const LADDER: [RatingFormat; 3] = [RatingFormat::Json, RatingFormat::JsonObject, RatingFormat::Trailer];

/// What a server and model take, learned per model from their answers.
#[derive(Clone, Copy, Debug)]
struct Learned {
    format: RatingFormat,
    /// JSON answers that came back as prose, in a row.
    ignored: u32,
    /// The server refused `json_object` itself (short calls then ask for none).
    json_refused: bool,
}

struct Inner {
    client: Client<OpenAIConfig>,
    /// Plain HTTP to the server, for its tokenizer (`/extras/tokenize/count`).
    http: reqwest::Client,
    /// Whether the server counts tokens on request (llama-cpp-python does).
    tokenizer: AtomicU8,
    settings: LlmSettings,
    breaker: CircuitBreaker,
    metrics: Arc<Metrics>,
    /// The configured starting format.
    start_format: RatingFormat,
    learned: std::sync::Mutex<HashMap<String, Learned>>,
    stream_usage: AtomicU8,
    /// Bounds the calls in flight (`llm.max_concurrent_requests`).
    slots: Option<tokio::sync::Semaphore>,
}

/// The OpenAI-compatible expert model.
#[derive(Clone)]
pub struct OpenAiModel {
    inner: Arc<Inner>,
}

#[derive(Deserialize)]
struct ChunkDelta {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    delta: Option<ChunkDelta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default, Clone, Copy)]
struct UsageBody {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

/// A streamed chunk, read leniently: servers differ in what else they send.
#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    #[serde(default)]
    usage: Option<UsageBody>,
}

#[derive(Deserialize)]
struct CompletionMessage {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct CompletionChoice {
    message: CompletionMessage,
}

#[derive(Deserialize)]
struct Completion {
    #[serde(default)]
    choices: Vec<CompletionChoice>,
    #[serde(default)]
    usage: Option<UsageBody>,
}

/// Rough token count when the server reports none: about four characters a token.
fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

fn messages_json(messages: &[Message]) -> Value {
    json!(messages)
}

fn model_error(error: &OpenAIError) -> ModelError {
    ModelError::Request(match error {
        OpenAIError::ApiError(api) => format!("{} {}", api.status_code.as_u16(), api.api_error.message.chars().take(200).collect::<String>()),
        other => other.to_string().chars().take(300).collect(),
    })
}

/// Whether an error means the server cannot be reached at all (down,
/// restarting): not the turn's fault, so the breaker opens at once and the
/// panel waits for the server instead of spending the member's attempts.
fn unreachable(error: &OpenAIError) -> bool {
    match error {
        OpenAIError::Reqwest(e) => e.is_connect() || std::error::Error::source(e).is_some_and(|s| s.to_string().to_lowercase().contains("connection refused")),
        _ => false,
    }
}

/// The error of a failed call, after telling the breaker.
fn failed(breaker: &CircuitBreaker, error: &OpenAIError) -> ModelError {
    if unreachable(error) {
        breaker.trip();
        return ModelError::Unavailable(format!("the model server cannot be reached: {}", error.to_string().chars().take(200).collect::<String>()));
    }
    breaker.failure();
    model_error(error)
}

/// Whether an error says the server does not know a request field.
fn rejects(error: &OpenAIError, field: &str) -> bool {
    matches!(error, OpenAIError::ApiError(api) if api.status_code.as_u16() == 400 || api.status_code.as_u16() == 422) && error.to_string().to_lowercase().contains(field)
}

/// Whether an error to a request that asked for an output format may be the
/// server refusing that format. Servers refuse in many ways (400, 422, 500
/// with a validation message, 501); rate limits, gateway errors, timeouts
/// and broken connections are outages, not refusals.
fn refuses_format(error: &OpenAIError) -> bool {
    match error {
        OpenAIError::ApiError(api) => matches!(api.status_code.as_u16(), 400 | 404 | 415 | 422 | 500 | 501),
        OpenAIError::JSONDeserialize(..) => true,
        _ => false,
    }
}

/// The format to try after `format` is refused.
fn next_format(format: RatingFormat) -> RatingFormat {
    LADDER.iter().position(|f| *f == format).and_then(|i| LADDER.get(i + 1)).copied().unwrap_or(RatingFormat::Trailer)
}

/// The `response_format` of a request in a format.
fn response_format(format: RatingFormat, target: RatingTarget) -> Option<Value> {
    match format {
        RatingFormat::Json => Some(json!({"type": "json_schema", "json_schema": {"name": "panel_turn", "strict": true, "schema": prompt::turn_schema(target, false)}})),
        // llama.cpp's server takes a `schema` beside `json_object` and enforces it as a grammar; others ignore it.
        RatingFormat::JsonObject => Some(json!({"type": "json_object", "schema": prompt::turn_schema(target, true)})),
        RatingFormat::Trailer => None,
    }
}

impl OpenAiModel {
    pub fn new(settings: &LlmSettings, api_key: Option<String>, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        anyhow::ensure!(!settings.base_url.is_empty(), "llm.base_url is required for the openai provider");
        anyhow::ensure!(!settings.model.is_empty(), "llm.model is required for the openai provider");
        let mut config = OpenAIConfig::new().with_api_base(settings.base_url.trim_end_matches('/'));
        if let Some(key) = api_key {
            config = config.with_api_key(key);
        }
        let http = reqwest::Client::builder().connect_timeout(Duration::from_secs(10)).pool_max_idle_per_host(256).build()?;
        let retry = retry::JitteredRetry::new(settings.max_retries as usize, Duration::from_millis(250), Duration::from_secs(10));
        let service = tower::ServiceBuilder::new().retry(retry).service(ReqwestService::new(http.clone()));
        let client = Client::with_config(config).with_http_service(service);
        let inner = Inner {
            client,
            http,
            tokenizer: AtomicU8::new(UNKNOWN),
            settings: settings.clone(),
            breaker: CircuitBreaker::new(settings.breaker_failures, Duration::from_secs(settings.breaker_cooldown_s)),
            metrics,
            start_format: match settings.structured_output.as_str() {
                "json_object" => RatingFormat::JsonObject,
                "trailer" => RatingFormat::Trailer,
                _ => RatingFormat::Json,
            },
            learned: std::sync::Mutex::new(HashMap::new()),
            stream_usage: AtomicU8::new(UNKNOWN),
            slots: (settings.max_concurrent_requests > 0).then(|| tokio::sync::Semaphore::new(settings.max_concurrent_requests)),
        };
        Ok(Self { inner: Arc::new(inner) })
    }
}

impl Inner {
    fn model_for(&self, profile_model: Option<&String>) -> String {
        profile_model.filter(|m| !m.is_empty()).cloned().unwrap_or_else(|| self.settings.model.clone())
    }

    fn record(&self, tenant: &str, started: Instant, usage: Usage) {
        self.metrics.llm_duration.with_label_values(&[tenant]).observe(started.elapsed().as_secs_f64());
        self.metrics.llm_tokens.with_label_values(&[tenant, "in"]).inc_by(usage.prompt_tokens);
        self.metrics.llm_tokens.with_label_values(&[tenant, "out"]).inc_by(usage.completion_tokens);
    }

    fn lock_learned(&self) -> std::sync::MutexGuard<'_, HashMap<String, Learned>> {
        // Only plain data is behind the lock: a panic elsewhere leaves it usable.
        self.learned.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The best format `model` is known to take.
    fn format_for(&self, model: &str) -> RatingFormat {
        self.lock_learned().get(model).map_or(self.start_format, |l| l.format)
    }

    /// Whether `model`'s server is known to refuse `json_object`.
    fn json_refused(&self, model: &str) -> bool {
        self.lock_learned().get(model).is_some_and(|l| l.json_refused)
    }

    /// Remembers that `model`'s server refuses `json_object`.
    fn refuse_json(&self, model: &str) {
        let mut learned = self.lock_learned();
        if learned.len() < MAX_LEARNED_MODELS || learned.contains_key(model) {
            learned.entry(model.to_string()).or_insert(Learned { format: self.start_format, ignored: 0, json_refused: false }).json_refused = true;
        }
    }

    /// Remembers that `model` takes no better than the format after `from`.
    fn step_down(&self, model: &str, from: RatingFormat) -> RatingFormat {
        let next = next_format(from);
        let mut learned = self.lock_learned();
        if learned.len() < MAX_LEARNED_MODELS || learned.contains_key(model) {
            let entry = learned.entry(model.to_string()).or_insert(Learned { format: next, ignored: 0, json_refused: false });
            if LADDER.iter().position(|f| *f == entry.format) < LADDER.iter().position(|f| *f == next) {
                entry.format = next;
            }
            entry.ignored = 0;
            entry.json_refused |= from == RatingFormat::JsonObject;
        }
        tracing::info!(%model, from = ?from, to = ?next, "the model server does not take this output format; using the next one");
        next
    }

    /// Records whether a JSON request got JSON back; prose too often steps down.
    fn answered(&self, model: &str, format: RatingFormat, was_json: bool) {
        if !format.is_json() {
            return;
        }
        let ignored = {
            let mut learned = self.lock_learned();
            if learned.len() >= MAX_LEARNED_MODELS && !learned.contains_key(model) {
                return;
            }
            let entry = learned.entry(model.to_string()).or_insert(Learned { format, ignored: 0, json_refused: false });
            entry.ignored = if was_json { 0 } else { entry.ignored + 1 };
            entry.ignored
        };
        if ignored >= IGNORED_BEFORE_STEP_DOWN {
            self.step_down(model, format);
        }
    }

    /// The server's own count of `text`'s tokens, when it offers a tokenizer
    /// (llama-cpp-python's `/extras/tokenize/count`, next to `/v1`); learned
    /// once: a server without it is not asked again.
    async fn server_count(&self, model: &str, text: &str) -> Option<u64> {
        if self.tokenizer.load(Ordering::Relaxed) == UNSUPPORTED {
            return None;
        }
        let root = self.settings.base_url.trim_end_matches('/').trim_end_matches("/v1");
        let request = self.http.post(format!("{root}/extras/tokenize/count")).json(&json!({"input": text, "model": model})).timeout(Duration::from_secs(10));
        let answer = match request.send().await {
            Ok(response) if response.status().is_success() => response.json::<Value>().await.ok().and_then(|v| v["count"].as_u64()),
            Ok(response) if response.status().is_client_error() => {
                self.tokenizer.store(UNSUPPORTED, Ordering::Relaxed);
                return None;
            }
            _ => None,
        };
        if answer.is_some() {
            self.tokenizer.store(SUPPORTED, Ordering::Relaxed);
        }
        answer
    }

    /// A streamed turn's usage: the server's usage chunk, else its tokenizer's
    /// counts of the prompt's messages and of the answer, else an estimate
    /// (about four characters a token).
    async fn stream_usage_of(&self, model: &str, reported: Option<UsageBody>, messages: &[Message], answer: &str) -> Usage {
        if let Some(u) = reported {
            return Usage { prompt_tokens: u.prompt_tokens, completion_tokens: u.completion_tokens };
        }
        let prompt: String = messages.iter().map(|m| m.content.as_str()).collect::<Vec<_>>().join("\n");
        if let Some(completion_tokens) = self.server_count(model, answer).await {
            if let Some(prompt_tokens) = self.server_count(model, &prompt).await {
                return Usage { prompt_tokens, completion_tokens };
            }
        }
        Usage { prompt_tokens: messages.iter().map(|m| estimate_tokens(&m.content)).sum(), completion_tokens: estimate_tokens(answer) }
    }

    /// Waits for a call slot (not counted in the request timeout).
    async fn slot(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        match &self.slots {
            Some(slots) => slots.acquire().await.ok(),
            None => None,
        }
    }

    /// One non-streaming completion; returns its text and usage. With a
    /// `format` (a `json_object`, with or without a schema), the answer is
    /// asked for in it unless the server is known to refuse it: short calls
    /// (bids, the judge, the facilitator, the rating follow-up) ask for JSON
    /// in every mode, since a grammar-enforcing server then always answers
    /// in shape.
    async fn complete(&self, model: &str, messages: &[Message], max_tokens: u32, format: Option<Value>) -> Result<(String, Usage), ModelError> {
        let _slot = self.slot().await;
        self.complete_in_slot(model, messages, max_tokens, format).await
    }

    /// [`Inner::complete`] for a caller that holds a call slot already.
    async fn complete_in_slot(&self, model: &str, messages: &[Message], max_tokens: u32, format: Option<Value>) -> Result<(String, Usage), ModelError> {
        if !self.breaker.allow() {
            return Err(ModelError::Unavailable("the model backend is failing; calls are paused".into()));
        }
        let mut body = json!({
            "model": model,
            "messages": messages_json(messages),
            "temperature": self.settings.temperature,
            "max_tokens": max_tokens,
        });
        let asked = format.is_some() && !self.json_refused(model);
        if let (true, Some(format)) = (asked, format) {
            body["response_format"] = format;
        }
        let timeout = Duration::from_secs(self.settings.request_timeout_s.max(1));
        let mut result = tokio::time::timeout(timeout, self.client.chat().create_byot::<Value, Completion>(body.clone())).await;
        if let Ok(Err(error)) = &result {
            if asked && refuses_format(error) {
                body.as_object_mut().map(|o| o.remove("response_format"));
                result = tokio::time::timeout(timeout, self.client.chat().create_byot::<Value, Completion>(body)).await;
                if matches!(result, Ok(Ok(_))) {
                    self.refuse_json(model);
                }
            }
        }
        match result {
            Err(_) => {
                self.breaker.failure();
                Err(ModelError::Timeout(timeout.as_secs()))
            }
            Ok(Err(error)) => Err(failed(&self.breaker, &error)),
            Ok(Ok(completion)) => {
                self.breaker.success();
                let text = completion.choices.into_iter().next().and_then(|c| c.message.content).unwrap_or_default();
                let usage = completion.usage.map_or_else(
                    || Usage { prompt_tokens: messages.iter().map(|m| estimate_tokens(&m.content)).sum(), completion_tokens: estimate_tokens(&text) },
                    |u| Usage { prompt_tokens: u.prompt_tokens, completion_tokens: u.completion_tokens },
                );
                Ok((text, usage))
            }
        }
    }

    /// Streams one turn into `out`; returns early when the receiver is gone.
    async fn run_turn(self: Arc<Self>, request: TurnRequest, out: mpsc::Sender<Result<TurnChunk, ModelError>>) {
        let started = Instant::now();
        let tenant = request.tenant_id.to_string();
        match self.stream_turn(&request, &out).await {
            Ok(output) => {
                self.record(&tenant, started, output.usage);
                let _ = out.send(Ok(TurnChunk::Done(output))).await;
            }
            // The panel dropped the turn (pause, cancel): nobody to tell.
            Err(_) if out.is_closed() => {}
            Err(error) => {
                self.metrics.errors.with_label_values(&["llm"]).inc();
                let _ = out.send(Err(error)).await;
            }
        }
    }

    /// The request body of a turn in `format`.
    fn turn_body(&self, request: &TurnRequest, model: &str, format: RatingFormat) -> (Vec<Message>, Value) {
        let messages = prompt::turn_messages(request, self.settings.context_chars, format);
        let mut body = json!({
            "model": model,
            "messages": messages_json(&messages),
            "temperature": self.settings.temperature,
            "max_tokens": self.settings.max_tokens,
            "stream": true,
        });
        if self.stream_usage.load(Ordering::Relaxed) != UNSUPPORTED {
            body["stream_options"] = json!({"include_usage": true});
        }
        if let Some(response_format) = response_format(format, request.view.rating_target) {
            body["response_format"] = response_format;
        }
        (messages, body)
    }

    async fn stream_turn(&self, request: &TurnRequest, out: &mpsc::Sender<Result<TurnChunk, ModelError>>) -> Result<TurnOutput, ModelError> {
        if !self.breaker.allow() {
            return Err(ModelError::Unavailable("the model backend is failing; calls are paused".into()));
        }
        let _slot = self.slot().await;
        let rate = request.view.rate;
        let model = self.model_for(request.profile.model.as_ref());
        // Only a rated turn asks for structured output.
        let mut format = if rate { self.format_for(&model) } else { RatingFormat::Trailer };
        let (mut messages, mut body) = self.turn_body(request, &model, format);
        let timeout = Duration::from_secs(self.settings.request_timeout_s.max(1));
        let stall = Duration::from_secs(self.settings.stall_timeout_s.max(1));
        // Start the stream; a server that refuses an optional field gets the
        // request again without it. A refused format is remembered once the
        // next one is taken (a failure that was an outage teaches nothing).
        let mut refused: Vec<RatingFormat> = Vec::new();
        let stream = loop {
            match tokio::time::timeout(timeout, self.client.chat().create_stream_byot::<Value, Chunk>(body.clone())).await {
                Err(_) => {
                    self.breaker.failure();
                    return Err(ModelError::Timeout(timeout.as_secs()));
                }
                Ok(Ok(stream)) => {
                    for format in refused {
                        self.step_down(&model, format);
                    }
                    break stream;
                }
                Ok(Err(error)) if format.is_json() && refuses_format(&error) => {
                    tracing::debug!(%model, %error, "a structured-output request was refused");
                    refused.push(format);
                    format = next_format(format);
                    let keep_usage = body.get("stream_options").is_some();
                    (messages, body) = self.turn_body(request, &model, format);
                    if !keep_usage {
                        body.as_object_mut().map(|o| o.remove("stream_options"));
                    }
                }
                Ok(Err(error)) if body.get("stream_options").is_some() && rejects(&error, "stream_options") => {
                    self.stream_usage.store(UNSUPPORTED, Ordering::Relaxed);
                    body.as_object_mut().map(|o| o.remove("stream_options"));
                }
                Ok(Err(error)) => return Err(failed(&self.breaker, &error)),
            }
        };
        let mut stream = stream;
        let mut reader = TurnReader::new(format.is_json());
        let mut usage: Option<UsageBody> = None;
        let mut first = true;
        let mut raw = String::new();
        let mut flags: Vec<TurnFlag> = Vec::new();
        // Every server ends a complete answer with a finish reason; a stream
        // that just stops was cut off (the server dropped it or was interrupted).
        let mut finished = false;
        'read: loop {
            let next = match tokio::time::timeout(stall, stream.next()).await {
                Err(_) => {
                    self.breaker.failure();
                    return Err(ModelError::Stream(format!("no token for {} s", stall.as_secs())));
                }
                Ok(next) => next,
            };
            match next {
                None if finished || flags.contains(&TurnFlag::Repetition) => break,
                None => {
                    self.breaker.failure();
                    return Err(ModelError::Stream("the stream ended without a finish reason: the answer was cut off".into()));
                }
                Some(Err(error)) => {
                    self.breaker.failure();
                    return Err(ModelError::Stream(error.to_string().chars().take(300).collect()));
                }
                Some(Ok(chunk)) => {
                    if first {
                        self.breaker.success();
                        first = false;
                    }
                    if chunk.usage.is_some() {
                        usage = chunk.usage;
                        self.stream_usage.store(SUPPORTED, Ordering::Relaxed);
                    }
                    for choice in chunk.choices {
                        finished |= choice.finish_reason.as_deref().is_some_and(|r| !r.is_empty());
                        if choice.finish_reason.as_deref() == Some("length") && !flags.contains(&TurnFlag::Truncated) {
                            flags.push(TurnFlag::Truncated);
                        }
                        let Some(content) = choice.delta.and_then(|d| d.content) else { continue };
                        let shown = reader.push(&content);
                        if !shown.is_empty() && out.send(Ok(TurnChunk::Delta(shown))).await.is_err() {
                            // The panel cancelled the turn: drop the stream (and the connection).
                            return Err(ModelError::Stream("cancelled".into()));
                        }
                        raw.push_str(&content);
                        if repeating_tail(&raw) {
                            // A loop: what follows would only repeat it; stop reading (and generating).
                            flags.push(TurnFlag::Repetition);
                            break 'read;
                        }
                    }
                }
            }
        }
        // The end: the rest of the text, the rating, the usage.
        let read = reader.finish();
        if !read.rest.is_empty() {
            let _ = out.send(Ok(TurnChunk::Delta(read.rest.clone()))).await;
        }
        if rate {
            self.answered(&model, format, read.was_json || read.raw_chars == 0);
        }
        let (mut rating, mut confidence) = (read.rating, read.confidence);
        let mut rating_read = rating.map(|_| RatingRead::Direct);
        if read.text.trim().is_empty() {
            tracing::debug!(tenant_id = %request.tenant_id, panel_id = %request.panel_id, %model, answer_chars = raw.chars().count(), answer = %raw.chars().take(300).collect::<String>(), "the model's answer has no text");
            flags.push(TurnFlag::Empty);
        }
        if rate && rating.is_none() && read.rating_lines > 0 {
            flags.push(TurnFlag::RatingUnreadable);
        }
        if echoes(&read.text, &messages) {
            flags.push(TurnFlag::EchoedPrompt);
        }
        // The slot is held to the end of the turn: a one-slot server (llama.cpp's
        // interrupts the request in flight when another arrives) must not see
        // the token counts or the follow-up of this turn beside another turn.
        let mut usage = self.stream_usage_of(&model, usage, &messages, &raw).await;
        if rate && rating.is_none() {
            // One short follow-up asking only for the rating.
            let followup = prompt::rating_followup(&messages, &read.text, request.view.rating_target);
            let schema = json!({"type": "json_object", "schema": {"type": "object", "properties": {"rating": {"type": "integer", "enum": [1, 2, 3, 4, 5, 6, 7, 8, 9]}, "confidence": {"type": "number"}}, "required": ["rating", "confidence"]}});
            if let Ok((answer, extra)) = self.complete_in_slot(&model, &followup, 40, Some(schema)).await {
                let parsed = parse_trailer(&answer);
                let json: Option<Value> = serde_json::from_str(json_slice(&answer)).ok();
                rating = parsed.rating.or_else(|| json.as_ref().and_then(|v| v["rating"].as_f64()).filter(|r| r.fract() == 0.0 && (1.0..=9.0).contains(r)).map(|r| r as u8));
                confidence = parsed.confidence.or_else(|| json.as_ref().and_then(|v| v["confidence"].as_f64()).filter(|c| (0.0..=1.0).contains(c)));
                rating_read = rating.map(|_| RatingRead::FollowUp);
                usage.prompt_tokens += extra.prompt_tokens;
                usage.completion_tokens += extra.completion_tokens;
            }
            if rating.is_none() {
                flags.push(TurnFlag::RatingMissing);
            }
        }
        let ideas = if request.view.task == TurnTask::Brainstorm { extract_ideas(&read.text) } else { Vec::new() };
        Ok(TurnOutput { text: read.text, rating, confidence, rating_read, ideas, usage, flags })
    }
}

impl ExpertModel for OpenAiModel {
    fn name(&self) -> String {
        self.inner.settings.model.clone()
    }

    fn is_simulated(&self) -> bool {
        false
    }

    fn available(&self) -> bool {
        self.inner.breaker.available()
    }

    fn concurrent_turns(&self) -> bool {
        true
    }

    fn stream_turn(&self, request: TurnRequest) -> TurnStream {
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(self.inner.clone().run_turn(request, tx));
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }).boxed()
    }

    fn bid(&self, request: BidRequest) -> BoxFuture<'static, Result<(Bid, Usage), ModelError>> {
        let inner = self.inner.clone();
        async move {
            let model = inner.model_for(request.profile.model.as_ref());
            let started = Instant::now();
            let (answer, usage) = inner.complete(&model, &prompt::bid_messages(&request), 40, Some(json!({"type": "json_object"}))).await?;
            inner.record(&request.tenant_id.to_string(), started, usage);
            let value: Value = serde_json::from_str(json_slice(&answer)).unwrap_or(Value::Null);
            let bid = match (value["speak"].as_bool(), value["urgency"].as_f64()) {
                (Some(false), _) => Bid::Pass,
                (_, Some(u)) => Bid::Speak(u.clamp(0.0, 1.0)),
                _ => Bid::Speak(0.5),
            };
            Ok((bid, usage))
        }
        .boxed()
    }

    fn draft(&self, request: DraftRequest) -> BoxFuture<'static, Result<Drafted, ModelError>> {
        let inner = self.inner.clone();
        async move {
            let started = Instant::now();
            let messages = prompt::draft_messages(&request, inner.settings.context_chars);
            let (text, usage) = inner.complete(&inner.settings.model, &messages, inner.settings.max_tokens, None).await?;
            inner.record(&request.tenant_id.to_string(), started, usage);
            Ok(Drafted { text: text.trim().to_string(), usage })
        }
        .boxed()
    }

    fn judge(&self, request: JudgeRequest) -> BoxFuture<'static, Result<(Verdict, Usage), ModelError>> {
        let inner = self.inner.clone();
        async move {
            let messages = prompt::judge_messages(&request, inner.settings.context_chars);
            let started = Instant::now();
            let (answer, usage) = inner.complete(&inner.settings.model, &messages, 300, Some(json!({"type": "json_object"}))).await?;
            inner.record(&request.tenant_id.to_string(), started, usage);
            let value: Value = serde_json::from_str(json_slice(&answer)).map_err(|_| ModelError::Request("the judge's answer is not JSON".into()))?;
            let pro = value["pro_score"].as_f64().unwrap_or(0.0).clamp(0.0, 10.0);
            let con = value["con_score"].as_f64().unwrap_or(0.0).clamp(0.0, 10.0);
            let winner = match value["winner"].as_str() {
                Some(w @ ("pro" | "con" | "tie")) => w.to_string(),
                _ if (pro - con).abs() < 0.2 => "tie".into(),
                _ if pro > con => "pro".into(),
                _ => "con".into(),
            };
            let verdict = Verdict {
                winner,
                pro_score: pro,
                con_score: con,
                margin: ((pro - con).abs() * 10.0).round() / 10.0,
                rationale: value["rationale"].as_str().unwrap_or_default().to_string(),
            };
            Ok((verdict, usage))
        }
        .boxed()
    }

    fn synthesize(&self, request: SynthesisRequest) -> BoxFuture<'static, Result<(Feedback, Usage), ModelError>> {
        let inner = self.inner.clone();
        async move {
            let messages = prompt::synthesis_messages(&request, inner.settings.context_chars);
            let started = Instant::now();
            let format = json!({"type": "json_object"});
            let (answer, usage) = inner.complete(&inner.settings.model, &messages, inner.settings.max_tokens, Some(format)).await?;
            inner.record(&request.tenant_id.to_string(), started, usage);
            let value: Value = serde_json::from_str(json_slice(&answer)).unwrap_or(Value::Null);
            let list = |key: &str| -> Vec<String> {
                value[key]
                    .as_array()
                    .map(|a| a.iter().filter_map(|v| v.as_str()).map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).take(MAX_ARGUMENTS).collect())
                    .unwrap_or_default()
            };
            let (arguments_for, arguments_against, open_questions) = (list("arguments_for"), list("arguments_against"), list("open_questions"));
            if arguments_for.is_empty() && arguments_against.is_empty() && open_questions.is_empty() {
                // An answer that cannot be read: the rationales' own key sentences stand in.
                tracing::warn!(tenant_id = %request.tenant_id, panel_id = %request.panel_id, "the facilitator's synthesis could not be read; using the extractive one");
                return Ok((askpanel_actors::panel::feedback::extractive(request.round, &request.rationales), usage));
            }
            let feedback = Feedback {
                round: request.round,
                rationales: request.rationales.len(),
                arguments_for,
                arguments_against,
                open_questions,
                method: "facilitator".into(),
                condensed: 0,
            };
            Ok((feedback.fit(inner.settings.context_chars / 2), usage))
        }
        .boxed()
    }
}

/// Whether the text ends in a loop: its last block of 8 to 200 bytes
/// repeated three times in a row.
fn repeating_tail(text: &str) -> bool {
    let bytes = text.as_bytes();
    let n = bytes.len();
    (8..=200.min(n / 3)).any(|p| bytes[n - p..] == bytes[n - 2 * p..n - p] && bytes[n - 2 * p..n - p] == bytes[n - 3 * p..n - 2 * p])
}

/// Whether an answer repeats a long passage (a sentence of 60 characters or
/// more) of its own prompt.
fn echoes(text: &str, messages: &[Message]) -> bool {
    text.split(['.', '\n', '?', '!']).map(str::trim).filter(|s| s.len() >= 60).any(|s| messages.iter().any(|m| m.role != "assistant" && m.content.contains(s)))
}

/// The JSON object inside an answer (models sometimes wrap it in prose or fences).
fn json_slice(answer: &str) -> &str {
    match (answer.find('{'), answer.rfind('}')) {
        (Some(start), Some(end)) if end > start => &answer[start..=end],
        _ => answer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn any_answer_is_searched_for_json_and_loops_without_panicking(answer in "\\PC{0,400}") {
            let slice = json_slice(&answer);
            let _ = serde_json::from_str::<Value>(slice);
            let _ = repeating_tail(&answer);
            let _ = echoes(&answer, &[Message::user(answer.clone())]);
        }
    }

    #[test]
    fn a_repetition_loop_and_an_echoed_prompt_are_seen() {
        assert!(repeating_tail(&format!("Intro. {}", "the same words again ".repeat(3))));
        assert!(!repeating_tail("A normal answer that does not repeat itself at all, and ends."));
        let prompt = [Message::user("Question: Should our AI ECG triage device pursue 510(k) or De Novo, given the predicate?")];
        assert!(echoes("Sure. Should our AI ECG triage device pursue 510(k) or De Novo, given the predicate? Yes.", &prompt));
        assert!(!echoes("De Novo, because the predicate is weak.", &prompt));
    }
}
