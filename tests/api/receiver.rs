//! A webhook receiver the tests start themselves: real HTTP on port 0. It
//! verifies every delivery's Standard Webhooks signature itself (HMAC-SHA256
//! over `id.timestamp.body` with the endpoint's secret), keeps what arrived,
//! and answers with the status the test sets.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

/// One delivery attempt as it arrived.
#[derive(Clone, Debug)]
pub struct Arrival {
    pub id: String,
    pub timestamp: i64,
    pub signatures: Vec<String>,
    pub body: String,
    pub at: Instant,
    /// What the receiver answered.
    pub answered: u16,
}

impl Arrival {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    pub fn event_type(&self) -> String {
        self.json()["type"].as_str().unwrap_or_default().to_string()
    }

    /// Whether one of the signatures is that of `secret`.
    pub fn signed_with(&self, secret: &str) -> bool {
        let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap_or(secret)).expect("a base64 secret");
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).unwrap();
        mac.update(format!("{}.{}.{}", self.id, self.timestamp, self.body).as_bytes());
        let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
        self.signatures.contains(&expected)
    }
}

pub struct Receiver {
    pub url: String,
    arrivals: Arc<Mutex<Vec<Arrival>>>,
    status: Arc<AtomicU16>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(200));
        let (kept, answer) = (arrivals.clone(), status.clone());
        let server = HttpServer::new(move || {
            let (kept, answer) = (kept.clone(), answer.clone());
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let (kept, answer) = (kept.clone(), answer.clone());
                async move {
                    let header = |name: &str| {
                        req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
                    };
                    let answered = answer.load(Ordering::SeqCst);
                    kept.lock().unwrap().push(Arrival {
                        id: header("webhook-id"),
                        timestamp: header("webhook-timestamp").parse().unwrap_or(0),
                        signatures: header("webhook-signature").split(' ').map(str::to_string).collect(),
                        body: String::from_utf8_lossy(&body).into_owned(),
                        at: Instant::now(),
                        answered,
                    });
                    HttpResponse::build(actix_web::http::StatusCode::from_u16(answered).unwrap()).body("ok")
                }
            }))
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .expect("bind the receiver");
        let address = server.addrs()[0];
        actix_web::rt::spawn(server.run());
        Receiver { url: format!("http://{address}/hooks"), arrivals, status }
    }

    /// Answers every later delivery with `code`.
    pub fn answer(&self, code: u16) {
        self.status.store(code, Ordering::SeqCst);
    }

    pub fn all(&self) -> Vec<Arrival> {
        self.arrivals.lock().unwrap().clone()
    }

    /// Waits until `done` holds for what arrived.
    pub async fn wait(&self, what: &str, done: impl Fn(&[Arrival]) -> bool) -> Vec<Arrival> {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let all = self.all();
            if done(&all) {
                return all;
            }
            assert!(
                Instant::now() < deadline,
                "waiting for {what}; got {:?}",
                all.iter().map(|a| a.event_type()).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}
