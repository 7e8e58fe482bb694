//! The decision record (`docs/records.md`, "Report"): what a panel leaves
//! behind, built by pure functions from its view and its event log, and
//! rendered as JSON, Markdown, a self-contained HTML page and a PDF.
//!
//! [`build`] makes the one [`Report`]; the renderers only lay it out, so the
//! formats cannot disagree. Every figure goes through
//! [`askpanel_actors::consensus::figures`].

pub mod chart;
pub mod html;
pub mod markdown;
pub mod pdf;
mod text;
pub mod words;

use std::collections::BTreeMap;

use askpanel_actors::consensus::figures::{explain, percent_value, round2};
use askpanel_actors::consensus::{Consensus, ConsensusLevel, Tertile, percentile};
use askpanel_actors::domain::grounding::{Citation, Source};
use askpanel_actors::domain::{
    ConsensusMethod, MemberId, MemberKind, MemberRole, PanelConfig, PanelStatus, PanelType, Phase, RoundDecision, Team,
    Verdict,
};
use askpanel_actors::event::{Event, EventData};
use askpanel_actors::panel::view::PanelView;
use chrono::{DateTime, Utc};
use serde::Serialize;

pub use text::{conditions, excerpt};

/// The longest argument quoted for a dissenter, in characters.
const ARGUMENT_MAX_CHARS: usize = 700;

/// A panel's decision record (the JSON form of the report).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub panel_id: String,
    pub query: String,
    pub panel_type: PanelType,
    pub status: PanelStatus,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub duration_s: Option<i64>,
    pub generated_at: DateTime<Utc>,
    pub members: Vec<ReportMember>,
    pub recommendation: Option<Recommendation>,
    pub verdict: Option<Verdict>,
    pub outcome: Option<Outcome>,
    pub dissent: Vec<Dissent>,
    pub rounds: Vec<RoundRow>,
    pub chart_svg: Option<String>,
    pub sources: Vec<Source>,
    pub transcript: Vec<TranscriptRound>,
    pub config: PanelConfig,
    pub usage: ReportUsage,
    pub parent: Option<ParentLink>,
    /// Why the panel failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The tenant's branding, set by the caller after [`build`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branding: Option<ReportBranding>,
}

/// The tenant's branding as reports carry it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReportBranding {
    pub display_name: String,
    pub primary_color: String,
    pub secondary_color: Option<String>,
    pub logo_url: Option<String>,
    /// The logo as a `data:` URI, for the HTML report to stand alone.
    #[serde(skip)]
    pub logo_data_uri: Option<String>,
}

impl ReportBranding {
    /// `#rrggbb` as red, green and blue from 0 to 1 (a stored colour is
    /// checked when set; black when not one).
    pub fn rgb(color: &str) -> (f64, f64, f64) {
        let channel = |i: usize| {
            color.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()).map_or(0.0, |v| f64::from(v) / 255.0)
        };
        if color.len() == 7 && color.starts_with('#') { (channel(1), channel(3), channel(5)) } else { (0.0, 0.0, 0.0) }
    }

    /// A colour fit for CSS (`#rrggbb`), or `fallback`.
    pub fn css<'a>(color: Option<&'a str>, fallback: &'a str) -> &'a str {
        color
            .filter(|c| c.len() == 7 && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit()))
            .unwrap_or(fallback)
    }
}

/// A member as the report names them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReportMember {
    pub id: MemberId,
    pub kind: MemberKind,
    pub name: String,
    pub title: Option<String>,
    pub domain: Option<String>,
    pub model: Option<String>,
    pub team: Option<Team>,
    pub role: Option<MemberRole>,
}

/// The final recommendation, with the conditions it states.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Recommendation {
    pub text: String,
    pub conditions: Vec<String>,
}

/// The final consensus, rounded, with what it means in words.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outcome {
    pub method: ConsensusMethod,
    pub level: ConsensusLevel,
    pub agreement: f64,
    pub agreement_pct: u32,
    pub median: f64,
    pub iqr: f64,
    pub mean: f64,
    pub n: usize,
    pub round: u32,
    pub explanation: String,
}

/// A dissenter and the strongest thing they said.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Dissent {
    pub member_id: MemberId,
    pub name: String,
    /// Their rating in the round the final consensus measured.
    pub rating: Option<u8>,
    /// The round of the quoted argument.
    pub round: u32,
    pub argument: String,
}

