//! Follow-ups and re-runs (`docs/records.md`): a new panel made from an
//! earlier one's configuration, through the same create path (limits,
//! idempotency, validation) as `POST /v1/panels`. What is inherited is
//! decided by pure functions ([`follow_up_body`], [`rerun_body`]).

use askpanel_actors::domain::lineage::{PanelParent, PriorDissent, Relation};
use askpanel_actors::domain::{MemberKind, MemberRole, PanelId, PanelStatus};
use askpanel_actors::panel::view::PanelView;
use serde_json::{Map, Value, json};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::panels::{self, Read};
use crate::state::AppState;

/// The create body's fields a follow-up inherits when it does not give them.
fn inherited(parent: &PanelView) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("panel_type".into(), json!(parent.panel_type));
    let experts: Vec<String> = parent
        .members
        .iter()
        .filter(|m| m.kind == MemberKind::Ai)
        .filter_map(|m| m.expert_id.map(|e| e.to_string()))
        .collect();
    if !experts.is_empty() {
        fields.insert("experts".into(), json!(experts));
    }
    if let Some(questioner) =
        parent.members.iter().find(|m| m.role == Some(MemberRole::Questioner)).and_then(|m| m.expert_id)
    {
        fields.insert("questioner".into(), json!(questioner.to_string()));
    }
    let humans: Vec<Value> = parent
        .members
        .iter()
        .filter(|m| m.kind == MemberKind::Human)
        .map(|m| {
            let mut human = json!({"name": m.name});
            if let Some(key) = m.key_id {
                human["key_id"] = json!(key.to_string());
            }
            // A seat held by a person stays theirs in the follow-up or re-run.
            if let Some(user) = m.user_id {
                human["user_id"] = json!(user.to_string());
            }
            if let Some(team) = m.team {
                human["team"] = json!(team);
            }
            human
        })
        .collect();
    if !humans.is_empty() {
        fields.insert("humans".into(), json!(humans));
    }
    let config = &parent.config;
    fields.insert("max_rounds".into(), json!(config.max_rounds));
    fields.insert("consensus_method".into(), json!(config.consensus_method));
    fields.insert("human_turn_timeout_s".into(), json!(config.human_turn_timeout_s));
    if let Some(base) = config.base_flow {
        fields.insert("base_flow".into(), json!(base));
    }
    if !config.documents.is_empty() {
        let ids: Vec<String> = config.documents.iter().map(|d| d.id.to_string()).collect();
        fields.insert("documents".into(), json!(ids));
        if let Some(chars) = config.evidence_chars {
            fields.insert("evidence_chars".into(), json!(chars));
        }
    }
    if let Some(simulation) = &config.simulation {
        fields.insert("simulation".into(), json!(simulation));
    }
    fields
}

/// A follow-up's create body: the caller's fields, and the earlier panel's
/// for what they leave out. Members given (`experts` or `expert_count`)
/// replace the earlier members together with the questioner; documents given
/// replace the earlier documents together with their budget. Pure.
pub fn follow_up_body(parent: &PanelView, body: Value) -> Result<Value, ApiError> {
    // Anything but an object is refused by the create path, as for POST /v1/panels.
    let Value::Object(mut given) = body else { return Ok(body) };
    let mut defaults = inherited(parent);
    if given.contains_key("experts") || given.contains_key("expert_count") {
        defaults.remove("experts");
        defaults.remove("questioner");
    }
    if given.contains_key("documents") {
        defaults.remove("evidence_chars");
    }
    if given.contains_key("panel_type") && given.get("panel_type") != defaults.get("panel_type") {
        // Another format: the members stay, the format's own shape does not
        // (and only a hybrid panel seats humans).
        defaults.remove("questioner");
        defaults.remove("base_flow");
        if given.get("panel_type") != Some(&json!("hybrid")) {
            defaults.remove("humans");
        }
    }
    for (key, value) in defaults {
        given.entry(key).or_insert(value);
    }
    Ok(Value::Object(given))
}

/// A re-run's create body: the earlier panel's question and configuration,
/// with a new seed (`seed` when given). Pure.
pub fn rerun_body(parent: &PanelView, seed: u64) -> Value {
    let mut fields = inherited(parent);
    fields.insert("query".into(), json!(parent.query));
    let mut simulation = parent.config.simulation.clone().unwrap_or_default();
    simulation.seed = seed;
    fields.insert("simulation".into(), json!(simulation));
    Value::Object(fields)
}

