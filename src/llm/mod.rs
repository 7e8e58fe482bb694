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
mod turn;
mod wire;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use askpanel_actors::event::Verdict;
use askpanel_actors::model::{
    Bid, BidRequest, DraftRequest, Drafted, ExpertModel, JudgeRequest, ModelError, SynthesisRequest, TurnRequest,
    TurnStream, Usage,
};
use askpanel_actors::panel::feedback::{Feedback, MAX_ARGUMENTS};
use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::middleware::ReqwestService;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::configuration::LlmSettings;
use crate::metrics::Metrics;
use breaker::CircuitBreaker;
use prompt::{Message, RatingFormat};
use wire::{Completion, UsageBody, estimate_tokens, failed, json_slice, messages_json, next_format, refuses_format};

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

impl OpenAiModel {
    pub fn new(settings: &LlmSettings, api_key: Option<String>, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        anyhow::ensure!(!settings.base_url.is_empty(), "llm.base_url is required for the openai provider");
        anyhow::ensure!(!settings.model.is_empty(), "llm.model is required for the openai provider");
        let mut config = OpenAIConfig::new().with_api_base(settings.base_url.trim_end_matches('/'));
        if let Some(key) = api_key {
            config = config.with_api_key(key);
        }
        let http =
            reqwest::Client::builder().connect_timeout(Duration::from_secs(10)).pool_max_idle_per_host(256).build()?;
        let retry = retry::JitteredRetry::new(
            settings.max_retries as usize,
            Duration::from_millis(250),
            Duration::from_secs(10),
        );
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
            slots: (settings.max_concurrent_requests > 0)
                .then(|| tokio::sync::Semaphore::new(settings.max_concurrent_requests)),
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
            learned
                .entry(model.to_string())
                .or_insert(Learned { format: self.start_format, ignored: 0, json_refused: false })
                .json_refused = true;
        }
    }

    /// Remembers that `model` takes no better than the format after `from`.
    fn step_down(&self, model: &str, from: RatingFormat) -> RatingFormat {
        let next = next_format(from);
        let mut learned = self.lock_learned();
        if learned.len() < MAX_LEARNED_MODELS || learned.contains_key(model) {
            let entry =
                learned.entry(model.to_string()).or_insert(Learned { format: next, ignored: 0, json_refused: false });
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
        let request = self
            .http
            .post(format!("{root}/extras/tokenize/count"))
            .json(&json!({"input": text, "model": model}))
            .timeout(Duration::from_secs(10));
        let answer = match request.send().await {
            Ok(response) if response.status().is_success() => {
                response.json::<Value>().await.ok().and_then(|v| v["count"].as_u64())
            }
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
    async fn stream_usage_of(
        &self,
        model: &str,
        reported: Option<UsageBody>,
        messages: &[Message],
        answer: &str,
    ) -> Usage {
        if let Some(u) = reported {
            return Usage { prompt_tokens: u.prompt_tokens, completion_tokens: u.completion_tokens };
        }
        let prompt: String = messages.iter().map(|m| m.content.as_str()).collect::<Vec<_>>().join("\n");
        if let Some(completion_tokens) = self.server_count(model, answer).await
            && let Some(prompt_tokens) = self.server_count(model, &prompt).await
        {
            return Usage { prompt_tokens, completion_tokens };
        }
        Usage {
            prompt_tokens: messages.iter().map(|m| estimate_tokens(&m.content)).sum(),
            completion_tokens: estimate_tokens(answer),
        }
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
    async fn complete(
        &self,
        model: &str,
        messages: &[Message],
        max_tokens: u32,
        format: Option<Value>,
    ) -> Result<(String, Usage), ModelError> {
        let _slot = self.slot().await;
        self.complete_in_slot(model, messages, max_tokens, format).await
    }

    /// [`Inner::complete`] for a caller that holds a call slot already.
    async fn complete_in_slot(
        &self,
        model: &str,
        messages: &[Message],
        max_tokens: u32,
        format: Option<Value>,
    ) -> Result<(String, Usage), ModelError> {
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
        let mut result =
            tokio::time::timeout(timeout, self.client.chat().create_byot::<Value, Completion>(body.clone())).await;
        if let Ok(Err(error)) = &result
            && asked
            && refuses_format(error)
        {
            body.as_object_mut().map(|o| o.remove("response_format"));
            result = tokio::time::timeout(timeout, self.client.chat().create_byot::<Value, Completion>(body)).await;
            if matches!(result, Ok(Ok(_))) {
                self.refuse_json(model);
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
                    || Usage {
                        prompt_tokens: messages.iter().map(|m| estimate_tokens(&m.content)).sum(),
                        completion_tokens: estimate_tokens(&text),
                    },
                    |u| Usage { prompt_tokens: u.prompt_tokens, completion_tokens: u.completion_tokens },
                );
                Ok((text, usage))
            }
        }
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
            let (answer, usage) = inner
                .complete(&model, &prompt::bid_messages(&request), 40, Some(json!({"type": "json_object"})))
                .await?;
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
            let (text, usage) =
                inner.complete(&inner.settings.model, &messages, inner.settings.max_tokens, None).await?;
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
            let (answer, usage) =
                inner.complete(&inner.settings.model, &messages, 300, Some(json!({"type": "json_object"}))).await?;
            inner.record(&request.tenant_id.to_string(), started, usage);
            let value: Value = serde_json::from_str(json_slice(&answer))
                .map_err(|_| ModelError::Request("the judge's answer is not JSON".into()))?;
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
