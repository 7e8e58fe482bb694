//! Validating a request for a new panel and building its `panel_created` data.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;
use thiserror::Error;

use crate::domain::grounding::{DEFAULT_BUDGET_CHARS, PanelDocument};
use crate::domain::{
    ConsensusMethod, ExpertId, ExpertProfile, KeyId, Member, MemberId, MemberKind, MemberRole, MemberSelection,
    PanelConfig, PanelId, PanelSetup, PanelStatus, PanelType, SimulationConfig, Team, TenantId, UserId,
};
use crate::panel::view::PanelView;

/// The shortest query accepted, in characters.
pub const QUERY_MIN_CHARS: usize = 10;
/// The longest query accepted, in characters.
pub const QUERY_MAX_CHARS: usize = 5000;
/// The most rounds a panel may ask for.
pub const MAX_ROUNDS_LIMIT: u32 = 20;
/// The longest name of a human member, in characters.
pub const NAME_MAX_CHARS: usize = 200;

/// Field name -> why it is invalid (the `fields` of a 422).
#[derive(Clone, Debug, Error, PartialEq, Default)]
#[error("invalid panel: {}", .0.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join("; "))]
pub struct ValidationErrors(pub BTreeMap<String, String>);

impl ValidationErrors {
    /// Records why `field` is invalid; the first reason given for a field stands.
    pub fn add(&mut self, field: &str, why: impl Into<String>) {
        self.0.entry(field.to_string()).or_insert_with(|| why.into());
    }

    /// Whether no field is invalid.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A member to seat on a new panel.
// Built once per member when a panel is created and consumed at once: the
// size of the AI variant costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum NewMember {
    /// An AI expert.
    Ai {
        /// The catalog expert it comes from, if any.
        expert_id: Option<ExpertId>,
        /// The persona it speaks with.
        profile: ExpertProfile,
        /// Adversarial panels: its side; alternating by seat when absent.
        team: Option<Team>,
        /// A special role (the socratic questioner).
        role: Option<MemberRole>,
        /// The model behind it (`simulated` or a model name), shown to clients.
        model: String,
        /// Why it was seated.
        selection: Option<MemberSelection>,
    },
    /// A person.
    Human {
        /// The name shown for them.
        name: String,
        /// The only key (besides moderators) that may speak for them; any member key when absent.
        key_id: Option<KeyId>,
        /// The person who holds the seat (only they, or a moderator, speak for it).
        user_id: Option<UserId>,
        /// Adversarial panels: their side; alternating by seat when absent.
        team: Option<Team>,
    },
}

/// A request for a new panel, already resolved to member profiles.
#[derive(Clone, Debug)]
pub struct NewPanel {
    /// The tenant the panel belongs to.
    pub tenant_id: TenantId,
    /// Who asks for it: the key id, or a system name such as `cli`.
    pub created_by: String,
    /// The question to deliberate.
    pub query: String,
    /// The deliberation format.
    pub panel_type: PanelType,
    /// The members to seat, in seat order.
    pub members: Vec<NewMember>,
    /// The most rounds; the format's default when absent.
    pub max_rounds: Option<u32>,
    /// The consensus method; the format's default when absent.
    pub consensus_method: Option<ConsensusMethod>,
    /// Seconds a human has for a turn; 300 when absent.
    pub human_turn_timeout_s: Option<u64>,
    /// Hybrid: the format the humans take part in; structured when absent.
    pub base_flow: Option<PanelType>,
    /// Knobs of the simulated experts; the engine's default when absent.
    pub simulation: Option<SimulationConfig>,
    /// The documents the panel deliberates over (labelled `D1`, `D2`... in this order).
    pub documents: Vec<PanelDocument>,
    /// Characters of evidence each turn is given; [`DEFAULT_BUDGET_CHARS`] when absent.
    pub evidence_chars: Option<u32>,
    /// The panel this one follows up or re-runs.
    pub parent: Option<crate::domain::lineage::PanelParent>,
}

