//! The rules for what callers ask of a running panel: human input and
//! moderation (who may, what fits which phase, what each action does). Pure:
//! [`decide`] reads the panel's state and the turn on air and answers with a
//! [`Decision`] (the events to commit and what to stop), or the error the
//! caller gets. The `PanelActor` only executes decisions.

use chrono::{DateTime, Utc};

use crate::domain::{Caller, MemberId, MemberKind, PanelStatus, PauseReason, RatingRead};
use crate::event::{EventData, ModeratorActionKind};
use crate::model::rating;
use crate::panel::messages::{Command, PanelError};
use crate::panel::state::PanelState;
use crate::panel::strategy::{self, Step};

/// The longest a human's text may be, in characters.
pub const HUMAN_TEXT_MAX_CHARS: usize = 20_000;
/// The longest an injected moderator text may be, in characters.
pub const INJECT_TEXT_MAX_CHARS: usize = 2_000;

/// What the actor must stop before it commits a decision's events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Nothing: commit at once.
    Nothing,
    /// The AI turn on air, if one is.
    TurnOnAir,
    /// Whatever step is in flight (a turn, bids, an evaluation) and the
    /// human turn's timer: the panel stands still until it is resumed.
    Everything,
}

/// What a command does: events to commit (none: nothing to record) and what to stop first.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The events to commit, in order.
    pub events: Vec<EventData>,
    /// What to stop before committing them.
    pub stop: Stop,
}

impl Decision {
    fn record(events: Vec<EventData>) -> Self {
        Self { events, stop: Stop::Nothing }
    }
}

/// Decides a command. `on_air` is the AI turn whose model call is running
/// (member, round), if any; `now` dates the deadline of a human turn resumed.
pub fn decide(
    state: &PanelState,
    on_air: Option<(MemberId, u32)>,
    caller: &Caller,
    command: Command,
    now: DateTime<Utc>,
) -> Result<Decision, PanelError> {
    let status = state.status();
    if status.is_terminal() {
        return Err(PanelError::Conflict(format!("the panel is {}", status.as_str())));
    }
    match command {
        Command::HumanInput { member_id, text, rating, confidence } => {
            human_input(state, caller, member_id, text, rating, confidence).map(Decision::record)
        }
        Command::Moderate { .. } if !caller.is_moderator => {
            Err(PanelError::Forbidden("only moderators can moderate".into()))
        }
        Command::Moderate { action, text } => moderate(state, on_air, caller, action, text, now),
        Command::SystemPause { reason } => Ok(match status {
            PanelStatus::Paused => Decision::record(Vec::new()),
            _ => pause(on_air, None, reason),
        }),
        Command::SystemResume { reason } => Ok(match paused_reason(state) {
            Some(current) if current == reason => Decision::record(resume_events(state, now)),
            _ => Decision::record(Vec::new()),
        }),
    }
}

/// Why the panel is paused, if it is.
pub fn paused_reason(state: &PanelState) -> Option<PauseReason> {
    state.view.paused_reason.as_deref().map(PauseReason::parse)
}

fn human_input(
    state: &PanelState,
    caller: &Caller,
    member_id: MemberId,
    text: String,
    rating: Option<u8>,
    confidence: Option<f64>,
) -> Result<Vec<EventData>, PanelError> {
    let member = state.view.member(member_id).filter(|m| m.kind == MemberKind::Human).ok_or_else(|| {
        PanelError::Invalid { field: "member_id".into(), message: "not a human member of this panel".into() }
    })?;
    if let Some(key) = member.key_id
        && caller.key_id != Some(key)
        && !caller.is_moderator
    {
        return Err(PanelError::Forbidden("another key speaks for this member".into()));
    }
    if let Some(user) = member.user_id
        && caller.user_id != Some(user)
        && !caller.is_moderator
    {
        return Err(PanelError::Forbidden("this seat belongs to another person".into()));
    }
    let text = text.trim().to_string();
    let chars = text.chars().count();
    if chars == 0 || chars > HUMAN_TEXT_MAX_CHARS {
        return Err(PanelError::Invalid {
            field: "text".into(),
            message: format!("must be 1 to {HUMAN_TEXT_MAX_CHARS} characters"),
        });
    }
    if rating.is_some_and(|r| !(1..=9).contains(&r)) {
        return Err(PanelError::Invalid { field: "rating".into(), message: "must be 1 to 9".into() });
    }
    if confidence.is_some_and(|c| !(0.0..=1.0).contains(&c)) {
        return Err(PanelError::Invalid { field: "confidence".into(), message: "must be 0 to 1".into() });
    }
    let Some(pending) = state.view.pending_human.as_ref().filter(|p| p.member_id == member_id) else {
        return Err(PanelError::Conflict("it is not this member's turn".into()));
    };
    let round = pending.round;
    // An explicit rating wins; else a rating trailer typed in the text is read (and not shown).
    let parsed = rating::parse_trailer(&text);
    let (shown, rating, confidence) = match rating {
        Some(r) => (text.clone(), Some(r), confidence),
        None if parsed.rating.is_some() && !parsed.text.is_empty() => (parsed.text, parsed.rating, parsed.confidence),
        None => (text.clone(), None, None),
    };
    let (rating, confidence) = strategy::counted_rating(state, member_id, round, rating, confidence);
    Ok(vec![
        EventData::HumanInput { member_id, round, text },
        EventData::TurnCompleted {
            member_id,
            round,
            text: shown,
            rating,
            confidence,
            rating_read: rating.map(|_| RatingRead::Direct),
            flags: Vec::new(),
            ideas: Vec::new(),
            evidence: None,
            citations: Vec::new(),
            tokens_in: 0,
            tokens_out: 0,
        },
    ])
}

