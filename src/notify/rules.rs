//! The rules of notifications, pure: what a page of a panel's events
//! announces ([`plan`]), when a human turn is reminded ([`reminder_at`]),
//! whether a turn is still open ([`turn_still_open`]), the preferences, who
//! gets what by which channel ([`fan_out`]) and the mail's text.

use std::collections::BTreeMap;

use askpanel_actors::domain::{MemberId, MemberKind, PanelId, UserId};
use askpanel_actors::event::{Event, EventData};
use askpanel_actors::panel::view::PanelView;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::webhooks::rules::{self as webhooks, WebhookEvent};

mod mail;
pub use mail::{MailJob, mail_of};

/// Wakes the background workers when there is new work (they also look on
/// their own, every interval, for work other nodes left).
#[derive(Default)]
pub struct Wake {
    pub jobs: tokio::sync::Notify,
    pub deliveries: tokio::sync::Notify,
}

/// What a notification is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// A human member's turn opened.
    HumanTurn,
    /// A human member's turn is about to time out (once per turn).
    HumanTurnReminder,
    /// The person was given a seat on a hybrid panel.
    PanelSeat,
    /// A panel they created, sit on or moderated completed.
    PanelCompleted,
    /// ... failed.
    PanelFailed,
    /// ... was cancelled.
    PanelCancelled,
    /// (Admins) a webhook endpoint was disabled after persistent failures.
    WebhookDisabled,
}

impl NotificationKind {
    pub const ALL: [NotificationKind; 7] = [
        NotificationKind::HumanTurn,
        NotificationKind::HumanTurnReminder,
        NotificationKind::PanelSeat,
        NotificationKind::PanelCompleted,
        NotificationKind::PanelFailed,
        NotificationKind::PanelCancelled,
        NotificationKind::WebhookDisabled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::HumanTurn => "human_turn",
            NotificationKind::HumanTurnReminder => "human_turn_reminder",
            NotificationKind::PanelSeat => "panel_seat",
            NotificationKind::PanelCompleted => "panel_completed",
            NotificationKind::PanelFailed => "panel_failed",
            NotificationKind::PanelCancelled => "panel_cancelled",
            NotificationKind::WebhookDisabled => "webhook_disabled",
        }
    }

    /// Whether its email waits until the person is not watching the panel
    /// (a turn seen on an open page needs no email).
    pub fn email_only_when_away(self) -> bool {
        matches!(self, NotificationKind::HumanTurn | NotificationKind::HumanTurnReminder)
    }
}

impl std::str::FromStr for NotificationKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NotificationKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown notification kind `{s}`"))
    }
}

/// How a person hears about one kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channels {
    pub in_app: bool,
    pub email: bool,
}

impl Default for Channels {
    fn default() -> Self {
        Channels { in_app: true, email: true }
    }
}

/// A person's preferences: every kind, both channels on unless turned off.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Preferences(pub BTreeMap<NotificationKind, Channels>);

impl Preferences {
    pub fn of(&self, kind: NotificationKind) -> Channels {
        self.0.get(&kind).copied().unwrap_or_default()
    }

    /// Every kind with its channels, as the API shows them.
    pub fn to_json(&self) -> Value {
        let kinds: serde_json::Map<String, Value> =
            NotificationKind::ALL.iter().map(|k| (k.as_str().to_string(), json!(self.of(*k)))).collect();
        json!({ "kinds": kinds })
    }

    /// Reads the stored form; anything unreadable is the defaults (a
    /// preference is never a reason to lose a notification).
    pub fn parse_stored(text: &str) -> Preferences {
        serde_json::from_str(text).unwrap_or_default()
    }