/// One row of the per-round table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RoundRow {
    pub round: u32,
    pub phase: Phase,
    pub median: Option<f64>,
    pub iqr: Option<f64>,
    pub mean: Option<f64>,
    pub n: usize,
    pub level: Option<ConsensusLevel>,
    pub agreement_pct: Option<u32>,
    pub decision: Option<RoundDecision>,
    pub ratings: Vec<RatingPoint>,
    /// The 25th and 75th percentiles (the chart's band), rounded.
    #[serde(skip)]
    pub quartiles: Option<(f64, f64)>,
}

/// One member's rating in a round.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RatingPoint {
    pub member_id: MemberId,
    pub rating: u8,
    pub confidence: Option<f64>,
}

/// A round of the transcript.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TranscriptRound {
    pub round: u32,
    pub phase: Phase,
    pub turns: Vec<TranscriptTurn>,
    pub skipped: Vec<SkippedRow>,
}

/// A turn of the transcript.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TranscriptTurn {
    pub member_id: MemberId,
    pub name: String,
    pub text: String,
    pub rating: Option<u8>,
    pub confidence: Option<f64>,
    pub citations: Vec<Citation>,
}

/// A turn not taken.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SkippedRow {
    pub member_id: MemberId,
    pub name: String,
    pub reason: String,
}

/// What the panel cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReportUsage {
    pub turns: u64,
    pub tokens_in: u64,
    pub tokens_out: u64,
}

/// The panel this one follows up or re-runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParentLink {
    pub id: String,
    pub relation: String,
}

/// Builds the report of a panel from its view and its events (up to the
/// view's `head_seq`; later ones are ignored).
pub fn build(view: &PanelView, events: &[Event], generated_at: DateTime<Utc>) -> Report {
    let events: Vec<&Event> = events.iter().filter(|e| e.seq <= view.head_seq).collect();
    let profiles = events.iter().find_map(|e| match &e.data {
        EventData::PanelCreated { setup, .. } => Some(&setup.profiles),
        _ => None,
    });
    let name_of = |id: MemberId| view.member(id).map_or_else(|| "a former member".to_string(), |m| m.name.clone());
    let members = view
        .members
        .iter()
        .map(|m| ReportMember {
            id: m.id,
            kind: m.kind,
            name: m.name.clone(),
            title: profiles
                .and_then(|p| p.iter().find(|p| p.member_id == m.id))
                .map(|p| p.title.clone())
                .filter(|t| !t.trim().is_empty()),
            domain: m.domain.clone(),
            model: m.model.clone(),
            team: m.team,
            role: m.role,
        })
        .collect();

    let mut measured: BTreeMap<u32, &Consensus> = BTreeMap::new();
    let mut usage = ReportUsage::default();
    for event in &events {
        if let EventData::ConsensusUpdated { consensus } = &event.data {
            measured.insert(consensus.round, consensus);
        }
    }
    for month in crate::store::usage_deltas(events.iter().copied()).values() {
        usage.turns += month.turns;
        usage.tokens_in += month.tokens_in;
        usage.tokens_out += month.tokens_out;
    }

    let rounds: Vec<RoundRow> = view
        .rounds
        .iter()
        .map(|r| {
            let ratings: Vec<RatingPoint> = r
                .turns
                .iter()
                .filter_map(|t| {
                    t.rating.map(|rating| RatingPoint {
                        member_id: t.member_id,
                        rating,
                        confidence: t.confidence.map(round2),
                    })
                })
                .collect();
            let mut sorted: Vec<f64> = ratings.iter().map(|p| f64::from(p.rating)).collect();
            sorted.sort_by(f64::total_cmp);
            let quartiles =
                (!sorted.is_empty()).then(|| (round2(percentile(&sorted, 0.25)), round2(percentile(&sorted, 0.75))));
            let consensus = measured.get(&r.round);
            RoundRow {
                round: r.round,
                phase: r.phase,
                median: r.stats.as_ref().map(|s| round2(s.median)),
                iqr: r.stats.as_ref().map(|s| round2(s.iqr)),
                mean: r.stats.as_ref().map(|s| round2(s.mean)),
                n: r.stats.as_ref().map_or(ratings.len(), |s| s.n),
                level: consensus.map(|c| c.level),
                agreement_pct: consensus.map(|c| percent_value(c.agreement)),
                decision: r.decision,
                ratings,
                quartiles,
            }
        })
        .collect();

    let outcome = view.consensus.as_ref().map(|c| Outcome {
        method: c.method,
        level: c.level,
        agreement: round2(c.agreement),
        agreement_pct: percent_value(c.agreement),
        median: round2(c.median),
        iqr: round2(c.iqr),
        mean: round2(c.mean),
        n: c.n,
        round: c.round,
        explanation: explain(c),
    });
    let dissent = view.consensus.as_ref().map(|c| dissent_of(view, c, &name_of)).unwrap_or_default();

    let transcript = view
        .rounds
        .iter()
        .map(|r| TranscriptRound {
            round: r.round,
            phase: r.phase,
            turns: r
                .turns
                .iter()
                .map(|t| TranscriptTurn {
                    member_id: t.member_id,
                    name: name_of(t.member_id),
                    text: t.text.clone(),
                    rating: t.rating,
                    confidence: t.confidence.map(round2),
                    citations: t.citations.clone(),
                })
                .collect(),
            skipped: r
                .skipped
                .iter()
                .map(|s| SkippedRow { member_id: s.member_id, name: name_of(s.member_id), reason: s.reason.clone() })
                .collect(),
        })
        .collect();

    let chart_svg = chart::svg(&rounds, &view.query);
    Report {
        panel_id: view.id.to_string(),
        query: view.query.clone(),
        panel_type: view.panel_type,
        status: view.status,
        created_at: view.created_at,
        completed_at: view.completed_at,
        duration_s: view.completed_at.map(|end| (end - view.created_at).num_seconds().max(0)),
        generated_at,
        members,
        recommendation: view
            .recommendation
            .as_ref()
            .map(|text| Recommendation { text: text.clone(), conditions: conditions(text) }),
        verdict: view.verdict.clone(),
        outcome,
        dissent,
        rounds,
        chart_svg,
        sources: view.sources.clone(),
        transcript,
        config: view.config.clone(),
        usage,
        parent: view
            .config
            .parent
            .as_ref()
            .map(|p| ParentLink { id: p.id.to_string(), relation: p.relation.as_str().to_string() }),
        error: view.error.clone(),
        branding: None,
    }
}

