//! The wire of an OpenAI-compatible server as this adapter reads it:
//! streamed chunks and completions (read leniently: servers differ in what
//! else they send), how its errors are classified, the output-format
//! requests, and checks of what a model wrote.

use askpanel_actors::domain::RatingTarget;
use askpanel_actors::model::ModelError;
use async_openai::error::OpenAIError;
use serde::Deserialize;
use serde_json::{Value, json};

use super::LADDER;
use super::breaker::CircuitBreaker;
use super::prompt::{self, Message, RatingFormat};

#[derive(Deserialize)]
pub(super) struct ChunkDelta {
    #[serde(default)]
    pub(super) content: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct ChunkChoice {
    #[serde(default)]
    pub(super) delta: Option<ChunkDelta>,
    #[serde(default)]
    pub(super) finish_reason: Option<String>,
}

#[derive(Deserialize, Default, Clone, Copy)]
pub(super) struct UsageBody {
    #[serde(default)]
    pub(super) prompt_tokens: u64,
    #[serde(default)]
    pub(super) completion_tokens: u64,
}

/// A streamed chunk, read leniently: servers differ in what else they send.
#[derive(Deserialize)]
pub(super) struct Chunk {
    #[serde(default)]
    pub(super) choices: Vec<ChunkChoice>,
    #[serde(default)]
    pub(super) usage: Option<UsageBody>,
}

#[derive(Deserialize)]
pub(super) struct CompletionMessage {
    #[serde(default)]
    pub(super) content: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct CompletionChoice {
    pub(super) message: CompletionMessage,
}

#[derive(Deserialize)]
pub(super) struct Completion {
    #[serde(default)]
    pub(super) choices: Vec<CompletionChoice>,
    #[serde(default)]
    pub(super) usage: Option<UsageBody>,
}

/// Rough token count when the server reports none: about four characters a token.
pub(super) fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

pub(super) fn messages_json(messages: &[Message]) -> Value {
    json!(messages)
}

pub(super) fn model_error(error: &OpenAIError) -> ModelError {
    ModelError::Request(match error {
        OpenAIError::ApiError(api) => {
            format!("{} {}", api.status_code.as_u16(), api.api_error.message.chars().take(200).collect::<String>())
        }
        other => other.to_string().chars().take(300).collect(),
    })
}

/// Whether an error means the server cannot be reached at all (down,
/// restarting): not the turn's fault, so the breaker opens at once and the
/// panel waits for the server instead of spending the member's attempts.
pub(super) fn unreachable(error: &OpenAIError) -> bool {
    match error {
        OpenAIError::Reqwest(e) => {
            e.is_connect()
                || std::error::Error::source(e)
                    .is_some_and(|s| s.to_string().to_lowercase().contains("connection refused"))
        }
        _ => false,
    }
}

/// The error of a failed call, after telling the breaker.
pub(super) fn failed(breaker: &CircuitBreaker, error: &OpenAIError) -> ModelError {
    if unreachable(error) {
        breaker.trip();
        return ModelError::Unavailable(format!(
            "the model server cannot be reached: {}",
            error.to_string().chars().take(200).collect::<String>()
        ));
    }
    breaker.failure();
    model_error(error)
}

/// Whether an error says the server does not know a request field.
pub(super) fn rejects(error: &OpenAIError, field: &str) -> bool {
    matches!(error, OpenAIError::ApiError(api) if api.status_code.as_u16() == 400 || api.status_code.as_u16() == 422)
        && error.to_string().to_lowercase().contains(field)
}

/// Whether an error to a request that asked for an output format may be the
/// server refusing that format. Servers refuse in many ways (400, 422, 500
/// with a validation message, 501); rate limits, gateway errors, timeouts
/// and broken connections are outages, not refusals.
pub(super) fn refuses_format(error: &OpenAIError) -> bool {
    match error {
        OpenAIError::ApiError(api) => matches!(api.status_code.as_u16(), 400 | 404 | 415 | 422 | 500 | 501),
        OpenAIError::JSONDeserialize(..) => true,
        _ => false,
    }
}

/// The format to try after `format` is refused.
pub(super) fn next_format(format: RatingFormat) -> RatingFormat {
    LADDER.iter().position(|f| *f == format).and_then(|i| LADDER.get(i + 1)).copied().unwrap_or(RatingFormat::Trailer)
}

/// The `response_format` of a request in a format.
pub(super) fn response_format(format: RatingFormat, target: RatingTarget) -> Option<Value> {
    match format {
        RatingFormat::Json => Some(
            json!({"type": "json_schema", "json_schema": {"name": "panel_turn", "strict": true, "schema": prompt::turn_schema(target, false)}}),
        ),
        // llama.cpp's server takes a `schema` beside `json_object` and enforces it as a grammar; others ignore it.
        RatingFormat::JsonObject => Some(json!({"type": "json_object", "schema": prompt::turn_schema(target, true)})),
        RatingFormat::Trailer => None,
    }
}

/// Whether the text ends in a loop: its last block of 8 to 200 bytes
/// repeated three times in a row.
pub(super) fn repeating_tail(text: &str) -> bool {
    let bytes = text.as_bytes();
    let n = bytes.len();
    (8..=200.min(n / 3))
        .any(|p| bytes[n - p..] == bytes[n - 2 * p..n - p] && bytes[n - 2 * p..n - p] == bytes[n - 3 * p..n - 2 * p])
}

/// Whether an answer repeats a long passage (a sentence of 60 characters or
/// more) of its own prompt.
pub(super) fn echoes(text: &str, messages: &[Message]) -> bool {
    text.split(['.', '\n', '?', '!'])
        .map(str::trim)
        .filter(|s| s.len() >= 60)
        .any(|s| messages.iter().any(|m| m.role != "assistant" && m.content.contains(s)))
}

/// The JSON object inside an answer (models sometimes wrap it in prose or fences).
pub(super) fn json_slice(answer: &str) -> &str {
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
        let prompt =
            [Message::user("Question: Should our AI ECG triage device pursue 510(k) or De Novo, given the predicate?")];
        assert!(echoes(
            "Sure. Should our AI ECG triage device pursue 510(k) or De Novo, given the predicate? Yes.",
            &prompt
        ));
        assert!(!echoes("De Novo, because the predicate is weak.", &prompt));
    }
}
