//! Panel operations shared by the HTTP routes and WebSocket sessions:
//! creating (validation, expert choice, limits), reading, human input and
//! moderation. Every function takes the caller's tenant.

use askpanel_actors::domain::{ExpertId, MemberRole, MemberSelection, PanelId, SelectionBasis, TenantId};
use askpanel_actors::engine::EngineError;
use askpanel_actors::event::ModeratorActionKind;
use askpanel_actors::panel::messages::{Command, PanelCommand};
use askpanel_actors::panel::new::{NewMember, NewPanel};
use askpanel_actors::panel::view::PanelView;
use askpanel_actors::ports::{CreateOptions, Quotas};
use serde_json::Value;

use crate::auth::Principal;
use crate::catalog::Expert;
use crate::error::ApiError;
use crate::limits::{effective_limits, policy};
use crate::state::AppState;
use crate::store::Role;

/// Longest accepted `Idempotency-Key`.
pub const IDEMPOTENCY_KEY_MAX: usize = 200;
pub mod defaults;
mod request;

pub use request::{CreateRequest, HumanRequest, MAX_HUMANS, parse_create};

/// `POST /v1/panels`: returns the panel and whether an idempotency key found an earlier one.
pub async fn create(
    state: &AppState,
    principal: &Principal,
    body: Value,
    idempotency_key: Option<String>,
    lineage: Option<askpanel_actors::domain::lineage::PanelParent>,
) -> Result<(PanelView, bool), ApiError> {
    principal.require(Role::Member)?;
    if state.shutting_down.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(ApiError::Unavailable("the server is shutting down".into()));
    }
    if idempotency_key.as_ref().is_some_and(|k| k.is_empty() || k.len() > IDEMPOTENCY_KEY_MAX) {
        return Err(ApiError::field("Idempotency-Key", format!("must be 1 to {IDEMPOTENCY_KEY_MAX} characters")));
    }
    let tenant = principal.tenant_id();
    // A retry of a create that went through gets that panel, whatever the
    // tenant's limits say now (a retry is not a new panel).
    // The request's digest: the same key with another request is refused,
    // as payment APIs do (the body's keys are sorted: formatting and key
    // order do not make a request another).
    // A follow-up or re-run is another request for another parent.
    let request_hash = idempotency_key.as_ref().map(|_| {
        let parent = lineage.as_ref().map(|p| format!("{}:{}", p.relation.as_str(), p.id)).unwrap_or_default();
        crate::auth::hash_key(&format!("{body}{parent}"))
    });
    if let Some(key) = &idempotency_key
        && let Some((existing, first_hash)) = state.store.idempotent_panel(tenant, key).await?
    {
        if first_hash.is_some_and(|first| Some(first) != request_hash) {
            return Err(ApiError::IdempotencyKeyReused);
        }
        return Ok(((*get(state, tenant, existing, Read::Committed).await?).clone(), true));
    }
    // What the request leaves out comes from the tenant's defaults.
    let mut body = body;
    if let Some(stored) = state.store.tenant_defaults(tenant).await? {
        defaults::PanelDefaults::parse_stored(&stored).apply(&mut body);
    }
    let mut request = parse_create(body)?;
    request.parent = lineage;
    let limits = effective_limits(&state.settings, &principal.tenant);

    // Resolve ids against this tenant: unknown (or another tenant's) ids are 422s.
    let mut unknown = std::collections::BTreeMap::new();
    let mut human_members = Vec::new();
    for human in &request.humans {
        if let Some(key_id) = human.key_id
            && state.store.get_key(tenant, key_id).await?.is_none_or(|k| k.revoked_at.is_some())
        {
            unknown.insert("humans".to_string(), format!("unknown key_id {key_id}"));
        }
        // A seat held by a person: an active or invited user of this tenant.
        let person = match (&human.user_id, &human.email) {
            (Some(id), _) => state.store.get_user(tenant, *id).await?,
            (None, Some(email)) => state.store.find_user_by_email(tenant, email).await?,
            (None, None) => None,
        };
        let person = person.filter(|u| u.status != crate::store::accounts::UserStatus::Removed);
        if (human.user_id.is_some() || human.email.is_some()) && person.is_none() {
            let who = human.email.clone().or(human.user_id.map(|u| u.to_string())).unwrap_or_default();
            unknown.insert("humans".to_string(), format!("{who} is not a member of this tenant (invite them first)"));
        }
        let name = match (human.name.is_empty(), &person) {
            (true, Some(person)) => person.name.clone(),
            _ => human.name.clone(),
        };
        human_members.push(NewMember::Human {
            name,
            key_id: human.key_id,
            user_id: person.map(|u| u.id),
            team: human.team,
        });
    }
    let chosen: Vec<(Expert, MemberSelection)> = match &request.experts {
        Some(ids) => {
            let mut chosen = Vec::new();
            let named = MemberSelection {
                basis: SelectionBasis::Named,
                score: 0.0,
                matched_terms: Vec::new(),
                same_domain_before: 0,
                preferred: false,
            };
            for id in ids {
                match find_expert(state, tenant, *id).await? {
                    Some(expert) if expert.archived => {
                        unknown.insert("experts".to_string(), format!("expert {id} is archived"));
                    }
                    Some(expert) => chosen.push((expert, named.clone())),
                    None => {
                        unknown.insert("experts".to_string(), format!("unknown expert {id}"));
                    }
                }
            }
            chosen
        }
        None => {
            let (min, max) = request.panel_type.member_bounds();
            let default = 5usize.clamp(min, max).saturating_sub(human_members.len()).max(1);
            let count = request.expert_count.unwrap_or(default);
            if count as u32 > limits.max_experts_per_panel {
                return Err(ApiError::LimitExceeded(format!(
                    "this tenant's panels have at most {} experts",
                    limits.max_experts_per_panel
                )));
            }
            // The tenant's hidden experts are left out, its preferred ones count more.
            let own = state.store.list_experts(tenant).await?;
            let settings = state.store.expert_settings(tenant).await?;
            let hidden: std::collections::HashSet<ExpertId> =
                settings.iter().filter(|(_, s)| s.hidden).map(|(id, _)| *id).collect();
            let preferred: std::collections::HashSet<ExpertId> =
                settings.iter().filter(|(_, s)| s.preferred).map(|(id, _)| *id).collect();
            state.catalog.with(&own).without(&hidden).select_explained(&request.query, count, &preferred)
        }
    };
    if request.questioner.is_some_and(|q| !chosen.iter().any(|(e, _)| e.id == q)) {
        unknown.insert("questioner".to_string(), "must be one of the panel's experts".to_string());
    }
    let documents = match &request.documents {
        Some(choice) => match crate::documents::choice::resolve(state.store.as_ref(), tenant, choice).await? {
            Ok(documents) => documents,
            Err(why) => {
                unknown.insert("documents".to_string(), why);
                Vec::new()
            }
        },
        None => Vec::new(),
    };
    if !unknown.is_empty() {
        let message = unknown.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join("; ");
        return Err(ApiError::Validation { message, fields: unknown });
    }
    if chosen.len() as u32 > limits.max_experts_per_panel {
        return Err(ApiError::LimitExceeded(format!(
            "this tenant's panels have at most {} experts",
            limits.max_experts_per_panel
        )));
    }
    // The store checks the quotas in the transaction that writes the panel,
    // so simultaneous creates (on one node or several) cannot pass them together.
    let quota = Quotas {
        max_concurrent: u64::from(limits.max_concurrent_panels),
        max_panels: u64::from(limits.max_panels_per_month),
        max_tokens: limits.tokens_per_month,
    };

    let mut members: Vec<NewMember> = chosen
        .into_iter()
        .map(|(e, selection)| NewMember::Ai {
            expert_id: Some(e.id),
            profile: e.profile(),
            team: None,
            role: (Some(e.id) == request.questioner).then_some(MemberRole::Questioner),
            model: if state.model.simulated {
                "simulated".into()
            } else {
                e.model.clone().unwrap_or_else(|| state.model.model.clone())
            },
            selection: Some(selection),
        })
        .collect();
    // Humans sit after the first expert so a panel never opens with a wait.
    let at = members.len().min(1);
    for (i, human) in human_members.into_iter().enumerate() {
        members.insert((at + i * 2).min(members.len()), human);
    }
    // The configured budget applies to panels with documents only.
    let evidence_chars = if documents.is_empty() {
        None
    } else {
        request.evidence_chars.or(Some(state.settings.documents.evidence_chars))
    };
    let new_panel = NewPanel {
        documents,
        evidence_chars,
        tenant_id: tenant,
        created_by: principal.holder().to_string(),
        query: request.query,
        panel_type: request.panel_type,
        members,
        max_rounds: request.max_rounds,
        consensus_method: request.consensus_method,
        human_turn_timeout_s: request.human_turn_timeout_s,
        base_flow: request.base_flow,
        simulation: if state.model.simulated { Some(request.simulation.unwrap_or_default()) } else { None },
        parent: request.parent,
    };
    let created = state
        .engine
        .create_panel(
            policy(&state.settings, &principal.tenant),
            new_panel,
            CreateOptions {
                idempotency_key: idempotency_key.clone(),
                request_hash: request_hash.clone(),
                quota: Some(quota),
            },
        )
        .await
        .map_err(ApiError::from)?;
    // A create that raced another with the same key found that one: the same check.
    if created.existing.is_some()
        && let Some(key) = &idempotency_key
        && let Some((_, Some(first))) = state.store.idempotent_panel(tenant, key).await?
        && Some(first) != request_hash
    {
        return Err(ApiError::IdempotencyKeyReused);
    }
    Ok((created.panel, created.existing.is_some()))
}