/// Each dissenter of the final consensus, with their rating in its round
/// and the argument of their turn that rated furthest from the panel's
/// position (the latest such turn on a tie).
fn dissent_of(view: &PanelView, consensus: &Consensus, name_of: &dyn Fn(MemberId) -> String) -> Vec<Dissent> {
    let centre = match consensus.method {
        ConsensusMethod::ConfidenceWeighted => consensus.mean,
        _ => consensus.median,
    };
    consensus
        .dissent
        .iter()
        .map(|&member| {
            let rating = view
                .rounds
                .iter()
                .find(|r| r.round == consensus.round)
                .and_then(|r| r.turns.iter().rev().find(|t| t.member_id == member))
                .and_then(|t| t.rating);
            let mut best: Option<(f64, u32, &str)> = None;
            let mut latest: Option<(u32, &str)> = None;
            for round in &view.rounds {
                for turn in round.turns.iter().filter(|t| t.member_id == member && !t.text.trim().is_empty()) {
                    latest = Some((round.round, &turn.text));
                    if let Some(r) = turn.rating {
                        let distance = (f64::from(r) - centre).abs();
                        if best.is_none_or(|(d, _, _)| distance >= d) {
                            best = Some((distance, round.round, &turn.text));
                        }
                    }
                }
            }
            let (round, text) = best.map(|(_, round, text)| (round, text)).or(latest).unwrap_or((consensus.round, ""));
            Dissent {
                member_id: member,
                name: name_of(member),
                rating,
                round,
                argument: if text.is_empty() {
                    "(no statement in the record)".to_string()
                } else {
                    excerpt(text, ARGUMENT_MAX_CHARS)
                },
            }
        })
        .collect()
}

/// The side a figure of the 1-9 scale is on, for labels.
pub fn band(value: f64) -> &'static str {
    match Tertile::of(value) {
        Tertile::Agree => "for",
        Tertile::Disagree => "against",
        Tertile::Uncertain => "undecided",
    }
}

/// A file name for a downloaded report: `askpanel-<first 8 of id>-<words of the question>.<ext>`.
pub fn file_name(report: &Report, ext: &str) -> String {
    let words: Vec<String> = report
        .query
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(6)
        .map(str::to_ascii_lowercase)
        .collect();
    let short: String = report.panel_id.chars().take(8).collect();
    if words.is_empty() {
        format!("askpanel-{short}.{ext}")
    } else {
        format!("askpanel-{short}-{}.{ext}", words.join("-"))
    }
}

/// Words for the names used on the wire.
pub fn wire<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

#[cfg(test)]
mod tests;