    /// Applies a change `{"kinds": {"<kind>": {"in_app"?: bool, "email"?: bool}}}`;
    /// an error names the field.
    pub fn apply(&mut self, change: &Value) -> Result<(), (String, String)> {
        let Some(object) = change.as_object() else {
            return Err(("body".into(), "must be a JSON object".into()));
        };
        if let Some(unknown) = object.keys().find(|k| k.as_str() != "kinds") {
            return Err((unknown.clone(), "is not a field of the preferences".into()));
        }
        let Some(kinds) = object.get("kinds") else { return Ok(()) };
        let Some(kinds) = kinds.as_object() else {
            return Err(("kinds".into(), "must be an object of kinds".into()));
        };
        let mut next = self.clone();
        for (name, value) in kinds {
            let field = format!("kinds.{name}");
            let kind: NotificationKind = name.parse().map_err(|e| (field.clone(), e))?;
            let Some(channels) = value.as_object() else {
                return Err((field, "must be an object with in_app and/or email".into()));
            };
            let mut current = next.of(kind);
            for (channel, on) in channels {
                let Some(on) = on.as_bool() else {
                    return Err((format!("{field}.{channel}"), "must be true or false".into()));
                };
                match channel.as_str() {
                    "in_app" => current.in_app = on,
                    "email" => current.email = on,
                    _ => return Err((format!("{field}.{channel}"), "is not a channel (in_app, email)".into())),
                }
            }
            next.0.insert(kind, current);
        }
        *self = next;
        Ok(())
    }
}

/// Who a notification goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recipients {
    /// One person (their seat, their turn).
    User(UserId),
    /// Everyone following the panel (creator, seated, moderators).
    Followers,
    /// The tenant's admins.
    Admins,
}

/// Why someone follows a panel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FollowReason {
    Created,
    Seated,
    Moderated,
}

impl FollowReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FollowReason::Created => "created",
            FollowReason::Seated => "seated",
            FollowReason::Moderated => "moderated",
        }
    }
}

/// A notification to record (for one or several people).
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub to: Recipients,
    pub kind: NotificationKind,
    pub panel: Option<PanelId>,
    pub title: String,
    pub body: String,
    pub data: Value,
    /// Human turns: the email goes only while the turn is still open.
    pub turn: Option<OpenTurn>,
}

/// A human turn that is open from `request_seq` until its member speaks,
/// is skipped or the panel ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenTurn {
    pub panel: PanelId,
    pub member: MemberId,
    pub round: u32,
    pub request_seq: u64,
    pub deadline: DateTime<Utc>,
}

/// A reminder to schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reminder {
    pub user: UserId,
    pub turn: OpenTurn,
    pub due_at: DateTime<Utc>,
    /// The panel's question (for the text).
    pub query: String,
}

/// What a page of a panel's events announces.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    pub follows: Vec<(uuid::Uuid, FollowReason)>,
    pub notices: Vec<Notice>,
    pub reminders: Vec<Reminder>,
    pub webhooks: Vec<WebhookEvent>,
}

/// The longest question quoted in a title or mail, in characters.
const QUERY_QUOTED_CHARS: usize = 120;
/// The shortest reminder lead worth sending.
const REMINDER_MIN_LEAD_S: i64 = 2;
/// The longest reminder lead: a turn of an hour is reminded ten minutes before.
const REMINDER_MAX_LEAD_S: i64 = 600;

pub fn quoted(query: &str) -> String {
    let line = query.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= QUERY_QUOTED_CHARS {
        line
    } else {
        let cut: String = line.chars().take(QUERY_QUOTED_CHARS - 1).collect();
        format!("{}…", cut.trim_end())
    }
}

/// When a human turn opened at `opened` with `deadline` is reminded: a
/// quarter of the window before the deadline, at most ten minutes before
/// it; `None` for a window too short to remind in.
pub fn reminder_at(opened: DateTime<Utc>, deadline: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let window = (deadline - opened).num_milliseconds();
    let lead = (window / 4).min(REMINDER_MAX_LEAD_S * 1000);
    (lead >= REMINDER_MIN_LEAD_S * 1000).then(|| deadline - Duration::milliseconds(lead))
}

