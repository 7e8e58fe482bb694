//! One WebSocket subscriber of one panel: it checks, as frames arrive, that
//! every durable event comes exactly once and in order and that token
//! offsets rebuild each turn's text; it measures latency from the server's
//! timestamp; the first subscriber of a hybrid panel also answers its human
//! turns.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// What a subscriber saw.
/// What a subscriber can say about one turn's deltas.
enum TurnText {
    /// No delta yet (a turn replayed from the log streams none).
    Waiting,
    /// Deltas from offset 0 without a gap.
    Building(String),
    /// Joined mid-turn or resumed after `lagged`: the text cannot be rebuilt here.
    Unverifiable,
}

#[derive(Debug, Default)]
pub struct Outcome {
    /// Events that arrived from the log (at or before the head when subscribing).
    pub replayed: u64,
    pub terminal: Option<String>,
    pub events: u64,
    pub frames: u64,
    pub lost: u64,
    pub duplicates: u64,
    pub reordered: u64,
    pub text_mismatches: u64,
    pub lagged: u64,
    pub event_latency_ms: Vec<f32>,
    pub token_latency_ms: Vec<f32>,
    pub errors: Vec<String>,
}

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type")]
    kind_of_frame: &'a str,
    seq: Option<u64>,
    ts: Option<&'a str>,
    kind: Option<&'a str>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
    turn_seq: Option<u64>,
    offset: Option<usize>,
    delta: Option<std::borrow::Cow<'a, str>>,
    resume_after_seq: Option<u64>,
    head_seq: Option<u64>,
    code: Option<&'a str>,
}

#[derive(Deserialize)]
struct TurnData {
    member_id: String,
    #[serde(default)]
    text: Option<String>,
}

fn latency_ms(ts: Option<&str>) -> Option<f32> {
    let ts = DateTime::parse_from_rfc3339(ts?).ok()?;
    Some(((Utc::now() - ts.with_timezone(&Utc)).num_microseconds()? as f32 / 1000.0).max(0.0))
}

/// Options of one subscriber.
pub struct Subscriber {
    pub ws_url: String,
    pub panel_id: String,
    /// Answer human turns of this panel.
    pub human: bool,
    pub deadline: tokio::time::Instant,
}

impl Subscriber {
    /// Runs to the panel's end; `connecting` is released once the socket is open.
    pub async fn run_with<T>(self, connecting: T) -> Outcome {
        let mut outcome = Outcome::default();
        if let Err(error) = self.watch(&mut outcome, Some(connecting)).await {
            outcome.errors.push(error);
        }
        outcome
    }

