//! The `POST /v1/panels` body, read and checked for shape (pure: the
//! property tests feed it arbitrary JSON); ids are resolved by `create`.

use askpanel_actors::domain::{ConsensusMethod, ExpertId, KeyId, PanelType, SimulationConfig, Team, UserId};
use askpanel_actors::panel::new::NAME_MAX_CHARS;
use serde::Deserialize;
use serde_json::Value;

use crate::error::ApiError;
use crate::validation::Body;

/// Most members a human list may name.
pub const MAX_HUMANS: usize = 12;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HumanBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    key_id: Option<String>,
    /// The person who holds the seat, by id or by (invited) email.
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    team: Option<Team>,
}

/// A human member asked for.
#[derive(Clone, Debug, PartialEq)]
pub struct HumanRequest {
    /// Empty when the seat's person gives the name.
    pub name: String,
    pub key_id: Option<KeyId>,
    pub user_id: Option<UserId>,
    /// An invited (or active) person's address, lower-cased.
    pub email: Option<String>,
    pub team: Option<Team>,
}

/// A `POST /v1/panels` body, read and checked for shape; ids are not resolved yet.
#[derive(Clone, Debug, PartialEq)]
pub struct CreateRequest {
    pub query: String,
    pub panel_type: PanelType,
    pub experts: Option<Vec<ExpertId>>,
    pub expert_count: Option<usize>,
    pub humans: Vec<HumanRequest>,
    pub max_rounds: Option<u32>,
    pub consensus_method: Option<ConsensusMethod>,
    pub human_turn_timeout_s: Option<u64>,
    pub base_flow: Option<PanelType>,
    pub simulation: Option<SimulationConfig>,
    pub questioner: Option<ExpertId>,
    pub documents: Option<crate::documents::choice::DocumentChoice>,
    pub evidence_chars: Option<u32>,
    /// Follow-ups and re-runs: the panel started from (never from the body).
    pub parent: Option<askpanel_actors::domain::lineage::PanelParent>,
}

/// Reads a create body, naming every bad field in one 422. Pure: the
/// property tests feed it arbitrary JSON.
pub fn parse_create(body: Value) -> Result<CreateRequest, ApiError> {
    let mut body = Body::new(body)?;
    let query: Option<String> = body.required("query");
    let panel_type: Option<PanelType> = body.required("panel_type");
    let expert_ids: Option<Vec<String>> = body.optional("experts");
    let expert_count: Option<u32> = body.optional("expert_count");
    let humans: Option<Vec<HumanBody>> = body.optional("humans");
    let max_rounds: Option<u32> = body.optional("max_rounds");
    let consensus_method: Option<ConsensusMethod> = body.optional("consensus_method");
    let human_turn_timeout_s: Option<u64> = body.optional("human_turn_timeout_s");
    let base_flow: Option<PanelType> = body.optional("base_flow");
    let simulation: Option<SimulationConfig> = body.optional("simulation");
    let questioner: Option<String> = body.optional("questioner");
    let documents: Option<Value> = body.optional("documents");
    let evidence_chars: Option<u32> = body.optional("evidence_chars");
    let documents = match crate::documents::choice::parse(documents) {
        Ok(choice) => choice,
        Err(why) => {
            body.invalid("documents", why);
            None
        }
    };
    if evidence_chars.is_some() && documents.is_none() {
        body.invalid("evidence_chars", "only panels with documents have an evidence budget");
    }

    let humans = humans.unwrap_or_default();
    if humans.len() > MAX_HUMANS {
        body.invalid("humans", format!("at most {MAX_HUMANS} human members"));
    }
    let mut human_requests = Vec::new();
    for human in humans.iter().take(MAX_HUMANS) {
        let name = human.name.as_deref().unwrap_or("").trim();
        let names_a_person = human.user_id.is_some() || human.email.is_some();
        if (name.is_empty() && !names_a_person) || name.chars().count() > NAME_MAX_CHARS {
            body.invalid("humans", format!("a human member needs a name of 1 to {NAME_MAX_CHARS} characters"));
        }
        let holders = [human.key_id.is_some(), human.user_id.is_some(), human.email.is_some()];
        if holders.iter().filter(|h| **h).count() > 1 {
            body.invalid("humans", "a seat is held by a key_id, a user_id or an email, not several");
        }
        let key_id = match &human.key_id {
            None => None,
            Some(raw) => match raw.parse::<uuid::Uuid>() {
                Ok(id) => Some(KeyId(id)),
                Err(_) => {
                    body.invalid("humans", format!("key_id {} is not an id", shorten(raw)));
                    None
                }
            },
        };
        let user_id = match &human.user_id {
            None => None,
            Some(raw) => match raw.parse::<uuid::Uuid>() {
                Ok(id) => Some(UserId(id)),
                Err(_) => {
                    body.invalid("humans", format!("user_id {} is not an id", shorten(raw)));
                    None
                }
            },
        };
        let email = match &human.email {
            None => None,
            Some(raw) => match crate::accounts::normalize_email(raw) {
                Ok(email) => Some(email),
                Err(why) => {
                    body.invalid("humans", format!("email {}: {why}", shorten(raw)));
                    None
                }
            },
        };
        human_requests.push(HumanRequest { name: name.to_string(), key_id, user_id, email, team: human.team });
    }
    let mut experts = None;
    match (&expert_ids, expert_count) {
        (Some(_), Some(_)) => body.invalid("expert_count", "give either experts or expert_count, not both"),
        (Some(ids), None) if ids.len() > 12 => body.invalid("experts", "at most 12 experts"),
        (Some(ids), None) => {
            let mut parsed = Vec::new();
            for raw in ids {
                match raw.parse::<uuid::Uuid>() {
                    Ok(id) => parsed.push(ExpertId(id)),
                    Err(_) => body.invalid("experts", format!("{} is not an expert id", shorten(raw))),
                }
            }
            experts = Some(parsed);
        }
        (None, Some(count)) if !(1..=12).contains(&count) => body.invalid("expert_count", "must be 1 to 12"),
        (None, _) => {}
    }
    let questioner = match questioner {
        None => None,
        Some(raw) => match raw.parse::<uuid::Uuid>() {
            Ok(id) if experts.as_ref().is_none_or(|e| e.contains(&ExpertId(id))) => Some(ExpertId(id)),
            _ => {
                body.invalid("questioner", "must be one of the panel's experts");
                None
            }
        },
    };
    body.finish()?;
    let (Some(query), Some(panel_type)) = (query, panel_type) else { unreachable!("required fields were checked") };
    Ok(CreateRequest {
        query,
        panel_type,
        experts,
        expert_count: expert_count.map(|c| c as usize),
        humans: human_requests,
        max_rounds,
        consensus_method,
        human_turn_timeout_s,
        base_flow,
        simulation,
        questioner,
        documents,
        evidence_chars,
        parent: None,
    })
}

fn shorten(raw: &str) -> String {
    raw.chars().take(40).collect()
}