/// Whether the turn is still open after `events` (the panel's events
/// following the request, in order): not answered, skipped or ended.
pub fn turn_still_open(turn: &OpenTurn, events: &[Event]) -> bool {
    !events.iter().filter(|e| e.seq > turn.request_seq).any(|e| match &e.data {
        EventData::HumanInput { member_id, .. }
        | EventData::TurnCompleted { member_id, .. }
        | EventData::TurnSkipped { member_id, .. } => *member_id == turn.member,
        EventData::HumanTurnRequested { member_id, .. } => *member_id == turn.member,
        // A pause holds the turn; the resume asks for it again with a new
        // deadline (and its own notice and reminder).
        EventData::PanelPaused { .. } => true,
        data => data.is_terminal(),
    })
}

/// What a page of events announces, given the panel as created.
pub fn plan(panel: &PanelView, events: &[Event]) -> Plan {
    let mut plan = Plan::default();
    let query = quoted(&panel.query);
    let seat_holder = |member: MemberId| {
        panel.members.iter().find(|m| m.id == member && m.kind == MemberKind::Human).and_then(|m| m.user_id)
    };
    for event in events {
        if let Some(hook) = webhooks::event_of(panel, event) {
            plan.webhooks.push(hook);
        }
        match &event.data {
            EventData::PanelCreated { panel: created, .. } => {
                if let Ok(creator) = created.created_by.parse::<uuid::Uuid>() {
                    plan.follows.push((creator, FollowReason::Created));
                }
                for member in created.members.iter().filter(|m| m.kind == MemberKind::Human) {
                    let Some(user) = member.user_id else { continue };
                    plan.follows.push((user.0, FollowReason::Seated));
                    plan.notices.push(Notice {
                        to: Recipients::User(user),
                        kind: NotificationKind::PanelSeat,
                        panel: Some(panel.id),
                        title: format!("You have a seat on a panel: {query}"),
                        body: format!(
                            "You sit on this {} panel as {}. You will be told when your turn opens.",
                            created.panel_type.as_str(),
                            member.name
                        ),
                        data: json!({"member_id": member.id}),
                        turn: None,
                    });
                }
            }
            EventData::HumanTurnRequested { member_id, round, deadline } => {
                let Some(user) = seat_holder(*member_id) else { continue };
                let turn = OpenTurn {
                    panel: panel.id,
                    member: *member_id,
                    round: *round,
                    request_seq: event.seq,
                    deadline: *deadline,
                };
                plan.notices.push(Notice {
                    to: Recipients::User(user),
                    kind: NotificationKind::HumanTurn,
                    panel: Some(panel.id),
                    title: format!("Your turn: {query}"),
                    body: format!(
                        "Round {round} waits for you. Answer before {} or the turn is skipped.",
                        deadline.format("%H:%M:%S UTC")
                    ),
                    data: json!({"member_id": member_id, "round": round, "deadline": deadline}),
                    turn: Some(turn),
                });
                if let Some(due_at) = reminder_at(event.ts, *deadline) {
                    plan.reminders.push(Reminder { user, turn, due_at, query: query.clone() });
                }
            }
            EventData::ModeratorAction { by, .. } => {
                if let Ok(moderator) = by.parse::<uuid::Uuid>() {
                    plan.follows.push((moderator, FollowReason::Moderated));
                }
            }
            EventData::PanelCompleted { recommendation, consensus, .. } => {
                let level = consensus.as_ref().map(|c| c.level);
                plan.notices.push(Notice {
                    to: Recipients::Followers,
                    kind: NotificationKind::PanelCompleted,
                    panel: Some(panel.id),
                    title: format!("Panel completed: {query}"),
                    body: quoted(recommendation),
                    data: json!({"consensus_level": level}),
                    turn: None,
                });
            }
            EventData::PanelFailed { error } => plan.notices.push(Notice {
                to: Recipients::Followers,
                kind: NotificationKind::PanelFailed,
                panel: Some(panel.id),
                title: format!("Panel failed: {query}"),
                body: quoted(error),
                data: json!({}),
                turn: None,
            }),
            EventData::PanelCancelled { .. } => plan.notices.push(Notice {
                to: Recipients::Followers,
                kind: NotificationKind::PanelCancelled,
                panel: Some(panel.id),
                title: format!("Panel cancelled: {query}"),
                body: "The panel was cancelled before it finished.".into(),
                data: json!({}),
                turn: None,
            }),
            _ => {}
        }
    }
    plan
}

