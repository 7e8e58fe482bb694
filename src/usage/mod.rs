//! Usage: what a panel's events spent, per panel and per day. Pure rules;
//! the announcer records the day figures as it follows each log
//! ([`crate::notify::announce`]), the routes read them
//! (`GET /v1/usage?from=&to=`, `GET /v1/panels/{id}/usage`). See
//! docs/administration.md.

use std::collections::BTreeMap;

use askpanel_actors::domain::{MemberId, MemberKind};
use askpanel_actors::event::{Event, EventData};
use askpanel_actors::panel::view::PanelView;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

/// The longest range `GET /v1/usage?from=&to=` answers, in days.
pub const MAX_RANGE_DAYS: i64 = 366;
/// Days `from` lies before `to` when only `to` is given.
pub const DEFAULT_RANGE_DAYS: i64 = 29;

/// Figures for a day, a panel type or a range.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Figures {
    pub panels_created: u64,
    pub panels_completed: u64,
    pub turns: u64,
    pub tokens_in: u64,
    pub tokens_out: u64,
    /// How long the panels that finished took, in milliseconds.
    pub duration_ms: u64,
}

impl Figures {
    pub fn add(&mut self, other: &Figures) {
        self.panels_created += other.panels_created;
        self.panels_completed += other.panels_completed;
        self.turns += other.turns;
        self.tokens_in += other.tokens_in;
        self.tokens_out += other.tokens_out;
        self.duration_ms += other.duration_ms;
    }

    pub fn is_zero(&self) -> bool {
        *self == Figures::default()
    }
}

/// The tokens an event carries (a model call's figures), if any.
pub fn tokens_of(data: &EventData) -> Option<(u64, u64)> {
    match data {
        EventData::PanelCompleted { tokens_in, tokens_out, .. }
        | EventData::TurnCompleted { tokens_in, tokens_out, .. }
        | EventData::DraftUpdated { tokens_in, tokens_out, .. }
        | EventData::RoundStarted { tokens_in, tokens_out, .. }
        | EventData::FeedbackUpdated { tokens_in, tokens_out, .. } => Some((*tokens_in, *tokens_out)),
        _ => None,
    }
}

/// What a run of one panel's events adds to each day (UTC). `created_at`
/// is the panel's creation, for the duration of a panel that finishes in
/// these events.
pub fn day_deltas(created_at: DateTime<Utc>, events: &[Event]) -> BTreeMap<NaiveDate, Figures> {
    let mut days: BTreeMap<NaiveDate, Figures> = BTreeMap::new();
    for event in events {
        let day = days.entry(event.ts.date_naive()).or_default();
        match &event.data {
            EventData::PanelCreated { .. } => day.panels_created += 1,
            EventData::PanelCompleted { .. } => day.panels_completed += 1,
            EventData::TurnCompleted { .. } => day.turns += 1,
            _ => {}
        }
        if let Some((tokens_in, tokens_out)) = tokens_of(&event.data) {
            day.tokens_in += tokens_in;
            day.tokens_out += tokens_out;
        }
        if event.data.is_terminal() {
            day.duration_ms += (event.ts - created_at).num_milliseconds().max(0) as u64;
        }
    }
    days.retain(|_, f| !f.is_zero());
    days
}

/// A date range asked for: `from` and `to` (inclusive, UTC days).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Range {
    /// The range from the query's bounds (either may be missing), today
    /// being `today`; `Err((field, why))` when it cannot be answered.
    pub fn of(from: Option<&str>, to: Option<&str>, today: NaiveDate) -> Result<Range, (&'static str, &'static str)> {
        let parse = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().filter(|_| s.len() == 10);
        let to = match to {
            Some(s) => parse(s).ok_or(("to", "must be a date, YYYY-MM-DD"))?,
            None => today,
        };
        let from = match from {
            Some(s) => parse(s).ok_or(("from", "must be a date, YYYY-MM-DD"))?,
            None => to - chrono::Duration::days(DEFAULT_RANGE_DAYS),
        };
        if from > to {
            return Err(("from", "must not be after `to`"));
        }
        if (to - from).num_days() >= MAX_RANGE_DAYS {
            return Err(("from", "the range is at most 366 days"));
        }
        Ok(Range { from, to })
    }

    pub fn days(&self) -> impl Iterator<Item = NaiveDate> + use<> {
        let (from, to) = (self.from, self.to);
        from.iter_days().take_while(move |d| *d <= to)
    }
}

/// One day of a report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Day {
    pub date: NaiveDate,
    #[serde(flatten)]
    pub figures: Figures,
    pub by_panel_type: BTreeMap<String, Figures>,
}