/// What a panel started from `parent` is told of it (a re-run: nothing but
/// the link; see `PanelParent::context`).
/// What a follow-up is told is bounded: it goes into every member's prompt.
const CONTEXT_RECOMMENDATION_CHARS: usize = 1500;
const CONTEXT_DISSENTERS: usize = 4;
const CONTEXT_ARGUMENT_CHARS: usize = 400;

pub fn parent_of(parent: &PanelView, report: &crate::report::Report, relation: Relation) -> PanelParent {
    use crate::report::excerpt;
    PanelParent {
        id: parent.id,
        relation,
        query: parent.query.clone(),
        recommendation: parent.recommendation.as_deref().map(|r| excerpt(r, CONTEXT_RECOMMENDATION_CHARS)),
        level: report.outcome.as_ref().map(|o| o.explanation.clone()),
        dissent: report
            .dissent
            .iter()
            .take(CONTEXT_DISSENTERS)
            .map(|d| PriorDissent { name: d.name.clone(), argument: excerpt(&d.argument, CONTEXT_ARGUMENT_CHARS) })
            .collect(),
    }
}

/// `POST /v1/panels/{id}/follow-up`.
pub async fn follow_up(
    state: &AppState,
    principal: &Principal,
    parent: PanelId,
    body: Value,
    idempotency_key: Option<String>,
) -> Result<(PanelView, bool), ApiError> {
    principal.require(crate::store::Role::Member)?;
    let tenant = principal.tenant_id();
    let view = panels::get(state, tenant, parent, Read::Committed).await?;
    if view.status != PanelStatus::Completed {
        return Err(ApiError::Conflict(format!(
            "only a completed panel can be followed up; this one is {}",
            view.status.as_str()
        )));
    }
    let report = super::report(state, tenant, parent).await?;
    let lineage = parent_of(&view, &report, Relation::FollowUp);
    let body = follow_up_body(&view, body)?;
    let created = panels::create(state, principal, body, idempotency_key, Some(lineage)).await?;
    state.store.link_parent(tenant, created.0.id, parent, Relation::FollowUp).await?;
    Ok(created)
}

/// Seeds stay below 2^53, so JavaScript clients read them exactly.
const SEED_MASK: u64 = (1 << 53) - 1;

/// A re-run's seed when none is given: random, or with an Idempotency-Key
/// derived from it and the panel, so a retry asks for the same re-run (and
/// gets the panel it made) rather than another one.
pub fn new_seed(parent: PanelId, idempotency_key: Option<&str>) -> u64 {
    let bytes: [u8; 8] = match idempotency_key {
        Some(key) => {
            let digest = crate::auth::hash_key(&format!("rerun:{parent}:{key}"));
            let hex = digest.get(..16).unwrap_or("0");
            return u64::from_str_radix(hex, 16).unwrap_or(0) & SEED_MASK;
        }
        None => crate::auth::random_bytes::<8>(),
    };
    u64::from_le_bytes(bytes) & SEED_MASK
}

/// `POST /v1/panels/{id}/rerun`.
pub async fn rerun(
    state: &AppState,
    principal: &Principal,
    parent: PanelId,
    seed: Option<u64>,
    idempotency_key: Option<String>,
) -> Result<(PanelView, bool), ApiError> {
    principal.require(crate::store::Role::Member)?;
    let tenant = principal.tenant_id();
    let view = panels::get(state, tenant, parent, Read::Committed).await?;
    if !view.status.is_terminal() {
        return Err(ApiError::Conflict(format!(
            "a panel can be re-run once it has ended; this one is {}",
            view.status.as_str()
        )));
    }
    let seed = seed.unwrap_or_else(|| new_seed(parent, idempotency_key.as_deref()));
    let report = super::report(state, tenant, parent).await?;
    let lineage = parent_of(&view, &report, Relation::Rerun);
    let created = panels::create(state, principal, rerun_body(&view, seed), idempotency_key, Some(lineage)).await?;
    state.store.link_parent(tenant, created.0.id, parent, Relation::Rerun).await?;
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn re_run_seeds_are_stable_under_a_key_and_exact_in_javascript() {
        let panel = PanelId(uuid::Uuid::from_u128(7));
        assert_eq!(new_seed(panel, Some("k1")), new_seed(panel, Some("k1")));
        assert_ne!(new_seed(panel, Some("k1")), new_seed(panel, Some("k2")));
        assert_ne!(new_seed(panel, Some("k1")), new_seed(PanelId(uuid::Uuid::from_u128(8)), Some("k1")));
        for _ in 0..100 {
            assert!(new_seed(panel, None) <= SEED_MASK);
        }
    }
}