/// The reminder's notice, when its turn is still open.
pub fn reminder_notice(reminder: &Reminder) -> Notice {
    Notice {
        to: Recipients::User(reminder.user),
        kind: NotificationKind::HumanTurnReminder,
        panel: Some(reminder.turn.panel),
        title: format!("Reminder, your turn: {}", reminder.query),
        body: format!(
            "Round {} still waits for you; the turn is skipped at {}.",
            reminder.turn.round,
            reminder.turn.deadline.format("%H:%M:%S UTC")
        ),
        data: json!({"member_id": reminder.turn.member, "round": reminder.turn.round, "deadline": reminder.turn.deadline}),
        turn: Some(reminder.turn),
    }
}

/// A notification as stored and shown.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Notification {
    pub id: uuid::Uuid,
    #[serde(skip)]
    pub tenant_id: askpanel_actors::domain::TenantId,
    #[serde(skip)]
    pub user_id: UserId,
    pub kind: NotificationKind,
    pub panel_id: Option<PanelId>,
    pub title: String,
    pub body: String,
    pub data: Value,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

/// The `notification` WebSocket frame.
pub fn frame_text(notification: &Notification) -> String {
    json!({"type": "notification", "notification": notification}).to_string()
}

/// What recording notices needs besides the notices.
#[derive(Clone, Debug)]
pub struct FanOut {
    /// Emails are queued only when a mail server is configured.
    pub mail_enabled: bool,
    /// Where the page is, for links in emails.
    pub public_url: String,
    pub now: DateTime<Utc>,
    /// How long a human turn's email waits, so that a person whose page is
    /// open (or opening) is not emailed.
    pub away_grace: Duration,
}

impl FanOut {
    /// When an email is due: a turn's opening waits for the grace; a
    /// reminder (already late in the turn) and everything else go at once.
    pub fn mail_due(&self, mail: &MailJob) -> DateTime<Utc> {
        if mail.kind == NotificationKind::HumanTurn { self.now + self.away_grace } else { self.now }
    }
}

/// A notice for its recipients (each with their preferences): the
/// notifications to store (those who want it in the page) and the emails to
/// queue (those who want it by email).
pub fn fan_out(
    tenant: askpanel_actors::domain::TenantId,
    notice: &Notice,
    recipients: &[(UserId, Preferences)],
    fan: &FanOut,
) -> (Vec<Notification>, Vec<MailJob>) {
    let mut notifications = Vec::new();
    let mut mails = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (user, prefs) in recipients {
        if !seen.insert(*user) {
            continue;
        }
        let channels = prefs.of(notice.kind);
        if channels.in_app {
            notifications.push(Notification {
                id: uuid::Uuid::now_v7(),
                tenant_id: tenant,
                user_id: *user,
                kind: notice.kind,
                panel_id: notice.panel,
                title: notice.title.clone(),
                body: notice.body.clone(),
                data: notice.data.clone(),
                created_at: fan.now,
                read_at: None,
            });
        }
        if channels.email && fan.mail_enabled {
            mails.push(mail_of(notice, *user, &fan.public_url));
        }
    }
    (notifications, mails)
}

#[cfg(test)]
mod tests;

/// What the tenant's admins are told when a webhook endpoint is disabled
/// (the endpoint named by its host only: its path may hold a token).
pub fn webhook_disabled_notice(endpoint: uuid::Uuid, host: &str, reason: &str) -> Notice {
    Notice {
        to: Recipients::Admins,
        kind: NotificationKind::WebhookDisabled,
        panel: None,
        title: format!("Webhook endpoint disabled: {host}"),
        body: format!(
            "{reason}. Fix the receiver, then enable the endpoint again; failed deliveries can be sent again from its log."
        ),
        data: json!({"endpoint_id": endpoint, "url": host}),
        turn: None,
    }
}
