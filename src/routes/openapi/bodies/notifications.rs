//! The body of a person's notification preferences
//! (`routes/notifications.rs`, read by `notify/rules.rs`;
//! `docs/notifications.md`).

// Schema types: described, never built.
#![allow(dead_code)]

use utoipa::ToSchema;

/// `PATCH /v1/notifications/preferences` (a signed-in person; an API key is
/// refused with 403): turns channels on or off, kind by kind. What is not
/// named is kept; an unknown kind, channel or value is a 422 naming it
/// (`kinds.human_turn.sms`) and changes nothing.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "kinds": {
        "human_turn_reminder": {"email": false},
        "panel_completed": {"in_app": true, "email": false}
    }
}))]
pub struct NotificationPreferencesBody {
    /// Must be an object when present (`null` is refused).
    #[schema(nullable = false)]
    kinds: Option<NotificationKindChanges>,
}

/// The kinds of notification, each with its channels to change.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationKindChanges {
    /// A human member's turn opened.
    #[schema(nullable = false)]
    human_turn: Option<ChannelChanges>,
    /// A human member's turn is about to time out.
    #[schema(nullable = false)]
    human_turn_reminder: Option<ChannelChanges>,
    /// The person was given a seat on a hybrid panel.
    #[schema(nullable = false)]
    panel_seat: Option<ChannelChanges>,
    /// A panel they created, sit on or moderated completed.
    #[schema(nullable = false)]
    panel_completed: Option<ChannelChanges>,
    /// ... failed.
    #[schema(nullable = false)]
    panel_failed: Option<ChannelChanges>,
    /// ... was cancelled.
    #[schema(nullable = false)]
    panel_cancelled: Option<ChannelChanges>,
    /// (Admins) a webhook endpoint was disabled after persistent failures.
    #[schema(nullable = false)]
    webhook_disabled: Option<ChannelChanges>,
}

/// How the person hears about one kind: each channel named is set, the
/// other kept (both are on until turned off).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelChanges {
    /// In the page (and its live stream). Not `null`.
    #[schema(nullable = false)]
    in_app: Option<bool>,
    /// By email, when the server sends mail. Not `null`.
    #[schema(nullable = false)]
    email: Option<bool>,
}
