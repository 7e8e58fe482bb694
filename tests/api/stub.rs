//! An OpenAI-compatible chat completions server in the test process: real
//! HTTP, `text/event-stream` chunks ending with `data: [DONE]`, scripted
//! failures, and a record of every request.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use bytes::Bytes;
use serde_json::{Value, json};

/// What the stub does with one request.
pub enum Reply {
    /// Stream `text` in chunks of `chunk` characters, `delay_ms` apart; `die_after`: drop the connection after that many chunks.
    Stream { text: String, chunk: usize, die_after: Option<usize>, delay_ms: u64 },
    /// A non-streamed completion.
    Complete(String),
    /// An error status, with an optional `Retry-After`.
    Status { code: u16, retry_after: Option<u64> },
    /// Never answer.
    Hang,
    /// Stream `text` and `[DONE]` but no finish reason: an answer cut off
    /// (llama.cpp's server does this to a request another one interrupts).
    Unfinished(String),
}

pub type Script = Arc<dyn Fn(usize, &Value) -> Reply + Send + Sync>;

pub struct Stub {
    pub url: String,
    pub requests: Arc<Mutex<Vec<(Instant, Value)>>>,
    pub calls: Arc<AtomicUsize>,
    /// Streams open now, and the most ever open at once (read by `tests/api` only).
    #[allow(dead_code)]
    pub streams: Arc<(AtomicUsize, AtomicUsize)>,
}

impl Reply {
    pub fn stream(text: impl Into<String>, chunk: usize) -> Reply {
        Reply::Stream { text: text.into(), chunk, die_after: None, delay_ms: 2 }
    }
}

impl Stub {
    pub fn bodies(&self) -> Vec<Value> {
        self.requests.lock().unwrap().iter().map(|(_, v)| v.clone()).collect()
    }
}

fn user_text(body: &Value) -> String {
    body["messages"]
        .as_array()
        .map(|m| m.iter().map(|x| x["content"].as_str().unwrap_or_default().to_string()).collect::<Vec<_>>().join("\n"))
        .unwrap_or_default()
}

pub fn is_stream(body: &Value) -> bool {
    body["stream"] == true
}

/// Whether a turn prompt asks for the `RATING:` line.
pub fn asks_trailer(prompt: &str) -> bool {
    prompt.contains("RATING: <whole number 1-9>") && !is_followup(prompt)
}

/// Whether a request is the follow-up that asks only for the rating.
pub fn is_followup(prompt: &str) -> bool {
    prompt.contains("Now give only your rating")
}

/// Whether a request asks for a JSON object (`json_schema` or `json_object`).
pub fn asks_json(body: &Value) -> bool {
    matches!(body["response_format"]["type"].as_str(), Some("json_schema" | "json_object"))
}

/// A well-behaved model: rated turns with a trailer (or JSON when asked), drafts, bids, verdicts.
pub fn healthy(n: usize, body: &Value) -> Reply {
    let prompt = user_text(body);
    if is_stream(body) {
        let mut text = format!(
            "Stub expert contribution {n}: the evidence favours a cautious pathway with a pre-submission meeting first."
        );
        if prompt.contains("each on its own line starting with \"- \"") {
            text.push_str(&format!("\n- stub idea {n} about monitoring\n- stub idea {n} about training data"));
        }
        let rated = asks_trailer(&prompt) || prompt.contains("\"rating\"");
        if asks_json(body) {
            return Reply::stream(json!({"text": text, "rating": 7, "confidence": 0.8}).to_string(), 9);
        }
        if rated {
            text.push_str("\nRATING: 7 CONFIDENCE: 0.8");
        }
        return Reply::stream(text, 7);
    }
    if is_followup(&prompt) {
        return Reply::Complete("RATING: 6 CONFIDENCE: 0.7".into());
    }
    if prompt.contains("\"speak\"") {
        return Reply::Complete(json!({"speak": !n.is_multiple_of(5), "urgency": 0.6}).to_string());
    }
    if prompt.contains("\"winner\"") {
        return Reply::Complete(json!({"winner": "pro", "pro_score": 7.5, "con_score": 6.0, "rationale": "The pro side answered the strongest objection."}).to_string());
    }
    Reply::Complete(
        "Recommendation: pursue De Novo, after a pre-submission meeting, with post-market monitoring.".into(),
    )
}