/// The most documents one panel may deliberate over.
pub const MAX_PANEL_DOCUMENTS: usize = 200;
/// The range of a turn's evidence budget, in characters.
pub const EVIDENCE_CHARS_RANGE: std::ops::RangeInclusive<u32> = 200..=20_000;

/// The slowest pace a simulated panel may stream at (tokens per second): a
/// delta is at most 10 s apart per word, and deadlines stay far from overflow.
pub const MIN_PACE: f64 = 0.1;

/// Checks a new panel and builds the view and setup of its `panel_created` event.
pub fn build_panel(request: NewPanel, panel_id: PanelId) -> Result<(PanelView, PanelSetup), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let query = request.query.trim().to_string();
    let chars = query.chars().count();
    if !(QUERY_MIN_CHARS..=QUERY_MAX_CHARS).contains(&chars) {
        errors.add("query", format!("must be {QUERY_MIN_CHARS} to {QUERY_MAX_CHARS} characters, got {chars}"));
    }
    let panel_type = request.panel_type;
    let humans = request.members.iter().filter(|m| matches!(m, NewMember::Human { .. })).count();
    let ais = request.members.len() - humans;
    let base_flow = match (panel_type, request.base_flow) {
        (PanelType::Hybrid, Some(PanelType::Hybrid)) => {
            errors.add("base_flow", "a hybrid panel's base flow cannot be hybrid");
            None
        }
        (PanelType::Hybrid, flow) => Some(flow.unwrap_or(PanelType::Structured)),
        (_, Some(_)) => {
            errors.add("base_flow", "only hybrid panels have a base flow");
            None
        }
        (_, None) => None,
    };
    let (mut min, max) = panel_type.member_bounds();
    if let Some(flow) = base_flow {
        min = min.max(flow.member_bounds().0.min(max));
    }
    let count = request.members.len();
    if count < min || count > max {
        errors.add("experts", format!("a {} panel has {min} to {max} members, got {count}", panel_type.as_str()));
    }
    if panel_type == PanelType::Hybrid && humans == 0 {
        errors.add("humans", "a hybrid panel needs at least one human member");
    }
    if panel_type != PanelType::Hybrid && humans > 0 {
        errors.add("humans", "only hybrid panels have human members");
    }
    let flow = base_flow.unwrap_or(panel_type);
    if flow == PanelType::Socratic && ais == 0 {
        errors.add("experts", "a socratic panel needs an AI questioner");
    }
    let mut seen = std::collections::HashSet::new();
    for member in &request.members {
        match member {
            NewMember::Ai { expert_id: Some(id), .. } if !seen.insert(*id) => {
                errors.add("experts", format!("expert {id} is listed twice"))
            }
            NewMember::Human { name, .. } if name.trim().is_empty() || name.chars().count() > NAME_MAX_CHARS => {
                errors.add("humans", format!("a human member needs a name of 1 to {NAME_MAX_CHARS} characters"))
            }
            _ => {}
        }
    }
    // Adversarial runs its three phases whatever the rounds asked (a tenant's
    // default may name some), but a number out of range is refused for any format.
    let max_rounds = match (flow, request.max_rounds) {
        (_, Some(n)) if !(1..=MAX_ROUNDS_LIMIT).contains(&n) => {
            errors.add("max_rounds", format!("must be 1 to {MAX_ROUNDS_LIMIT}, got {n}"));
            1
        }
        (PanelType::Adversarial, _) => 3,
        (_, Some(n)) => n,
        (flow, None) => flow.default_max_rounds(),
    };
    let human_turn_timeout_s = request.human_turn_timeout_s.unwrap_or(300);
    if !(5..=86_400).contains(&human_turn_timeout_s) {
        errors.add("human_turn_timeout_s", "must be 5 to 86400 seconds");
    }
    if let Some(sim) = &request.simulation {
        if !(sim.pace_tokens_per_s == 0.0 || (MIN_PACE..=10_000.0).contains(&sim.pace_tokens_per_s)) {
            errors.add("simulation.pace_tokens_per_s", "must be 0 (instant) or 0.1 to 10000");
        }
        if !(1..=4000).contains(&sim.turn_tokens) {
            errors.add("simulation.turn_tokens", "must be 1 to 4000");
        }
        if sim.stubbornness.is_some_and(|s| !(0.0..=1.0).contains(&s)) {
            errors.add("simulation.stubbornness", "must be 0 to 1");
        }
        if sim.words_per_delta.is_some_and(|n| !(1..=crate::domain::MAX_WORDS_PER_DELTA).contains(&n)) {
            errors.add("simulation.words_per_delta", format!("must be 1 to {}", crate::domain::MAX_WORDS_PER_DELTA));
        }
        if sim.noise.is_some_and(|s| !(0.0..=4.0).contains(&s)) {
            errors.add("simulation.noise", "must be 0 to 4");
        }
    }
    if request.documents.len() > MAX_PANEL_DOCUMENTS {
        errors.add("documents", format!("at most {MAX_PANEL_DOCUMENTS} documents, got {}", request.documents.len()));
    }
    if let Some(chars) = request.evidence_chars
        && !EVIDENCE_CHARS_RANGE.contains(&chars)
    {
        errors.add(
            "evidence_chars",
            format!("must be {} to {}", EVIDENCE_CHARS_RANGE.start(), EVIDENCE_CHARS_RANGE.end()),
        );
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    let mut members = Vec::with_capacity(count);
    let mut profiles = Vec::new();
    for (index, member) in request.members.into_iter().enumerate() {
        let id = MemberId::new();
        // Adversarial teams alternate by seat unless given: pro, con, pro...
        let default_team =
            (flow == PanelType::Adversarial).then_some(if index % 2 == 0 { Team::Pro } else { Team::Con });
        match member {
            NewMember::Ai { expert_id, mut profile, team, role, model, selection } => {
                profile.member_id = id;
                members.push(Member {
                    id,
                    kind: MemberKind::Ai,
                    name: profile.name.clone(),
                    expert_id,
                    team: team.or(default_team),
                    role,
                    domain: Some(profile.domain.clone()),
                    model: Some(model),
                    key_id: None,
                    user_id: None,
                    selection,
                });
                profiles.push(profile);
            }
            NewMember::Human { name, key_id, user_id, team } => members.push(Member {
                id,
                kind: MemberKind::Human,
                name: name.trim().to_string(),
                expert_id: None,
                team: team.or(default_team),
                role: None,
                domain: None,
                model: None,
                key_id,
                user_id,
                selection: None,
            }),
        }
    }
    if flow == PanelType::Socratic
        && !members.iter().any(|m| m.role == Some(MemberRole::Questioner))
        && let Some(first_ai) = members.iter_mut().find(|m| m.kind == MemberKind::Ai)
    {
        first_ai.role = Some(MemberRole::Questioner);
    }
    if flow == PanelType::Adversarial {
        for team in [Team::Pro, Team::Con] {
            if members.iter().filter(|m| m.team == Some(team)).count() < 2 {
                errors.add("experts", format!("the {} team needs at least two members", team.as_str()));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
    }
    let now = Utc::now();
    let config = PanelConfig {
        max_rounds,
        consensus_method: request.consensus_method.unwrap_or(flow.default_consensus_method()),
        human_turn_timeout_s,
        base_flow,
        simulation: request.simulation,
        evidence_chars: (!request.documents.is_empty()).then(|| request.evidence_chars.unwrap_or(DEFAULT_BUDGET_CHARS)),
        documents: request.documents,
        parent: request.parent,
    };
    let view = PanelView {
        id: panel_id,
        tenant_id: request.tenant_id,
        created_by: request.created_by,
        query,
        panel_type,
        status: PanelStatus::Created,
        members,
        rounds: Vec::new(),
        consensus: None,
        recommendation: None,
        head_seq: 1,
        created_at: now,
        updated_at: now,
        completed_at: None,
        config: config.clone(),
        draft: None,
        verdict: None,
        current_turn: None,
        pending_human: None,
        paused_reason: None,
        error: None,
        ideas: Vec::new(),
        feedback: None,
        sources: Vec::new(),
    };
    Ok((view, PanelSetup { config, profiles: profiles.into_iter().map(Arc::new).collect() }))
}