async fn find_expert(state: &AppState, tenant: TenantId, id: ExpertId) -> Result<Option<Expert>, ApiError> {
    if let Some(expert) = state.catalog.get(id) {
        return Ok(Some(expert.clone()));
    }
    Ok(state.store.get_expert(tenant, id).await?)
}

/// How fresh a read of a panel must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read {
    /// As of its last committed event: a panel running here is read from the
    /// view its actor publishes after each commit, with no message to the
    /// actor, so a busy panel never slows a read (`GET /v1/panels/{id}`).
    Committed,
    /// Asks the panel's actor, for the text so far of a turn in progress
    /// (WebSocket snapshots, `?live=true`).
    Live,
}

/// A panel of the caller's tenant: from its actor when it runs here, else
/// rebuilt from its log.
pub async fn get(
    state: &AppState,
    tenant: TenantId,
    panel: PanelId,
    read: Read,
) -> Result<std::sync::Arc<PanelView>, ApiError> {
    let running = match read {
        Read::Committed => state.engine.durable_snapshot(tenant, panel),
        Read::Live => state.engine.snapshot(tenant, panel).await?.map(std::sync::Arc::new),
    };
    if let Some(view) = running {
        return Ok(view);
    }
    if state.store.get_panel(tenant, panel).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    Ok(std::sync::Arc::new(state.engine.panel_view(tenant, panel).await?))
}

