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

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use askpanel_actors::event::Verdict;
use askpanel_actors::model::rating::parse_trailer;
use askpanel_actors::model::{Bid, BidRequest, DraftRequest, Drafted, ExpertModel, JudgeRequest, ModelError, TurnChunk, TurnOutput, TurnRequest, TurnStream, Usage};
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
use stream::{JsonTextExtractor, TrailerFilter};

/// Whether the server accepts a request feature; learned from its answers.
const UNKNOWN: u8 = 0;
const SUPPORTED: u8 = 1;
const UNSUPPORTED: u8 = 2;

struct Inner {
    client: Client<OpenAIConfig>,
    settings: LlmSettings,
    breaker: CircuitBreaker,
    metrics: Arc<Metrics>,
    json_schema: AtomicU8,
    stream_usage: AtomicU8,
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

/// Whether an error says the server does not know a request field.
fn rejects(error: &OpenAIError, field: &str) -> bool {
    matches!(error, OpenAIError::ApiError(api) if api.status_code.as_u16() == 400 || api.status_code.as_u16() == 422) && error.to_string().to_lowercase().contains(field)
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
        let service = tower::ServiceBuilder::new().retry(retry).service(ReqwestService::new(http));
        let client = Client::with_config(config).with_http_service(service);
        let inner = Inner {
            client,
            settings: settings.clone(),
            breaker: CircuitBreaker::new(settings.breaker_failures, Duration::from_secs(settings.breaker_cooldown_s)),
            metrics,
            json_schema: AtomicU8::new(match settings.structured_output.as_str() {
                "json_schema" => SUPPORTED,
                "trailer" => UNSUPPORTED,
                _ => UNKNOWN,
            }),
            stream_usage: AtomicU8::new(UNKNOWN),
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

    /// One non-streaming completion; returns its text and usage.
    async fn complete(&self, model: &str, messages: &[Message], max_tokens: u32, json_object: bool) -> Result<(String, Usage), ModelError> {
        if !self.breaker.allow() {
            return Err(ModelError::Unavailable("the model backend is failing; calls are paused".into()));
        }
        let mut body = json!({
            "model": model,
            "messages": messages_json(messages),
            "temperature": self.settings.temperature,
            "max_tokens": max_tokens,
        });
        if json_object && self.json_schema.load(Ordering::Relaxed) != UNSUPPORTED {
            body["response_format"] = json!({"type": "json_object"});
        }
        let timeout = Duration::from_secs(self.settings.request_timeout_s.max(1));
        let mut result = tokio::time::timeout(timeout, self.client.chat().create_byot::<Value, Completion>(body.clone())).await;
        if let Ok(Err(error)) = &result {
            if json_object && rejects(error, "response_format") {
                body.as_object_mut().map(|o| o.remove("response_format"));
                result = tokio::time::timeout(timeout, self.client.chat().create_byot::<Value, Completion>(body)).await;
            }
        }
        match result {
            Err(_) => {
                self.breaker.failure();
                Err(ModelError::Timeout(timeout.as_secs()))
            }
            Ok(Err(error)) => {
                self.breaker.failure();
                Err(model_error(&error))
            }
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

    async fn stream_turn(&self, request: &TurnRequest, out: &mpsc::Sender<Result<TurnChunk, ModelError>>) -> Result<TurnOutput, ModelError> {
        if !self.breaker.allow() {
            return Err(ModelError::Unavailable("the model backend is failing; calls are paused".into()));
        }
        let rate = request.view.rate;
        let schema = rate && self.json_schema.load(Ordering::Relaxed) != UNSUPPORTED;
        let format = if schema { RatingFormat::Json } else { RatingFormat::Trailer };
        let messages = prompt::turn_messages(request, self.settings.context_chars, format);
        let model = self.model_for(request.profile.model.as_ref());
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
        if schema {
            body["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "panel_turn", "strict": true, "schema": prompt::turn_schema()}});
        }
        let timeout = Duration::from_secs(self.settings.request_timeout_s.max(1));
        let stall = Duration::from_secs(self.settings.stall_timeout_s.max(1));
        // Start the stream; a server that refuses an optional field gets the request again without it.
        let mut schema = schema;
        let mut attempt_body = body;
        let stream = loop {
            match tokio::time::timeout(timeout, self.client.chat().create_stream_byot::<Value, Chunk>(attempt_body.clone())).await {
                Err(_) => {
                    self.breaker.failure();
                    return Err(ModelError::Timeout(timeout.as_secs()));
                }
                Ok(Ok(stream)) => break stream,
                Ok(Err(error)) if schema && rejects(&error, "response_format") => {
                    self.json_schema.store(UNSUPPORTED, Ordering::Relaxed);
                    schema = false;
                    let trailer = prompt::turn_messages(request, self.settings.context_chars, RatingFormat::Trailer);
                    attempt_body.as_object_mut().map(|o| o.remove("response_format"));
                    attempt_body["messages"] = messages_json(&trailer);
                }
                Ok(Err(error)) if attempt_body.get("stream_options").is_some() && rejects(&error, "stream_options") => {
                    self.stream_usage.store(UNSUPPORTED, Ordering::Relaxed);
                    attempt_body.as_object_mut().map(|o| o.remove("stream_options"));
                }
                Ok(Err(error)) => {
                    self.breaker.failure();
                    return Err(model_error(&error));
                }
            }
        };
        let messages: Vec<Message> = serde_json::from_value::<Vec<Value>>(attempt_body["messages"].clone())
            .unwrap_or_default()
            .into_iter()
            .map(|m| Message { role: if m["role"] == "system" { "system" } else { "user" }, content: m["content"].as_str().unwrap_or_default().to_string() })
            .collect();
        let mut stream = stream;
        let mut json_text = schema.then(JsonTextExtractor::new);
        let mut trailer = (!schema).then(TrailerFilter::new);
        let mut usage: Option<UsageBody> = None;
        let mut first = true;
        loop {
            let next = match tokio::time::timeout(stall, stream.next()).await {
                Err(_) => {
                    self.breaker.failure();
                    return Err(ModelError::Stream(format!("no token for {} s", stall.as_secs())));
                }
                Ok(next) => next,
            };
            match next {
                None => break,
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
                    for content in chunk.choices.into_iter().filter_map(|c| c.delta.and_then(|d| d.content)) {
                        let shown = match (&mut json_text, &mut trailer) {
                            (Some(x), _) => x.push(&content),
                            (_, Some(f)) => f.push(&content),
                            _ => String::new(),
                        };
                        if !shown.is_empty() && out.send(Ok(TurnChunk::Delta(shown))).await.is_err() {
                            // The panel cancelled the turn: drop the stream (and the connection).
                            return Err(ModelError::Stream("cancelled".into()));
                        }
                    }
                }
            }
        }
        // The end: the rest of the text, the rating, the usage.
        let (rest, text, mut rating, mut confidence, raw) = match (json_text, trailer) {
            (Some(x), _) => {
                let (raw, decoded) = x.finish();
                let parsed: Option<Value> = serde_json::from_str(&raw).ok();
                let rating = parsed.as_ref().and_then(|v| v["rating"].as_f64()).filter(|r| r.fract() == 0.0 && (1.0..=9.0).contains(r)).map(|r| r as u8);
                let confidence = parsed.as_ref().and_then(|v| v["confidence"].as_f64()).filter(|c| (0.0..=1.0).contains(c));
                (String::new(), decoded, rating, confidence, raw)
            }
            (_, Some(f)) => {
                let (rest, parsed) = f.finish();
                (rest, parsed.text, parsed.rating, parsed.confidence, String::new())
            }
            _ => unreachable!("one reader is always set"),
        };
        if !rest.is_empty() {
            let _ = out.send(Ok(TurnChunk::Delta(rest))).await;
        }
        let mut usage = usage.map_or_else(
            || Usage { prompt_tokens: messages.iter().map(|m| estimate_tokens(&m.content)).sum(), completion_tokens: estimate_tokens(if raw.is_empty() { &text } else { &raw }) },
            |u| Usage { prompt_tokens: u.prompt_tokens, completion_tokens: u.completion_tokens },
        );
        if rate && rating.is_none() {
            // One short follow-up asking only for the rating.
            let followup = prompt::rating_followup(&messages, &text);
            if let Ok((answer, extra)) = self.complete(&self.model_for(request.profile.model.as_ref()), &followup, 30, false).await {
                let parsed = parse_trailer(&answer);
                rating = parsed.rating;
                confidence = parsed.confidence;
                usage.prompt_tokens += extra.prompt_tokens;
                usage.completion_tokens += extra.completion_tokens;
            }
        }
        let ideas = if request.view.task == TurnTask::Brainstorm { extract_ideas(&text) } else { Vec::new() };
        Ok(TurnOutput { text, rating, confidence, ideas, usage })
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
            let (answer, usage) = inner.complete(&model, &prompt::bid_messages(&request), 40, true).await?;
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
            let (text, usage) = inner.complete(&inner.settings.model, &messages, inner.settings.max_tokens, false).await?;
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
            let (answer, usage) = inner.complete(&inner.settings.model, &messages, 300, true).await?;
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
}

/// The JSON object inside an answer (models sometimes wrap it in prose or fences).
fn json_slice(answer: &str) -> &str {
    match (answer.find('{'), answer.rfind('}')) {
        (Some(start), Some(end)) if end > start => &answer[start..=end],
        _ => answer,
    }
}