/// A range's report, from the stored `(day, panel type, figures)` rows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub panel_type: Option<String>,
    pub totals: Figures,
    pub by_panel_type: BTreeMap<String, Figures>,
    pub days: Vec<Day>,
}

pub fn report(range: Range, panel_type: Option<&str>, rows: &[(NaiveDate, String, Figures)]) -> Report {
    let mut days: BTreeMap<NaiveDate, Day> = range
        .days()
        .map(|date| (date, Day { date, figures: Figures::default(), by_panel_type: BTreeMap::new() }))
        .collect();
    let mut totals = Figures::default();
    let mut by_type: BTreeMap<String, Figures> = BTreeMap::new();
    for (date, kind, figures) in rows {
        if panel_type.is_some_and(|t| t != kind) {
            continue;
        }
        let Some(day) = days.get_mut(date) else { continue };
        day.figures.add(figures);
        day.by_panel_type.entry(kind.clone()).or_default().add(figures);
        totals.add(figures);
        by_type.entry(kind.clone()).or_default().add(figures);
    }
    Report {
        from: range.from,
        to: range.to,
        panel_type: panel_type.map(str::to_string),
        totals,
        by_panel_type: by_type,
        days: days.into_values().collect(),
    }
}

/// A round's spend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RoundSpend {
    pub round: u32,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub turns: u64,
}

/// A member's spend.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemberSpend {
    pub member_id: MemberId,
    pub name: String,
    pub kind: MemberKind,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub turns: u64,
}

/// `GET /v1/panels/{id}/usage`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PanelUsage {
    pub panel_id: askpanel_actors::domain::PanelId,
    pub panel_type: askpanel_actors::domain::PanelType,
    pub status: askpanel_actors::domain::PanelStatus,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: u64,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub turns: u64,
    pub model_calls: u64,
    pub by_round: Vec<RoundSpend>,
    pub by_member: Vec<MemberSpend>,
}

/// A panel's usage from its view and its whole log, `now` ending the
/// duration of a panel still running.
pub fn panel_usage(view: &PanelView, events: &[Event], now: DateTime<Utc>) -> PanelUsage {
    let mut rounds: BTreeMap<u32, RoundSpend> = BTreeMap::new();
    let mut members: Vec<MemberSpend> = view
        .members
        .iter()
        .map(|m| MemberSpend {
            member_id: m.id,
            name: m.name.clone(),
            kind: m.kind,
            tokens_in: 0,
            tokens_out: 0,
            turns: 0,
        })
        .collect();
    let (mut tokens_in, mut tokens_out, mut turns, mut calls) = (0, 0, 0, 0);
    let mut finished_at = None;
    let mut round = 0;
    for event in events {
        // The round an event belongs to; one without (the closing call) to the round before it.
        if let EventData::TurnCompleted { round: r, .. }
        | EventData::DraftUpdated { round: r, .. }
        | EventData::FeedbackUpdated { round: r, .. }
        | EventData::RoundStarted { round: r, .. } = &event.data
        {
            round = *r;
        }
        match &event.data {
            EventData::TurnCompleted { member_id, tokens_in: i, tokens_out: o, .. } => {
                turns += 1;
                rounds.entry(round).or_insert(RoundSpend { round, ..RoundSpend::default() }).turns += 1;
                if let Some(member) = members.iter_mut().find(|m| m.member_id == *member_id) {
                    member.turns += 1;
                    member.tokens_in += i;
                    member.tokens_out += o;
                }
            }
            data if data.is_terminal() => finished_at = Some(event.ts),
            _ => {}
        }
        if let Some((i, o)) = tokens_of(&event.data) {
            tokens_in += i;
            tokens_out += o;
            if i + o > 0 {
                calls += 1;
            }
            let spend = rounds.entry(round).or_insert(RoundSpend { round, ..RoundSpend::default() });
            spend.tokens_in += i;
            spend.tokens_out += o;
        }
    }
    let end = finished_at.unwrap_or(now);
    PanelUsage {
        panel_id: view.id,
        panel_type: view.panel_type,
        status: view.status,
        created_at: view.created_at,
        finished_at,
        duration_ms: (end - view.created_at).num_milliseconds().max(0) as u64,
        tokens_in,
        tokens_out,
        turns,
        model_calls: calls,
        by_round: rounds.into_values().filter(|r| r.tokens_in + r.tokens_out + r.turns > 0).collect(),
        by_member: members,
    }
}

#[cfg(test)]
mod tests;