/// Whether the tenant has this panel (any status).
pub async fn exists(state: &AppState, tenant: TenantId, panel: PanelId) -> Result<bool, ApiError> {
    Ok(state.store.get_panel(tenant, panel).await?.is_some())
}

async fn send(state: &AppState, principal: &Principal, panel: PanelId, command: Command) -> Result<(), ApiError> {
    let tenant = principal.tenant_id();
    let message = PanelCommand { tenant_id: tenant, panel_id: panel, caller: principal.caller(), command };
    match state.engine.command(message.clone()).await {
        Ok(()) => Ok(()),
        Err(EngineError::NotRunning) => {
            let summary = state.store.get_panel(tenant, panel).await?.ok_or(ApiError::NotFound)?;
            if summary.status.is_terminal() {
                return Err(ApiError::Conflict(format!("the panel is {}", summary.status.as_str())));
            }
            // Running on another node: the command goes to its owner.
            if let Some(cluster) = &state.cluster {
                return match cluster.route(tenant, panel, &message.caller, &message.command).await {
                    Ok(()) => Ok(()),
                    Err(crate::cluster::RouteError::Panel(e)) => Err(e.into()),
                    Err(crate::cluster::RouteError::Timeout) => Err(ApiError::Unavailable(
                        "the panel's node did not answer in time; the command may or may not have been applied".into(),
                    )),
                    Err(_) => Err(ApiError::Unavailable("the panel is moving between nodes; try again shortly".into())),
                };
            }
            Err(ApiError::Unavailable("the panel is restarting; try again shortly".into()))
        }
        Err(e) => Err(e.into()),
    }
}

