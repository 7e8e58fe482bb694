//! The WebSocket frames of API.md. Parsing is strict and total: any text
//! gives either a frame or an error with a code, never a panic.

use askpanel_actors::domain::PanelId;
use askpanel_actors::panel::view::PanelView;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Longest accepted `ref`, in characters.
pub const MAX_REF_CHARS: usize = 128;

/// A client frame.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientFrame {
    Subscribe { panel_id: PanelId, after_seq: Option<u64> },
    Unsubscribe { panel_id: PanelId },
    Input { panel_id: PanelId, member_id: String, text: String, rating: Option<u8>, confidence: Option<f64> },
    Moderate { panel_id: PanelId, action: String, text: Option<String> },
    Ping { id: Option<Value> },
}

/// Why a frame was refused, as an `error` frame's code and message.
#[derive(Clone, Debug, PartialEq)]
pub struct FrameError {
    pub code: &'static str,
    pub message: String,
}

impl FrameError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

/// A parsed frame with its `ref` (echoed in the answer even when the frame is bad).
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    pub reference: Option<Value>,
    pub frame: Result<ClientFrame, FrameError>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubscribeFields {
    panel_id: PanelId,
    #[serde(default)]
    after_seq: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PanelFields {
    panel_id: PanelId,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InputFields {
    panel_id: PanelId,
    member_id: String,
    text: String,
    #[serde(default)]
    rating: Option<u8>,
    #[serde(default)]
    confidence: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModerateFields {
    panel_id: PanelId,
    action: String,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PingFields {
    #[serde(default)]
    id: Option<Value>,
}

fn fields<T: DeserializeOwned>(object: Map<String, Value>, kind: &str) -> Result<T, FrameError> {
    serde_json::from_value(Value::Object(object)).map_err(|e| {
        let text = e.to_string();
        let text = text.rfind(" at line ").map_or(text.as_str(), |i| &text[..i]).to_string();
        FrameError::new("validation_failed", format!("{kind}: {text}"))
    })
}

/// A `ref` worth echoing: a short string or a number.
fn valid_ref(value: Option<Value>) -> Option<Value> {
    match value? {
        Value::String(s) if s.chars().count() <= MAX_REF_CHARS => Some(Value::String(s)),
        Value::Number(n) => Some(Value::Number(n)),
        _ => None,
    }
}

/// Parses one text frame.
pub fn parse_client_frame(text: &str) -> Parsed {
    // Strict as HTTP bodies: a key twice is refused, not read as its last value.
    let value: Value = match crate::validation::parse_json_strict(text.as_bytes()) {
        Ok(v) => v,
        Err(crate::validation::StrictJsonError::Duplicate(key)) => {
            let message = format!("`{key}` appears more than once");
            return Parsed { reference: None, frame: Err(FrameError::new("validation_failed", message)) };
        }
        Err(crate::validation::StrictJsonError::Invalid(e)) => {
            return Parsed { reference: None, frame: Err(FrameError::new("invalid_frame", format!("not JSON: {e}"))) };
        }
    };
    let Value::Object(mut object) = value else {
        return Parsed {
            reference: None,
            frame: Err(FrameError::new("invalid_frame", "a frame must be a JSON object")),
        };
    };
    let reference = valid_ref(object.remove("ref"));
    if object.values().any(crate::validation::has_nul) {
        return Parsed {
            reference,
            frame: Err(FrameError::new("validation_failed", "strings must not contain NUL characters")),
        };
    }
    let frame = match object.remove("type") {
        None => Err(FrameError::new("validation_failed", "missing field `type`")),
        Some(Value::String(kind)) => match kind.as_str() {
            "subscribe" => fields::<SubscribeFields>(object, "subscribe")
                .map(|f| ClientFrame::Subscribe { panel_id: f.panel_id, after_seq: f.after_seq }),
            "unsubscribe" => {
                fields::<PanelFields>(object, "unsubscribe").map(|f| ClientFrame::Unsubscribe { panel_id: f.panel_id })
            }
            "input" => fields::<InputFields>(object, "input").map(|f| ClientFrame::Input {
                panel_id: f.panel_id,
                member_id: f.member_id,
                text: f.text,
                rating: f.rating,
                confidence: f.confidence,
            }),
            "moderate" => fields::<ModerateFields>(object, "moderate").map(|f| ClientFrame::Moderate {
                panel_id: f.panel_id,
                action: f.action,
                text: f.text,
            }),
            "ping" => fields::<PingFields>(object, "ping").map(|f| ClientFrame::Ping { id: f.id }),
            other => {
                let shown: String = other.chars().take(40).collect();
                Err(FrameError::new("unknown_type", format!("unknown frame type `{shown}`")))
            }
        },
        Some(_) => Err(FrameError::new("validation_failed", "`type` must be a string")),
    };
    Parsed { reference, frame }
}

/// A panel's snapshot as a subscription starts: the panel, and who watches it.
#[derive(Serialize)]
pub struct Snapshot<'a> {
    #[serde(flatten)]
    pub view: &'a PanelView,
    pub presence: &'a crate::presence::PresenceView,
}

/// Server frames built here (events and tokens come pre-serialised from the bus).
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame<'a> {
    Subscribed {
        panel_id: PanelId,
        head_seq: u64,
        snapshot: Snapshot<'a>,
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<&'a Value>,
    },
    Ack {
        #[serde(rename = "ref")]
        reference: &'a Value,
    },
    Error {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<&'a Value>,
        code: &'a str,
        message: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        panel_id: Option<PanelId>,
    },
    Lagged {
        panel_id: PanelId,
        resume_after_seq: u64,
    },
    Pong {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a Value>,
    },
}

impl ServerFrame<'_> {
    pub fn to_text(&self) -> String {
        // These frames hold plain data; serialising them cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PANEL: &str = "0193a000-0000-7000-8000-0000000000aa";

    #[test]
    fn every_client_frame_of_the_api_parses() {
        let p = parse_client_frame(&format!(r#"{{"type":"subscribe","panel_id":"{PANEL}","after_seq":4,"ref":"a1"}}"#));
        assert_eq!(p.reference, Some(Value::String("a1".into())));
        assert!(matches!(p.frame, Ok(ClientFrame::Subscribe { after_seq: Some(4), .. })));
        assert!(matches!(
            parse_client_frame(&format!(r#"{{"type":"unsubscribe","panel_id":"{PANEL}"}}"#)).frame,
            Ok(ClientFrame::Unsubscribe { .. })
        ));
        assert!(matches!(
            parse_client_frame(&format!(r#"{{"type":"input","panel_id":"{PANEL}","member_id":"m","text":"hi"}}"#))
                .frame,
            Ok(ClientFrame::Input { .. })
        ));
        assert!(matches!(
            parse_client_frame(&format!(r#"{{"type":"moderate","panel_id":"{PANEL}","action":"pause"}}"#)).frame,
            Ok(ClientFrame::Moderate { text: None, .. })
        ));
        assert_eq!(
            parse_client_frame(r#"{"type":"ping","id":7,"ref":3}"#).frame,
            Ok(ClientFrame::Ping { id: Some(Value::from(7)) })
        );
    }

    #[test]
    fn bad_frames_get_codes_and_keep_their_ref() {
        assert_eq!(parse_client_frame("not json").frame.unwrap_err().code, "invalid_frame");
        assert_eq!(parse_client_frame("[1]").frame.unwrap_err().code, "invalid_frame");
        let p = parse_client_frame(r#"{"type":"launch","ref":"x"}"#);
        assert_eq!(p.frame.unwrap_err().code, "unknown_type");
        assert_eq!(p.reference, Some(Value::String("x".into())));
        assert_eq!(parse_client_frame(r#"{"type":"subscribe"}"#).frame.unwrap_err().code, "validation_failed");
        assert_eq!(
            parse_client_frame(r#"{"type":"subscribe","panel_id":"nope"}"#).frame.unwrap_err().code,
            "validation_failed"
        );
        assert_eq!(
            parse_client_frame(&format!(r#"{{"type":"subscribe","panel_id":"{PANEL}","x":1}}"#))
                .frame
                .unwrap_err()
                .code,
            "validation_failed"
        );
        assert_eq!(parse_client_frame(r#"{"panel_id":"x"}"#).frame.unwrap_err().code, "validation_failed");
        assert_eq!(parse_client_frame(r#"{"type":5}"#).frame.unwrap_err().code, "validation_failed");
        assert_eq!(
            parse_client_frame(&format!(r#"{{"type":"subscribe","panel_id":"{PANEL}","after_seq":-1}}"#))
                .frame
                .unwrap_err()
                .code,
            "validation_failed"
        );
        // An object ref is not echoed.
        assert_eq!(parse_client_frame(r#"{"type":"ping","ref":{"a":1}}"#).reference, None);
    }

    proptest! {
        #[test]
        fn any_text_parses_without_panicking(text in ".{0,300}") {
            let _ = parse_client_frame(&text);
        }

        #[test]
        fn any_json_object_parses_without_panicking(
            kind in prop_oneof![Just("subscribe".to_string()), Just("unsubscribe".to_string()), Just("input".to_string()), Just("moderate".to_string()), Just("ping".to_string()), ".{0,12}"],
            key in "[a-z_]{1,10}",
            value in prop_oneof![Just(Value::Null), any::<i64>().prop_map(Value::from), ".{0,20}".prop_map(Value::from), any::<bool>().prop_map(Value::from)],
        ) {
            let mut object = Map::new();
            object.insert("type".into(), Value::from(kind));
            object.insert(key, value);
            let _ = parse_client_frame(&Value::Object(object).to_string());
        }
    }
}
