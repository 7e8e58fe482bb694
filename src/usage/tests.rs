use serde_json::{Value, json};

use super::*;

const PANEL: &str = "01900000-0000-7000-8000-000000000001";
const TENANT: &str = "01900000-0000-7000-8000-000000000002";
const AI: &str = "01900000-0000-7000-8000-0000000000a2";
const HUMAN: &str = "01900000-0000-7000-8000-0000000000a1";

fn view() -> PanelView {
    serde_json::from_value(json!({
        "id": PANEL, "tenant_id": TENANT, "created_by": "cli",
        "query": "q", "panel_type": "hybrid", "status": "completed",
        "members": [
            {"id": AI, "kind": "ai", "name": "Dr. Lee", "expert_id": null, "team": null},
            {"id": HUMAN, "kind": "human", "name": "Dana", "expert_id": null, "team": null}
        ],
        "rounds": [], "consensus": null, "recommendation": null, "head_seq": 1,
        "created_at": "2026-12-01T23:59:00Z", "updated_at": "2026-12-01T23:59:00Z", "completed_at": null,
        "config": {"max_rounds": 3, "consensus_method": "rand_ucla", "human_turn_timeout_s": 300}
    }))
    .expect("a panel view")
}

fn event(seq: u64, ts: &str, kind: &str, data: Value) -> Event {
    serde_json::from_value(json!({"seq": seq, "ts": ts, "kind": kind, "data": data})).expect("an event")
}

