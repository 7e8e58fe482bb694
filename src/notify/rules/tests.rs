use super::*;
use serde_json::json;

const PANEL: &str = "01900000-0000-7000-8000-000000000001";
const TENANT: &str = "01900000-0000-7000-8000-000000000002";
const CREATOR: &str = "01900000-0000-7000-8000-0000000000c0";
const HUMAN: &str = "01900000-0000-7000-8000-0000000000a1";
const AI: &str = "01900000-0000-7000-8000-0000000000a2";
const KEYED: &str = "01900000-0000-7000-8000-0000000000a3";
const PERSON: &str = "01900000-0000-7000-8000-0000000000d1";
const MODERATOR: &str = "01900000-0000-7000-8000-0000000000d2";

fn panel_json(created_by: &str) -> Value {
    json!({
        "id": PANEL, "tenant_id": TENANT, "created_by": created_by,
        "query": "Should   we recall\nthe patch?", "panel_type": "hybrid", "status": "created",
        "members": [
            {"id": HUMAN, "kind": "human", "name": "Dana", "expert_id": null, "team": null, "user_id": PERSON},
            {"id": AI, "kind": "ai", "name": "Dr. Lee", "expert_id": null, "team": null},
            {"id": KEYED, "kind": "human", "name": "Bot seat", "expert_id": null, "team": null,
             "key_id": "01900000-0000-7000-8000-0000000000e1"}
        ],
        "rounds": [], "consensus": null, "recommendation": null, "head_seq": 1,
        "created_at": "2026-12-03T10:00:00Z", "updated_at": "2026-12-03T10:00:00Z", "completed_at": null,
        "config": {"max_rounds": 3, "consensus_method": "rand_ucla", "human_turn_timeout_s": 300}
    })
}

fn view(created_by: &str) -> PanelView {
    serde_json::from_value(panel_json(created_by)).expect("a panel view")
}

fn event(seq: u64, ts: &str, kind: &str, data: Value) -> Event {
    serde_json::from_value(json!({"seq": seq, "ts": ts, "kind": kind, "data": data})).expect("an event")
}

fn created(created_by: &str) -> Event {
    event(
        1,
        "2026-12-03T10:00:00Z",
        "panel_created",
        json!({"panel": panel_json(created_by), "setup": {
        "config": {"max_rounds": 3, "consensus_method": "rand_ucla", "human_turn_timeout_s": 300}, "profiles": []}}),
    )
}