fn chunk_json(content: &str) -> String {
    json!({"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": 1, "model": "stub-model",
           "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}]})
    .to_string()
}

/// Counts a stream as open until it is dropped (finished or abandoned).
struct OpenStream(Arc<(AtomicUsize, AtomicUsize)>);

impl OpenStream {
    fn new(streams: Arc<(AtomicUsize, AtomicUsize)>) -> Self {
        let now = streams.0.fetch_add(1, Ordering::SeqCst) + 1;
        streams.1.fetch_max(now, Ordering::SeqCst);
        Self(streams)
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::SeqCst);
    }
}

type StubState =
    (Arc<Mutex<Script>>, Arc<Mutex<Vec<(Instant, Value)>>>, Arc<AtomicUsize>, Arc<(AtomicUsize, AtomicUsize)>);

async fn completions(state: web::Data<StubState>, body: web::Json<Value>) -> HttpResponse {
    let body = body.into_inner();
    let n = state.2.fetch_add(1, Ordering::SeqCst);
    state.1.lock().unwrap().push((Instant::now(), body.clone()));
    let script = state.0.lock().unwrap().clone();
    let usage = body["stream_options"]["include_usage"] == true;
    match script(n, &body) {
        Reply::Unfinished(text) => {
            let body = format!("data: {}\n\ndata: [DONE]\n\n", chunk_json(&text));
            HttpResponse::Ok().content_type("text/event-stream").body(body)
        }
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            HttpResponse::Ok().finish()
        }
        Reply::Status { code, retry_after } => {
            let mut response = HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap());
            if let Some(after) = retry_after {
                response.insert_header(("Retry-After", after.to_string()));
            }
            response.json(json!({"error": {"message": format!("stub says {code}"), "type": "server_error", "param": null, "code": null}}))
        }
        Reply::Complete(content) => HttpResponse::Ok().json(json!({
            "id": "chatcmpl-stub", "object": "chat.completion", "created": 1, "model": "stub-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 40, "completion_tokens": 20, "total_tokens": 60}
        })),
        Reply::Stream { text, chunk, die_after, delay_ms } => {
            let chars: Vec<char> = text.chars().collect();
            let mut items: Vec<Result<Bytes, std::io::Error>> = Vec::new();
            for (i, piece) in chars.chunks(chunk.max(1)).enumerate() {
                if die_after == Some(i) {
                    items.push(Err(std::io::Error::other("stub dies mid-stream")));
                    break;
                }
                items.push(Ok(Bytes::from(format!("data: {}\n\n", chunk_json(&piece.iter().collect::<String>())))));
            }
            if die_after.is_none() {
                // Real servers end a complete answer with a finish reason.
                let last = json!({"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": 1, "model": "stub-model",
                                  "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]});
                items.push(Ok(Bytes::from(format!("data: {last}\n\n"))));
                if usage {
                    let u = json!({"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": 1, "model": "stub-model", "choices": [],
                                   "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150}});
                    items.push(Ok(Bytes::from(format!("data: {u}\n\n"))));
                }
                items.push(Ok(Bytes::from_static(b"data: [DONE]\n\n")));
            }
            let open = Arc::new(OpenStream::new(state.3.clone()));
            let stream = futures::stream::iter(items).then(move |item| {
                let open = open.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                    drop(open);
                    item
                }
            });
            HttpResponse::Ok().content_type("text/event-stream").streaming(stream)
        }
    }
}

use futures::StreamExt;

/// Starts the stub on a free port.
pub fn start(script: Script) -> Stub {
    let script = Arc::new(Mutex::new(script));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let calls = Arc::new(AtomicUsize::new(0));
    let streams = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
    let data = web::Data::new((script.clone(), requests.clone(), calls.clone(), streams.clone()));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::JsonConfig::default().limit(8 << 20))
            .route("/v1/chat/completions", web::post().to(completions))
    })
    .listen(listener)
    .unwrap()
    .workers(2)
    .disable_signals()
    .run();
    actix_web::rt::spawn(server);
    Stub { url, requests, calls, streams }
}

/// The real server on port 0 with the `openai` backend pointed at `stub`
/// (short timeouts, a breaker that does not open), then `adjust`.
pub async fn app_with(
    stub: &Stub,
    adjust: impl FnOnce(&mut askpanel::configuration::Settings),
) -> crate::helpers::TestApp {
    let url = stub.url.clone();
    crate::helpers::spawn_app_with(move |s| {
        s.llm.provider = "openai".into();
        s.llm.base_url = format!("{url}/v1");
        s.llm.model = "stub-model".into();
        s.llm.api_key_env = "ASKPANEL_TEST_NO_SUCH_KEY".into();
        s.llm.request_timeout_s = 2;
        s.llm.stall_timeout_s = 1;
        s.llm.max_retries = 2;
        s.llm.breaker_failures = 1000;
        s.engine.budget_check_s = 1;
        adjust(s);
    })
    .await
}