    async fn watch<T>(&self, out: &mut Outcome, mut connecting: Option<T>) -> Result<(), String> {
        let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
        let (mut socket, _) = tokio::time::timeout(
            Duration::from_secs(30),
            tokio_tungstenite::connect_async_with_config(&self.ws_url, Some(config), false),
        )
        .await
        .map_err(|_| "ws_connect_timeout".to_string())?
        .map_err(|e| format!("ws_connect: {e}"))?;
        // Connected: let the next socket connect.
        connecting.take();
        let subscribe = |after: u64| {
            serde_json::json!({"type": "subscribe", "panel_id": self.panel_id, "after_seq": after}).to_string()
        };
        socket.send(Message::text(subscribe(0))).await.map_err(|e| format!("ws_send: {e}"))?;
        let mut seen: Vec<bool> = vec![false];
        let mut max_seen = 0u64;
        // Turns in progress: turn_seq -> text so far; member -> turn_seq.
        let mut texts: HashMap<u64, TurnText> = HashMap::new();
        // Events up to this seq were committed before we subscribed: no live latency for them.
        let mut live_after = u64::MAX;
        let mut open: HashMap<String, u64> = HashMap::new();
        loop {
            let message = match tokio::time::timeout_at(self.deadline, socket.next()).await {
                Err(_) => return Err("deadline".into()),
                Ok(None) => return Err("ws_closed".into()),
                Ok(Some(Err(e))) => return Err(format!("ws_read: {e}")),
                Ok(Some(Ok(m))) => m,
            };
            let Message::Text(text) = message else { continue };
            out.frames += 1;
            let frame: Frame = serde_json::from_str(&text).map_err(|e| format!("bad_frame: {e}"))?;
            match frame.kind_of_frame {
                "event" => {
                    let seq = frame.seq.ok_or("event_without_seq")?;
                    let kind = frame.kind.unwrap_or_default();
                    out.events += 1;
                    if seq > live_after {
                        if let Some(ms) = latency_ms(frame.ts) {
                            out.event_latency_ms.push(ms);
                        }
                    } else {
                        out.replayed += 1;
                    }
                    if seen.len() <= seq as usize {
                        seen.resize(seq as usize + 1, false);
                    }
                    if seen[seq as usize] {
                        out.duplicates += 1;
                        continue;
                    }
                    if seq < max_seen {
                        out.reordered += 1;
                    }
                    seen[seq as usize] = true;
                    max_seen = max_seen.max(seq);
                    match kind {
                        "turn_started" => {
                            let data: TurnData = serde_json::from_str(frame.data.ok_or("no data")?.get())
                                .map_err(|e| format!("bad_turn: {e}"))?;
                            open.insert(data.member_id, seq);
                            texts.insert(seq, TurnText::Waiting);
                        }
                        "turn_completed" => {
                            let data: TurnData = serde_json::from_str(frame.data.ok_or("no data")?.get())
                                .map_err(|e| format!("bad_turn: {e}"))?;
                            if let Some(turn) = open.remove(&data.member_id)
                                && let Some(TurnText::Building(streamed)) = texts.remove(&turn)
                                && Some(&streamed) != data.text.as_ref()
                            {
                                out.text_mismatches += 1;
                            }
                        }
                        "turn_aborted" | "turn_skipped" => {
                            if let Ok(data) = serde_json::from_str::<TurnData>(frame.data.map_or("{}", |d| d.get()))
                                && let Some(turn) = open.remove(&data.member_id)
                            {
                                texts.remove(&turn);
                            }
                        }
                        "human_turn_requested" if self.human => {
                            let data: TurnData = serde_json::from_str(frame.data.ok_or("no data")?.get())
                                .map_err(|e| format!("bad_turn: {e}"))?;
                            let input = serde_json::json!({
                                "type": "input", "panel_id": self.panel_id, "member_id": data.member_id,
                                "text": "Speaking as the human member: I accept the draft if post-market monitoring is funded.\nRating: 7",
                            });
                            socket.send(Message::text(input.to_string())).await.map_err(|e| format!("ws_send: {e}"))?;
                        }
                        "panel_completed" | "panel_failed" | "panel_cancelled" => {
                            out.lost += (1..=seq).filter(|s| !seen[*s as usize]).count() as u64;
                            out.terminal = Some(kind.to_string());
                            let _ = socket.close(None).await;
                            return Ok(());
                        }
                        _ => {}
                    }
                }
                "token" => {
                    if let Some(ms) = latency_ms(frame.ts) {
                        out.token_latency_ms.push(ms);
                    }
                    let (Some(turn), Some(offset), Some(delta)) = (frame.turn_seq, frame.offset, frame.delta) else {
                        continue;
                    };
                    if let Some(slot) = texts.get_mut(&turn) {
                        match slot {
                            TurnText::Waiting if offset == 0 => *slot = TurnText::Building(delta.into_owned()),
                            TurnText::Waiting => *slot = TurnText::Unverifiable,
                            TurnText::Building(text) if text.chars().count() == offset => text.push_str(&delta),
                            TurnText::Building(_) => {
                                out.text_mismatches += 1;
                                *slot = TurnText::Unverifiable;
                            }
                            TurnText::Unverifiable => {}
                        }
                    }
                }
                "lagged" => {
                    out.lagged += 1;
                    let resume = frame.resume_after_seq.unwrap_or(0);
                    // Deltas were dropped: the turns in progress cannot be rebuilt.
                    for slot in texts.values_mut() {
                        *slot = TurnText::Unverifiable;
                    }
                    socket.send(Message::text(subscribe(resume))).await.map_err(|e| format!("ws_send: {e}"))?;
                }
                "subscribed" if live_after == u64::MAX => {
                    live_after = frame.head_seq.unwrap_or(0);
                }
                "error" => out.errors.push(format!("ws_error_{}", frame.code.unwrap_or("unknown"))),
                _ => {}
            }
        }
    }
}
