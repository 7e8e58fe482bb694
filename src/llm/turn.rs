//! A turn through the server: the prompt in the learned output format, the
//! stream read as it arrives (deltas out at once, the rating held back),
//! stalls and endless repetition cut off, a follow-up when the rating is
//! unreadable, and the token usage.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use askpanel_actors::model::rating::parse_trailer;
use askpanel_actors::model::{ModelError, RatingRead, TurnChunk, TurnFlag, TurnOutput, TurnRequest};
use askpanel_actors::panel::ideas::extract_ideas;
use askpanel_actors::panel::strategy::TurnTask;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::prompt::{self, Message, RatingFormat};
use super::stream::TurnReader;
use super::wire::{
    Chunk, UsageBody, echoes, failed, json_slice, messages_json, next_format, refuses_format, rejects, repeating_tail,
    response_format,
};
use super::{Inner, SUPPORTED, UNSUPPORTED};

impl Inner {
    /// Streams one turn into `out`; returns early when the receiver is gone.
    pub(super) async fn run_turn(
        self: Arc<Self>,
        request: TurnRequest,
        out: mpsc::Sender<Result<TurnChunk, ModelError>>,
    ) {
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
    pub(super) fn turn_body(&self, request: &TurnRequest, model: &str, format: RatingFormat) -> (Vec<Message>, Value) {
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

    pub(super) async fn stream_turn(
        &self,
        request: &TurnRequest,
        out: &mpsc::Sender<Result<TurnChunk, ModelError>>,
    ) -> Result<TurnOutput, ModelError> {
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
            match tokio::time::timeout(timeout, self.client.chat().create_stream_byot::<Value, Chunk>(body.clone()))
                .await
            {
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
                    return Err(ModelError::Stream(
                        "the stream ended without a finish reason: the answer was cut off".into(),
                    ));
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
                rating = parsed.rating.or_else(|| {
                    json.as_ref()
                        .and_then(|v| v["rating"].as_f64())
                        .filter(|r| r.fract() == 0.0 && (1.0..=9.0).contains(r))
                        .map(|r| r as u8)
                });
                confidence = parsed.confidence.or_else(|| {
                    json.as_ref().and_then(|v| v["confidence"].as_f64()).filter(|c| (0.0..=1.0).contains(c))
                });
                rating_read = rating.map(|_| RatingRead::FollowUp);
                usage.prompt_tokens += extra.prompt_tokens;
                usage.completion_tokens += extra.completion_tokens;
            }
            if rating.is_none() {
                flags.push(TurnFlag::RatingMissing);
            }
        }
        let ideas = if request.view.task == TurnTask::Brainstorm { extract_ideas(&read.text) } else { Vec::new() };
        Ok(TurnOutput {
            text: read.text,
            rating,
            confidence,
            rating_read,
            ideas,
            usage,
            flags,
            ..TurnOutput::default()
        })
    }
}