/// A human member's turn (`POST /input` or a WebSocket `input` frame).
pub async fn input(
    state: &AppState,
    principal: &Principal,
    panel: PanelId,
    member_id: &str,
    text: String,
    rating: Option<u8>,
    confidence: Option<f64>,
) -> Result<(), ApiError> {
    principal.require(Role::Member)?;
    if !exists(state, principal.tenant_id(), panel).await? {
        return Err(ApiError::NotFound);
    }
    let member_id = member_id.parse::<uuid::Uuid>().map_err(|_| ApiError::field("member_id", "not a member id"))?;
    let command =
        Command::HumanInput { member_id: askpanel_actors::domain::MemberId(member_id), text, rating, confidence };
    send(state, principal, panel, command).await
}

/// A moderator's action (`POST /moderate` or a WebSocket `moderate` frame).
pub async fn moderate(
    state: &AppState,
    principal: &Principal,
    panel: PanelId,
    action: &str,
    text: Option<String>,
) -> Result<(), ApiError> {
    principal.require(Role::Moderator)?;
    if !exists(state, principal.tenant_id(), panel).await? {
        return Err(ApiError::NotFound);
    }
    let kind: ModeratorActionKind = action.parse().map_err(|e: String| ApiError::field("action", e))?;
    let injected = text.as_ref().map(|t| t.chars().take(200).collect::<String>());
    send(state, principal, panel, Command::Moderate { action: kind, text }).await?;
    // Over HTTP or the WebSocket alike; the address is not known here.
    let detail = serde_json::json!({"action": kind, "text": injected});
    let target = crate::audit::target("panel", panel);
    crate::audit::record(
        state,
        principal.tenant_id(),
        crate::audit::actor(principal),
        "panel.moderated",
        target,
        None,
        detail,
    )
    .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn arbitrary_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            ".{0,40}".prop_map(Value::from),
            Just(Value::from("0193a000-0000-7000-8000-000000000001")),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("query".to_string()),
                        Just("panel_type".to_string()),
                        Just("experts".to_string()),
                        Just("expert_count".to_string()),
                        Just("humans".to_string()),
                        Just("simulation".to_string()),
                        Just("max_rounds".to_string()),
                        Just("questioner".to_string()),
                        "[a-z_]{1,12}",
                    ],
                    inner,
                    0..8
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_json_body_gets_a_request_or_a_clear_error(body in arbitrary_json()) {
            match parse_create(body) {
                Ok(request) => {
                    prop_assert!(request.humans.len() <= MAX_HUMANS);
                    prop_assert!(request.experts.as_ref().is_none_or(|e| e.len() <= 12));
                }
                Err(ApiError::Validation { fields, .. }) => prop_assert!(!fields.is_empty()),
                Err(other) => prop_assert!(false, "unexpected error {other:?}"),
            }
        }

        #[test]
        fn well_formed_bodies_parse(
            query in "[a-zA-Z ?]{10,80}",
            kind in prop_oneof![Just("structured"), Just("open"), Just("socratic"), Just("adversarial"), Just("delphi")],
            count in 1usize..=12,
            seed in any::<u64>(),
        ) {
            let body = json!({"query": query, "panel_type": kind, "expert_count": count, "simulation": {"seed": seed, "pace_tokens_per_s": 0, "turn_tokens": 10}});
            let request = parse_create(body).unwrap();
            prop_assert_eq!(request.expert_count, Some(count));
        }
    }

    #[test]
    fn every_bad_field_of_a_create_body_is_named() {
        let Err(ApiError::Validation { fields, .. }) = parse_create(json!({
            "panel_type": "debate", "experts": ["x"], "expert_count": 3, "humans": [{"name": ""}], "questioner": "q", "extra": 1
        })) else {
            panic!()
        };
        for field in ["query", "panel_type", "expert_count", "humans", "questioner", "extra"] {
            assert!(fields.contains_key(field), "{field}: {fields:?}");
        }
    }
}
