//! What crosses Redis between nodes: panel frames in a compact binary form
//! (fields joined by the unit separator, the frame's JSON last), and routed
//! commands, their replies and control messages as JSON.

use std::time::Instant;

use askpanel_actors::domain::{Caller, KeyId, MemberId, PanelId, TenantId};
use askpanel_actors::event::ModeratorActionKind;
use askpanel_actors::panel::messages::{Command, PanelCommand, PanelError};
use bytestring::ByteString;
use serde::{Deserialize, Serialize};

use crate::bus::{Frame, FrameKind};

/// Separates a published frame's fields (the ASCII unit separator: JSON
/// text escapes it, so it cannot occur unescaped in the frame's text).
const SEP: u8 = 0x1f;

/// What one node tells all (`P:control`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Control {
    /// An API key was revoked: forget cached keys and close the key's sockets.
    KeyRevoked { key_id: KeyId },
    /// A tenant's record changed: read it again and apply it.
    TenantChanged { tenant_id: TenantId },
    /// A share link was revoked: close its open streams.
    ShareRevoked { share_id: uuid::Uuid },
    /// A person signed out (one session, or all of theirs): forget cached
    /// sessions and close their streams.
    SessionsEnded {
        user_id: askpanel_actors::domain::UserId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_id: Option<uuid::Uuid>,
    },
    /// A person's role or status changed: forget cached sessions.
    UserChanged { user_id: askpanel_actors::domain::UserId },
    /// A notification for a person: push its frame to their sockets (on
    /// every node but `origin`, which did so itself).
    Notified { origin: String, tenant_id: TenantId, user_id: askpanel_actors::domain::UserId, frame: String },
}

/// A command sent to the node owning a panel (`P:node:{owner}`).
#[derive(Serialize, Deserialize)]
pub struct RpcRequest {
    /// Matches the reply to the waiting caller on the sending node.
    pub id: u64,
    /// The sending node, where the reply goes (`P:reply:{from}`).
    pub from: String,
    pub tenant: TenantId,
    pub panel: PanelId,
    pub caller: WireCaller,
    pub command: WireCommand,
}

#[derive(Serialize, Deserialize)]
pub struct WireCaller {
    id: String,
    key_id: Option<KeyId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_id: Option<askpanel_actors::domain::UserId>,
    is_moderator: bool,
}

/// The commands that are routed: a human's input and a moderator's action
/// (platform commands run where they are given).
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WireCommand {
    Input { member_id: MemberId, text: String, rating: Option<u8>, confidence: Option<f64> },
    Moderate { action: ModeratorActionKind, text: Option<String> },
}

