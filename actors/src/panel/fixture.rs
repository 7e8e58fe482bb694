//! Panels for unit tests: members, a created panel's state, and events
//! applied the way the actor applies them (numbered after the head).

use chrono::Utc;

use crate::domain::{ExpertProfile, KeyId, MemberId, PanelId, PanelType, SimulationConfig, TenantId};
use crate::event::{Event, EventData};
use crate::panel::new::{NewMember, NewPanel, build_panel};
use crate::panel::state::PanelState;

/// An AI member with a plain persona.
pub fn ai(name: &str) -> NewMember {
    NewMember::Ai {
        expert_id: None,
        profile: ExpertProfile {
            member_id: MemberId::new(),
            name: name.into(),
            title: format!("{name}'s title"),
            domain: "clinical".into(),
            persona: "A seasoned expert.".into(),
            tags: vec!["clinical".into()].into(),
            concerns: vec![format!("{name}'s concern")].into(),
            stubbornness: 0.3,
            optimism: 0.5,
            model: None,
        },
        team: None,
        role: None,
        model: "simulated".into(),
        selection: None,
    }
}

/// A human member, spoken for by `key` when given.
pub fn human(name: &str, key: Option<KeyId>) -> NewMember {
    NewMember::Human { name: name.into(), key_id: key, user_id: None, team: None }
}

/// A new panel request of this type with these members.
pub fn request(flow: PanelType, members: Vec<NewMember>) -> NewPanel {
    NewPanel {
        tenant_id: TenantId::new(),
        created_by: "test".into(),
        query: "Should the hospital adopt the AI triage tool this year?".into(),
        panel_type: flow,
        members,
        max_rounds: None,
        consensus_method: None,
        human_turn_timeout_s: None,
        base_flow: None,
        simulation: Some(SimulationConfig::default()),
        documents: Vec::new(),
        evidence_chars: None,
        parent: None,
    }
}

/// The state of a panel just created.
pub fn created(request: NewPanel) -> PanelState {
    let (view, setup) = build_panel(request, PanelId::new()).expect("a valid panel");
    let event = Event {
        seq: 1,
        ts: Utc::now(),
        data: EventData::PanelCreated { panel: Box::new(view), setup: Box::new(setup) },
    };
    PanelState::from_creation(&event).expect("a panel_created event")
}

/// Applies events after the head, as the actor does once they are durable.
pub fn apply(state: &mut PanelState, data: impl IntoIterator<Item = EventData>) {
    for data in data {
        let event = Event { seq: state.head_seq() + 1, ts: Utc::now(), data };
        state.apply(&event).unwrap_or_else(|e| panic!("{e}"));
    }
}

/// The member ids in seating order.
pub fn members(state: &PanelState) -> Vec<MemberId> {
    state.view.members.iter().map(|m| m.id).collect()
}

/// What the first member of a structured panel on `query` is shown in round 1.
pub fn member_view_for(query: &str) -> crate::panel::strategy::MemberView {
    let mut panel = request(PanelType::Structured, vec![ai("A"), ai("B"), ai("C")]);
    panel.query = query.into();
    let state = created(panel);
    let first = members(&state)[0];
    crate::panel::strategy::member_view(&state, first, 1)
}
