//! A notification's email: its job (who, what, and the conditions it still
//! needs when it runs) and its text.

use askpanel_actors::domain::UserId;
use serde::{Deserialize, Serialize};

use super::{Notice, NotificationKind, OpenTurn};

/// An email's job: who, what, and the conditions it still needs when it runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MailJob {
    pub user: UserId,
    pub kind: NotificationKind,
    pub subject: String,
    pub text: String,
    /// Sent only while this turn is open and its member's holder is not
    /// watching the panel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn: Option<OpenTurn>,
}

/// The email for a notice.
pub fn mail_of(notice: &Notice, user: UserId, public_url: &str) -> MailJob {
    let link = match notice.panel {
        Some(panel) if !public_url.is_empty() => {
            format!("\n\nOpen the panel: {}/#/panels/{panel}", public_url.trim_end_matches('/'))
        }
        _ if !public_url.is_empty() => format!("\n\nOpen askpanel: {}/", public_url.trim_end_matches('/')),
        _ => String::new(),
    };
    let prefs = if public_url.is_empty() {
        String::new()
    } else {
        format!("\n\nChoose which emails you get: {}/#/account", public_url.trim_end_matches('/'))
    };
    MailJob {
        user,
        kind: notice.kind,
        subject: notice.title.clone(),
        text: format!("{}\n\n{}{link}{prefs}\n", notice.title, notice.body),
        turn: if notice.kind.email_only_when_away() { notice.turn } else { None },
    }
}