fn requested(seq: u64, member: &str, deadline: &str) -> Event {
    event(
        seq,
        "2026-12-03T10:00:00Z",
        "human_turn_requested",
        json!({"member_id": member, "round": 1, "deadline": deadline}),
    )
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

#[test]
fn creation_follows_the_creator_and_the_seated_and_tells_the_seated() {
    let plan = plan(&view(CREATOR), &[created(CREATOR)]);
    let follows: Vec<(String, FollowReason)> = plan.follows.iter().map(|(u, r)| (u.to_string(), *r)).collect();
    assert_eq!(follows, vec![(CREATOR.to_string(), FollowReason::Created), (PERSON.to_string(), FollowReason::Seated)]);
    assert_eq!(plan.notices.len(), 1, "one seat is a person's; the key's seat and the AI get nothing");
    let notice = &plan.notices[0];
    assert_eq!(
        (notice.kind, &notice.to),
        (NotificationKind::PanelSeat, &Recipients::User(UserId(PERSON.parse().unwrap())))
    );
    assert!(notice.title.contains("Should we recall the patch?"), "{}", notice.title);
    assert_eq!(plan.webhooks.len(), 1);
    assert_eq!(plan.webhooks[0].event_type, "panel.created");
    // A panel created by a system name follows nobody for it.
    let plan = super::plan(&view("cli"), &[created("cli")]);
    assert_eq!(plan.follows.len(), 1);
}

#[test]
fn a_persons_turn_is_announced_with_one_reminder_and_other_seats_are_not() {
    let cases: [(&str, &str, usize, Option<&str>); 4] = [
        // (member, deadline, notices, reminder due)
        (HUMAN, "2026-12-03T10:05:00Z", 1, Some("2026-12-03T10:03:45Z")),
        (HUMAN, "2026-12-03T11:00:00Z", 1, Some("2026-12-03T10:50:00Z")),
        (HUMAN, "2026-12-03T10:00:04Z", 1, None),
        (KEYED, "2026-12-03T10:05:00Z", 0, None),
    ];
    for (member, deadline, notices, reminder) in cases {
        let plan = plan(&view(CREATOR), &[requested(7, member, deadline)]);
        assert_eq!(plan.notices.len(), notices, "{member} {deadline}");
        assert_eq!(plan.reminders.first().map(|r| r.due_at), reminder.map(at), "{member} {deadline}");
        assert_eq!(plan.webhooks[0].event_type, "human_turn.requested");
        if notices == 1 {
            let notice = &plan.notices[0];
            assert_eq!(notice.kind, NotificationKind::HumanTurn);
            assert_eq!(notice.turn.unwrap().request_seq, 7);
        }
    }
}

#[test]
fn reminders_come_a_quarter_of_the_window_early_at_most_ten_minutes() {
    for (opened, deadline, due) in [
        ("2026-12-03T10:00:00Z", "2026-12-03T10:00:20Z", Some("2026-12-03T10:00:15Z")),
        ("2026-12-03T10:00:00Z", "2026-12-03T10:05:00Z", Some("2026-12-03T10:03:45Z")),
        ("2026-12-03T10:00:00Z", "2026-12-03T12:00:00Z", Some("2026-12-03T11:50:00Z")),
        ("2026-12-03T10:00:00Z", "2026-12-03T10:00:07Z", None),
        ("2026-12-03T10:00:00Z", "2026-12-03T09:00:00Z", None),
    ] {
        assert_eq!(reminder_at(at(opened), at(deadline)), due.map(at), "{opened} {deadline}");
    }
}

#[test]
fn a_turn_stays_open_until_its_member_speaks_is_skipped_or_the_panel_ends() {
    let turn = OpenTurn {
        panel: PanelId(PANEL.parse().unwrap()),
        member: MemberId(HUMAN.parse().unwrap()),
        round: 1,
        request_seq: 7,
        deadline: at("2026-12-03T10:05:00Z"),
    };
    let ts = "2026-12-03T10:01:00Z";
    let cases: Vec<(Vec<Event>, bool)> = vec![
        (vec![], true),
        (vec![event(8, ts, "turn_started", json!({"member_id": AI, "round": 1}))], true),
        (vec![event(8, ts, "human_input", json!({"member_id": HUMAN, "round": 1, "text": "yes"}))], false),
        (vec![event(8, ts, "turn_skipped", json!({"member_id": HUMAN, "round": 1, "reason": "timeout"}))], false),
        (vec![event(8, ts, "turn_skipped", json!({"member_id": AI, "round": 1, "reason": "timeout"}))], true),
        (vec![event(8, ts, "panel_cancelled", json!({"by": "k"}))], false),
        (vec![event(8, ts, "panel_paused", json!({"reason": "moderator"}))], false),
        // Events up to the request do not count.
        (vec![event(6, ts, "human_input", json!({"member_id": HUMAN, "round": 1, "text": "yes"}))], true),
    ];
    for (events, open) in cases {
        assert_eq!(turn_still_open(&turn, &events), open, "{events:?}");
    }
}

#[test]
fn ends_go_to_followers_and_moderators_become_followers() {
    let ts = "2026-12-03T10:09:00Z";
    let events = [
        event(9, ts, "moderator_action", json!({"action": "pause", "by": MODERATOR})),
        event(10, ts, "moderator_action", json!({"action": "resume", "by": "cli"})),
        event(11, ts, "panel_completed", json!({"recommendation": "Recall the patch.", "consensus": null})),
    ];
    let plan = plan(&view(CREATOR), &events);
    assert_eq!(plan.follows, vec![(MODERATOR.parse().unwrap(), FollowReason::Moderated)]);
    assert_eq!(plan.notices.len(), 1);
    assert_eq!((plan.notices[0].kind, &plan.notices[0].to), (NotificationKind::PanelCompleted, &Recipients::Followers));
    assert_eq!(plan.notices[0].body, "Recall the patch.");
    for (kind, data, expected) in [
        ("panel_failed", json!({"error": "model down"}), NotificationKind::PanelFailed),
        ("panel_cancelled", json!({"by": "k"}), NotificationKind::PanelCancelled),
    ] {
        let plan = super::plan(&view(CREATOR), &[event(12, ts, kind, data)]);
        assert_eq!(plan.notices[0].kind, expected);
        assert_eq!(plan.webhooks[0].event_type, format!("panel.{}", kind.trim_start_matches("panel_")));
    }
}

#[test]
fn preferences_change_one_channel_at_a_time_and_refuse_what_they_do_not_know() {
    let mut prefs = Preferences::default();
    assert_eq!(prefs.of(NotificationKind::HumanTurn), Channels { in_app: true, email: true });
    prefs.apply(&json!({"kinds": {"human_turn": {"email": false}}})).unwrap();
    assert_eq!(prefs.of(NotificationKind::HumanTurn), Channels { in_app: true, email: false });
    prefs.apply(&json!({"kinds": {"panel_completed": {"in_app": false}}})).unwrap();
    assert_eq!(prefs.of(NotificationKind::HumanTurn), Channels { in_app: true, email: false }, "earlier changes stay");
    for (bad, field) in [
        (json!({"kinds": {"nope": {"email": false}}}), "kinds.nope"),
        (json!({"kinds": {"human_turn": {"sms": true}}}), "kinds.human_turn.sms"),
        (json!({"kinds": {"human_turn": {"email": "no"}}}), "kinds.human_turn.email"),
        (json!({"kinds": {"human_turn": true}}), "kinds.human_turn"),
        (json!({"kinds": []}), "kinds"),
        (json!({"colour": "red"}), "colour"),
        (json!([]), "body"),
    ] {
        let before = prefs.clone();
        assert_eq!(prefs.apply(&bad).unwrap_err().0, field, "{bad}");
        assert_eq!(prefs, before, "a refused change changes nothing");
    }
    let stored = serde_json::to_string(&prefs).unwrap();
    assert_eq!(Preferences::parse_stored(&stored), prefs);
    assert_eq!(Preferences::parse_stored("not json"), Preferences::default());
}

#[test]
fn a_notice_reaches_each_recipient_once_by_the_channels_they_chose() {
    let tenant = askpanel_actors::domain::TenantId(TENANT.parse().unwrap());
    let notice = plan(&view(CREATOR), &[requested(7, HUMAN, "2026-12-03T10:05:00Z")]).notices.remove(0);
    let (a, b) = (UserId(PERSON.parse().unwrap()), UserId(MODERATOR.parse().unwrap()));
    let mut quiet = Preferences::default();
    quiet.apply(&json!({"kinds": {"human_turn": {"email": false}}})).unwrap();
    let mut silent = Preferences::default();
    silent.apply(&json!({"kinds": {"human_turn": {"in_app": false, "email": false}}})).unwrap();
    let fan = FanOut {
        mail_enabled: true,
        public_url: "https://panel.example/".into(),
        now: at("2026-12-03T10:00:01Z"),
        away_grace: Duration::seconds(5),
    };
    let (notifications, mails) =
        fan_out(tenant, &notice, &[(a, Preferences::default()), (a, Preferences::default()), (b, quiet.clone())], &fan);
    assert_eq!(notifications.iter().map(|n| n.user_id).collect::<Vec<_>>(), vec![a, b]);
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].user, a);
    assert!(mails[0].turn.is_some(), "a turn's email waits on the turn and the person's absence");
    assert_eq!(fan.mail_due(&mails[0]), at("2026-12-03T10:00:06Z"), "a turn's email waits for the grace");
    assert!(mails[0].text.contains(&format!("https://panel.example/#/panels/{PANEL}")), "{}", mails[0].text);
    let reminder = reminder_notice(&plan(&view(CREATOR), &[requested(7, HUMAN, "2026-12-03T10:05:00Z")]).reminders[0]);
    let (_, reminded) = fan_out(tenant, &reminder, &[(a, Preferences::default())], &fan);
    assert_eq!(fan.mail_due(&reminded[0]), fan.now, "a reminder's email does not wait");
    assert!(reminded[0].turn.is_some(), "but it too goes only while the turn is open and the person away");
    let (notifications, mails) = fan_out(tenant, &notice, &[(a, silent)], &fan);
    assert!(notifications.is_empty() && mails.is_empty());
    let no_mail = FanOut { mail_enabled: false, ..fan };
    let (notifications, mails) = fan_out(tenant, &notice, &[(a, Preferences::default())], &no_mail);
    assert_eq!((notifications.len(), mails.len()), (1, 0));
}

#[test]
fn long_questions_are_quoted_on_one_line_and_cut() {
    assert_eq!(quoted("a\n b\t c"), "a b c");
    let long = "word ".repeat(100);
    let cut = quoted(&long);
    assert!(cut.chars().count() <= 120 && cut.ends_with('…'), "{cut}");
}