/// The owner's answer to an [`RpcRequest`].
#[derive(Serialize, Deserialize)]
pub struct RpcReply {
    pub id: u64,
    /// `None` for success, else the error.
    pub error: Option<WireError>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WireError {
    NotFound,
    /// The panel does not run on the node asked (it moved).
    NotRunning,
    Forbidden {
        message: String,
    },
    Conflict {
        message: String,
    },
    Invalid {
        field: String,
        message: String,
    },
    Unavailable {
        message: String,
    },
}

impl From<&Caller> for WireCaller {
    fn from(caller: &Caller) -> Self {
        WireCaller {
            id: caller.id.clone(),
            key_id: caller.key_id,
            user_id: caller.user_id,
            is_moderator: caller.is_moderator,
        }
    }
}

impl WireCommand {
    /// The routed form of a command; `None` for commands that are not routed.
    pub fn from_command(command: &Command) -> Option<Self> {
        match command {
            Command::HumanInput { member_id, text, rating, confidence } => Some(WireCommand::Input {
                member_id: *member_id,
                text: text.clone(),
                rating: *rating,
                confidence: *confidence,
            }),
            Command::Moderate { action, text } => Some(WireCommand::Moderate { action: *action, text: text.clone() }),
            _ => None,
        }
    }
}

impl RpcRequest {
    /// The command as the owner's engine takes it.
    pub fn into_panel_command(self) -> PanelCommand {
        let command = match self.command {
            WireCommand::Input { member_id, text, rating, confidence } => {
                Command::HumanInput { member_id, text, rating, confidence }
            }
            WireCommand::Moderate { action, text } => Command::Moderate { action, text },
        };
        let caller = Caller {
            id: self.caller.id,
            key_id: self.caller.key_id,
            user_id: self.caller.user_id,
            is_moderator: self.caller.is_moderator,
        };
        PanelCommand { tenant_id: self.tenant, panel_id: self.panel, caller, command }
    }
}

impl From<PanelError> for WireError {
    fn from(e: PanelError) -> Self {
        match e {
            PanelError::NotFound => WireError::NotFound,
            PanelError::Forbidden(message) => WireError::Forbidden { message },
            PanelError::Conflict(message) => WireError::Conflict { message },
            PanelError::Invalid { field, message } => WireError::Invalid { field, message },
            PanelError::Unavailable(message) => WireError::Unavailable { message },
        }
    }
}

impl WireError {
    /// The panel's error, or `None` for [`WireError::NotRunning`] (not the panel's answer).
    pub fn into_panel_error(self) -> Option<PanelError> {
        Some(match self {
            WireError::NotRunning => return None,
            WireError::NotFound => PanelError::NotFound,
            WireError::Forbidden { message } => PanelError::Forbidden(message),
            WireError::Conflict { message } => PanelError::Conflict(message),
            WireError::Invalid { field, message } => PanelError::Invalid { field, message },
            WireError::Unavailable { message } => PanelError::Unavailable(message),
        })
    }
}

/// A frame as published to the other nodes, tagged with its origin; `None`
/// for frames that stay on this node (resync signals).
pub fn encode_frame(node: &str, frame: &Frame) -> Option<Vec<u8>> {
    let (kind, a, b) = match frame.kind {
        FrameKind::Event { seq, terminal } => ("e", seq, u64::from(terminal)),
        FrameKind::Token { turn_seq, offset } => ("t", turn_seq, offset as u64),
        FrameKind::Presence { version } => ("p", version, 0),
        FrameKind::Resync => return None,
    };
    let mut out = Vec::with_capacity(frame.text.len() + 64);
    for (i, part) in [node, kind, &a.to_string(), &b.to_string(), frame.event_kind].iter().enumerate() {
        if i > 0 {
            out.push(SEP);
        }
        out.extend_from_slice(part.as_bytes());
    }
    out.push(SEP);
    out.extend_from_slice(frame.text.as_bytes());
    Some(out)
}

/// The origin node and the frame of a published payload; `None` when it is not one.
pub fn decode_frame(payload: &[u8]) -> Option<(String, Frame)> {
    let mut parts = payload.splitn(6, |b| *b == SEP);
    let node = std::str::from_utf8(parts.next()?).ok()?.to_string();
    let kind = parts.next()?;
    let a: u64 = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
    let b: u64 = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
    let event_kind = std::str::from_utf8(parts.next()?).ok()?;
    let text = std::str::from_utf8(parts.next()?).ok()?;
    let kind = match kind {
        b"e" => FrameKind::Event { seq: a, terminal: b == 1 },
        b"t" => FrameKind::Token { turn_seq: a, offset: b as usize },
        b"p" => FrameKind::Presence { version: a },
        _ => return None,
    };
    // Event kinds are a closed set: map back to the static names.
    let event_kind = match kind {
        FrameKind::Presence { .. } => "presence",
        _ => askpanel_actors::event::EVENT_KINDS.iter().copied().find(|k| *k == event_kind).unwrap_or("token"),
    };
    Some((node, Frame { kind, text: ByteString::from(text), event_kind, published_at: Instant::now() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_cross_nodes_unchanged() {
        for kind in [
            FrameKind::Event { seq: 42, terminal: true },
            FrameKind::Token { turn_seq: 7, offset: 1234 },
            FrameKind::Presence { version: 9 },
        ] {
            let frame = Frame {
                kind,
                text: ByteString::from("{\"type\":\"event\",\"x\":\"a\\u001fb\"}"),
                event_kind: "panel_completed",
                published_at: Instant::now(),
            };
            let bytes = encode_frame("node-a", &frame).unwrap();
            let (node, back) = decode_frame(&bytes).unwrap();
            assert_eq!(node, "node-a");
            assert_eq!(back.kind, frame.kind);
            assert_eq!(back.text, frame.text);
        }
        assert!(decode_frame(b"garbage").is_none());
    }

    #[test]
    fn control_messages_are_tagged_json_both_ways() {
        let key_id = KeyId::new();
        let revoked = Control::KeyRevoked { key_id };
        let json = serde_json::to_value(&revoked).unwrap();
        assert_eq!(json, serde_json::json!({"kind": "key_revoked", "key_id": key_id}));
        assert_eq!(serde_json::from_value::<Control>(json).unwrap(), revoked);
        let changed = Control::TenantChanged { tenant_id: TenantId::new() };
        assert_eq!(serde_json::from_slice::<Control>(&serde_json::to_vec(&changed).unwrap()).unwrap(), changed);
        let notified = Control::Notified {
            origin: "node-a".into(),
            tenant_id: TenantId::new(),
            user_id: askpanel_actors::domain::UserId::new(),
            frame: r#"{"type":"notification"}"#.into(),
        };
        assert_eq!(serde_json::from_slice::<Control>(&serde_json::to_vec(&notified).unwrap()).unwrap(), notified);
        assert!(serde_json::from_str::<Control>("revoked 123").is_err(), "the old text form is not read");
    }
}