fn turn(seq: u64, ts: &str, member: &str, round: u32, tokens: (u64, u64)) -> Event {
    event(
        seq,
        ts,
        "turn_completed",
        json!({"member_id": member, "round": round, "text": "t", "tokens_in": tokens.0, "tokens_out": tokens.1}),
    )
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// A panel created just before midnight that runs into the next day.
fn log() -> Vec<Event> {
    vec![
        event(
            2,
            "2026-12-01T23:59:30Z",
            "round_started",
            json!({"round": 1, "phase": "opening", "tokens_in": 7, "tokens_out": 3}),
        ),
        turn(3, "2026-12-01T23:59:50Z", AI, 1, (100, 40)),
        turn(4, "2026-12-02T00:00:10Z", HUMAN, 1, (0, 0)),
        event(
            5,
            "2026-12-02T00:00:20Z",
            "draft_updated",
            json!({"round": 1, "draft": "d", "tokens_in": 20, "tokens_out": 10}),
        ),
        turn(6, "2026-12-02T00:00:30Z", AI, 2, (120, 50)),
        event(
            7,
            "2026-12-02T00:01:00Z",
            "panel_completed",
            json!({"recommendation": "r", "consensus": null, "tokens_in": 5, "tokens_out": 2}),
        ),
    ]
}

#[test]
fn each_figure_counts_on_the_day_of_its_event() {
    let days = day_deltas(at("2026-12-01T23:59:00Z"), &log());
    let first = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    let second = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
    assert_eq!(days.len(), 2);
    assert_eq!(
        days[&first],
        Figures { turns: 1, tokens_in: 107, tokens_out: 43, ..Figures::default() },
        "the opening's call and the first turn"
    );
    assert_eq!(
        days[&second],
        Figures {
            panels_completed: 1,
            turns: 2,
            tokens_in: 145,
            tokens_out: 62,
            duration_ms: 120_000,
            ..Figures::default()
        },
        "the human turn counts as a turn without tokens; the duration counts when the panel finishes"
    );
    // A log without usage adds nothing.
    assert!(
        day_deltas(at("2026-12-01T23:59:00Z"), &[event(8, "2026-12-02T00:00:00Z", "panel_started", json!({}))])
            .is_empty()
    );
}

#[test]
fn a_failed_or_cancelled_panel_counts_its_duration_but_not_as_completed() {
    for kind in ["panel_failed", "panel_cancelled"] {
        let data = if kind == "panel_failed" { json!({"error": "x"}) } else { json!({"by": "moderator"}) };
        let days = day_deltas(at("2026-12-02T00:00:00Z"), &[event(9, "2026-12-02T00:00:05Z", kind, data)]);
        let figures = days.values().next().copied().unwrap();
        assert_eq!(figures, Figures { duration_ms: 5_000, ..Figures::default() }, "{kind}");
    }
}

#[test]
fn ranges_default_and_refuse_what_cannot_be_answered() {
    let today = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
    let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    type Row<'a> = (Option<&'a str>, Option<&'a str>, Result<(&'a str, &'a str), (&'a str, &'a str)>);
    let table: &[Row] = &[
        (None, None, Ok(("2026-11-04", "2026-12-03"))),
        (Some("2026-12-01"), None, Ok(("2026-12-01", "2026-12-03"))),
        (None, Some("2026-01-31"), Ok(("2026-01-02", "2026-01-31"))),
        (Some("2026-12-03"), Some("2026-12-03"), Ok(("2026-12-03", "2026-12-03"))),
        (Some("2025-12-03"), Some("2026-12-03"), Ok(("2025-12-03", "2026-12-03"))),
        (Some("2025-12-02"), Some("2026-12-03"), Err(("from", "the range is at most 366 days"))),
        (Some("2026-12-04"), Some("2026-12-03"), Err(("from", "must not be after `to`"))),
        (Some("2026-12-1"), None, Err(("from", "must be a date, YYYY-MM-DD"))),
        (Some("2026-13-01"), None, Err(("from", "must be a date, YYYY-MM-DD"))),
        (None, Some("yesterday"), Err(("to", "must be a date, YYYY-MM-DD"))),
        (None, Some("+2026-12-01"), Err(("to", "must be a date, YYYY-MM-DD"))),
    ];
    for (from, to, expected) in table {
        let got = Range::of(*from, *to, today);
        let expected = expected.map(|(f, t)| Range { from: d(f), to: d(t) });
        assert_eq!(got, expected, "{from:?} {to:?}");
    }
}

#[test]
fn a_report_lists_every_day_and_sums_by_type() {
    let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let range = Range { from: d("2026-12-01"), to: d("2026-12-03") };
    let f = |created, tokens| Figures { panels_created: created, tokens_in: tokens, ..Figures::default() };
    let rows = vec![
        (d("2026-11-30"), "open".to_string(), f(9, 900)),
        (d("2026-12-01"), "structured".to_string(), f(2, 100)),
        (d("2026-12-01"), "delphi".to_string(), f(1, 50)),
        (d("2026-12-03"), "structured".to_string(), f(1, 10)),
    ];
    let all = report(range, None, &rows);
    assert_eq!(
        all.days.iter().map(|day| day.date).collect::<Vec<_>>(),
        vec![d("2026-12-01"), d("2026-12-02"), d("2026-12-03")]
    );
    assert_eq!(all.days[0].figures, f(3, 150));
    assert_eq!(all.days[1].figures, Figures::default(), "a quiet day is there, with zeros");
    assert!(all.days[1].by_panel_type.is_empty());
    assert_eq!(all.totals, f(4, 160), "a row outside the range does not count");
    assert_eq!(all.by_panel_type["structured"], f(3, 110));
    let structured = report(range, Some("structured"), &rows);
    assert_eq!(structured.totals, f(3, 110));
    assert_eq!(structured.days[0].figures, f(2, 100));
    assert_eq!(structured.by_panel_type.keys().collect::<Vec<_>>(), vec!["structured"]);
    let json = serde_json::to_value(&all.days[0]).unwrap();
    assert_eq!(json["date"], "2026-12-01");
    assert_eq!(json["tokens_in"], 150, "a day's figures sit beside its date");
}

#[test]
fn a_panels_usage_is_summed_by_round_and_member() {
    let usage = panel_usage(&view(), &log(), at("2030-01-01T00:00:00Z"));
    assert_eq!((usage.tokens_in, usage.tokens_out), (252, 105));
    assert_eq!(usage.turns, 3);
    assert_eq!(usage.model_calls, 5, "the human turn is not a model call");
    assert_eq!(usage.finished_at, Some(at("2026-12-02T00:01:00Z")));
    assert_eq!(usage.duration_ms, 120_000);
    assert_eq!(
        usage.by_round,
        vec![
            RoundSpend { round: 1, tokens_in: 127, tokens_out: 53, turns: 2 },
            RoundSpend { round: 2, tokens_in: 125, tokens_out: 52, turns: 1 },
        ],
        "the closing call counts in the round it followed"
    );
    let lee = &usage.by_member[0];
    assert_eq!((lee.name.as_str(), lee.turns, lee.tokens_in, lee.tokens_out), ("Dr. Lee", 2, 220, 90));
    let dana = &usage.by_member[1];
    assert_eq!((dana.turns, dana.tokens_in), (1, 0));
    // Still running: the duration runs to now.
    let running = panel_usage(&view(), &log()[..3], at("2026-12-02T00:00:00Z"));
    assert_eq!((running.finished_at, running.duration_ms), (None, 60_000));
}