/// Pausing stops everything; the turn on air is voided (it runs again on resume).
fn pause(on_air: Option<(MemberId, u32)>, action: Option<EventData>, reason: PauseReason) -> Decision {
    let mut events: Vec<EventData> = action.into_iter().collect();
    if let Some((member_id, round)) = on_air {
        events.push(EventData::TurnAborted { member_id, round, reason: "paused".into(), error: None });
    }
    events.push(EventData::PanelPaused { reason: reason.as_string() });
    Decision { events, stop: Stop::Everything }
}

/// Resuming; a human turn interrupted by the pause gets a fresh deadline.
fn resume_events(state: &PanelState, now: DateTime<Utc>) -> Vec<EventData> {
    let mut events = vec![EventData::PanelResumed {}];
    if let Some(pending) = &state.view.pending_human {
        let deadline = now + chrono::Duration::seconds(state.setup.config.human_turn_timeout_s as i64);
        events.push(EventData::HumanTurnRequested { member_id: pending.member_id, round: pending.round, deadline });
    }
    events
}

/// Ends the turn in progress (AI or human) for an end of round, finish or cancel.
fn close_current_turn(state: &PanelState, on_air: Option<(MemberId, u32)>, reason: &str) -> Option<EventData> {
    if let Some((member_id, round)) = on_air {
        return Some(EventData::TurnAborted { member_id, round, reason: reason.into(), error: None });
    }
    state.view.pending_human.as_ref().map(|p| EventData::TurnSkipped {
        member_id: p.member_id,
        round: p.round,
        reason: reason.into(),
    })
}

fn moderate(
    state: &PanelState,
    on_air: Option<(MemberId, u32)>,
    caller: &Caller,
    action: ModeratorActionKind,
    text: Option<String>,
    now: DateTime<Utc>,
) -> Result<Decision, PanelError> {
    use ModeratorActionKind::*;
    let text = text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    if text.as_ref().is_some_and(|t| t.chars().count() > INJECT_TEXT_MAX_CHARS) {
        return Err(PanelError::Invalid {
            field: "text".into(),
            message: format!("must be at most {INJECT_TEXT_MAX_CHARS} characters"),
        });
    }
    let record = EventData::ModeratorAction { action, text: text.clone(), by: caller.id.clone() };
    let paused = state.status() == PanelStatus::Paused;
    let mut events = vec![record];
    let stop = match action {
        Pause => {
            if paused {
                return Err(PanelError::Conflict("the panel is already paused".into()));
            }
            return Ok(pause(on_air, events.pop(), PauseReason::Moderator));
        }
        Resume => {
            match paused_reason(state) {
                None => return Err(PanelError::Conflict("the panel is not paused".into())),
                Some(reason) if reason.moderator_may_lift() => {}
                Some(other) => {
                    return Err(PanelError::Conflict(format!(
                        "the panel is paused by the platform: {}",
                        other.as_string()
                    )));
                }
            }
            events.extend(resume_events(state, now));
            Stop::Nothing
        }
        Inject => {
            if text.is_none() {
                return Err(PanelError::Invalid {
                    field: "text".into(),
                    message: "inject needs the question or instruction".into(),
                });
            }
            Stop::Nothing
        }
        SkipTurn => {
            let target =
                on_air.or_else(|| state.view.pending_human.as_ref().map(|p| (p.member_id, p.round))).or_else(|| {
                    match strategy::next_step(state) {
                        Step::Turn { member_id, round, .. } => Some((member_id, round)),
                        _ => None,
                    }
                });
            let Some((member_id, round)) = target else {
                return Err(PanelError::Conflict("there is no turn to skip".into()));
            };
            events.push(EventData::TurnSkipped { member_id, round, reason: "moderator".into() });
            Stop::TurnOnAir
        }
        EndRound => {
            if state.current_round().is_none_or(|(_, p)| p.completed) {
                return Err(PanelError::Conflict("no round is in progress".into()));
            }
            events.extend(close_current_turn(state, on_air, "round_ended"));
            Stop::TurnOnAir
        }
        Finish => {
            events.extend(close_current_turn(state, on_air, "finished"));
            if paused {
                events.push(EventData::PanelResumed {});
            }
            Stop::Everything
        }
        Cancel => {
            events.extend(close_current_turn(state, on_air, "cancelled"));
            events.push(EventData::PanelCancelled { by: caller.id.clone() });
            Stop::Everything
        }
    };
    Ok(Decision { events, stop })
}

#[cfg(test)]
mod tests;
