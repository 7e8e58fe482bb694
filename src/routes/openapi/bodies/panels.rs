//! Bodies of panels (`routes/panels.rs`; creation read by
//! `panels/request.rs` and checked by the actors' `panel/new.rs`) and of
//! their records (`routes/records.rs`: follow-ups, re-runs, share links).

// Schema types: described, never built.
#![allow(dead_code)]

use std::collections::BTreeSet;

use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type};

use super::shared::{ConsensusMethod, PanelType, Team};

/// `POST /v1/panels` (member): asks a question of a new panel, which starts
/// at once. What the request leaves out (or sends as `null`) of
/// `panel_type`, `max_rounds`, `consensus_method` and
/// `human_turn_timeout_s` comes from the tenant's defaults
/// (`PUT /v1/tenant/defaults`), else the format's own. Members are the named
/// `experts`, or `expert_count` chosen for the query, plus the `humans`; the
/// total must fit the format's bounds (see `PanelType`). Over a tenant limit
/// (experts per panel, concurrent or monthly panels, tokens): 429. Takes an
/// `Idempotency-Key` header (1 to 200 characters).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "query": "Should our regional hospitals move night-shift nurse handovers to a structured bedside format?",
    "panel_type": "structured",
    "expert_count": 5,
    "max_rounds": 3,
    "consensus_method": "rand_ucla",
    "human_turn_timeout_s": 300,
    "simulation": {"seed": 7, "pace_tokens_per_s": 0, "turn_tokens": 120}
}))]
pub struct CreatePanelBody {
    /// The question, 10 to 5000 characters once trimmed.
    #[schema(min_length = 10, max_length = 5000)]
    query: String,
    /// Required unless the tenant's defaults name a format.
    panel_type: Option<PanelType>,
    /// The catalog or tenant experts to seat, in order (none archived, none
    /// twice); when absent, experts are chosen for the query. Not with
    /// `expert_count`.
    #[schema(format = "uuid", max_items = 12)]
    experts: Option<BTreeSet<String>>,
    /// How many experts to choose for the query (default: 5 within the
    /// format's bounds, less the humans); at most the tenant's
    /// `max_experts_per_panel` (429 beyond). Not with `experts`.
    #[schema(minimum = 1, maximum = 12)]
    expert_count: Option<u32>,
    /// Hybrid panels only (and at least one): the people with a seat.
    #[schema(max_items = 12)]
    humans: Option<Vec<HumanSeat>>,
    /// The most rounds (default 3, delphi 4). Adversarial panels always run
    /// their three phases.
    #[schema(minimum = 1, maximum = 20)]
    max_rounds: Option<u32>,
    /// Default `rand_ucla`.
    consensus_method: Option<ConsensusMethod>,
    /// Seconds a human member has for a turn (default 300).
    #[schema(minimum = 5, maximum = 86400)]
    human_turn_timeout_s: Option<u64>,
    /// Hybrid panels only: the format the people take part in (default
    /// `structured`; not `hybrid`).
    base_flow: Option<PanelType>,
    /// Knobs of the simulated experts; ignored when the server runs a real model.
    simulation: Option<SimulationSettings>,
    /// Socratic flows: the expert who asks (one of `experts`, or of those
    /// chosen); default the first AI member.
    #[schema(format = "uuid")]
    questioner: Option<String>,
    documents: Option<PanelDocumentsChoice>,
    /// Characters of passage text each AI turn is given (default the
    /// server's `documents.evidence_chars`). Only with `documents`.
    #[schema(minimum = 200, maximum = 20000)]
    evidence_chars: Option<u32>,
}

/// `POST /v1/panels/{id}/follow-up` (member): a new panel on a follow-up
/// question to a `completed` panel (409 otherwise), which is given the
/// earlier question, recommendation, agreement and dissent as context. The
/// fields are those of `CreatePanelBody`; what is absent is the earlier
/// panel's (`panel_type`, its experts and questioner, `humans`,
/// `max_rounds`, `consensus_method`, `human_turn_timeout_s`, `base_flow`,
/// `documents` with `evidence_chars`, `simulation`). A field sent as `null`
/// is not inherited: the tenant's default or the server's applies. Giving
/// `experts` or `expert_count` replaces the members (and the questioner);
/// giving `documents` replaces the documents and their budget; another
/// `panel_type` drops the questioner, `base_flow` and (unless `hybrid`) the
/// humans. Takes an `Idempotency-Key` header.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "query": "Given that recommendation, how should the handover change be piloted across the three hospitals?",
    "max_rounds": 2
}))]
pub struct FollowUpBody {
    /// The follow-up question, 10 to 5000 characters once trimmed.
    #[schema(min_length = 10, max_length = 5000)]
    query: String,
    /// Default: the earlier panel's.
    panel_type: Option<PanelType>,
    /// Replaces the earlier members (none archived, none twice). Not with `expert_count`.
    #[schema(format = "uuid", max_items = 12)]
    experts: Option<BTreeSet<String>>,
    /// Replaces the earlier members with this many chosen for the query. Not with `experts`.
    #[schema(minimum = 1, maximum = 12)]
    expert_count: Option<u32>,
    /// Hybrid panels only. Default: the earlier panel's people, in their seats.
    #[schema(max_items = 12)]
    humans: Option<Vec<HumanSeat>>,
    #[schema(minimum = 1, maximum = 20)]
    max_rounds: Option<u32>,
    consensus_method: Option<ConsensusMethod>,
    #[schema(minimum = 5, maximum = 86400)]
    human_turn_timeout_s: Option<u64>,
    /// Hybrid panels only (not `hybrid`).
    base_flow: Option<PanelType>,
    /// Ignored when the server runs a real model.
    simulation: Option<SimulationSettings>,
    /// Socratic flows: one of the panel's experts.
    #[schema(format = "uuid")]
    questioner: Option<String>,
    documents: Option<PanelDocumentsChoice>,
    /// Only with documents (given or inherited).
    #[schema(minimum = 200, maximum = 20000)]
    evidence_chars: Option<u32>,
}

/// A person with a seat on a hybrid panel. The seat is held by at most one
/// of `key_id`, `user_id` and `email`; with none, any member key of the
/// tenant (or a moderator) speaks for it.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HumanSeat {
    /// The name shown, 1 to 200 characters once trimmed; may be left out
    /// when `user_id` or `email` names the person (their name is used).
    #[schema(max_length = 200)]
    name: Option<String>,
    /// The only API key (besides moderators) that may speak for the seat:
    /// one of the tenant's live keys.
    #[schema(format = "uuid")]
    key_id: Option<String>,
    /// The person who holds the seat: an active or invited user of the tenant.
    #[schema(format = "uuid")]
    user_id: Option<String>,
    /// The person who holds the seat, by address: an active or invited user
    /// of the tenant (invite them first).
    #[schema(format = Email, max_length = 254)]
    email: Option<String>,
    /// Adversarial flows: the side (default: alternating by seat).
    team: Option<Team>,
}

/// Knobs of the simulated expert model.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulationSettings {
    /// The same seed gives the same panel. Default 1; not `null`.
    #[schema(nullable = false)]
    seed: Option<u64>,
    /// Tokens streamed per second: 0 (the default) streams at once, else 0.1
    /// to 10000. Not `null`.
    #[schema(nullable = false, minimum = 0, maximum = 10000)]
    pace_tokens_per_s: Option<f64>,
    /// About how many tokens (words) a turn has. Default 120; not `null`.
    #[schema(nullable = false, minimum = 1, maximum = 4000)]
    turn_tokens: Option<u32>,
    /// Overrides every persona's stubbornness.
    #[schema(minimum = 0, maximum = 1)]
    stubbornness: Option<f64>,
    /// Random movement of ratings per round, in rating points.
    #[schema(minimum = 0, maximum = 4)]
    noise: Option<f64>,
    /// Words per streamed delta: default 1 when paced, 8 when instant
    /// (1 is one token frame per word, as peers' one-token callbacks).
    #[schema(minimum = 1, maximum = 64)]
    words_per_delta: Option<u32>,
}

/// `documents` of a new panel: `"all"` or a list of ids (`documents/choice.rs`).
/// Written by hand: a string-or-array choice has no derive.
pub struct PanelDocumentsChoice;

impl utoipa::PartialSchema for PanelDocumentsChoice {
    fn schema() -> RefOr<Schema> {
        let all = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(["all"]))
            .description(Some("every ready document of the tenant"));
        let id = ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::Custom("uuid".into())));
        let ids = ArrayBuilder::new()
            .items(id)
            .max_items(Some(askpanel_actors::panel::new::MAX_PANEL_DOCUMENTS))
            .unique_items(true)
            .description(Some("document ids, each once"));
        OneOfBuilder::new()
            .description(Some(
                "`\"all\"` (every ready document of the tenant; refused when there are more than 200) \
                 or the ids of ready documents, labelled D1, D2... in this order (an empty list: none)",
            ))
            .item(all)
            .item(ids)
            .into()
    }
}

impl ToSchema for PanelDocumentsChoice {}

/// `POST /v1/panels/{id}/input` (member): a human member's turn, while it
/// is theirs (409 otherwise). Only the seat's key or person, or a
/// moderator, speaks for it (403).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "member_id": "0193a5f2-7c1e-7b3a-9d4e-2f6a8c0b1d3e",
    "text": "Bedside handovers worked on our ward once the checklist fit on one screen; I would rate this a 7.",
    "rating": 7,
    "confidence": 0.8
}))]
pub struct HumanInputBody {
    /// The panel member whose turn it is (`members[].id`, a human member).
    #[schema(format = "uuid")]
    member_id: String,
    /// 1 to 20000 characters once trimmed. Without `rating`, a rating
    /// trailer typed at its end is read (and not shown).
    #[schema(min_length = 1, max_length = 20000, pattern = r"\S")]
    text: String,
    /// The member's rating, 1 to 9.
    #[schema(minimum = 1, maximum = 9)]
    rating: Option<u8>,
    /// How sure the member is, 0 to 1 (read with `rating`).
    #[schema(minimum = 0, maximum = 1)]
    confidence: Option<f64>,
}

/// A moderator's action: `pause` (until a moderator resumes; 409 when
/// already paused), `resume` (a panel a moderator paused; 409 when not
/// paused, or paused by the platform), `skip_turn` (the turn on air, or the
/// one due next), `inject` (a question or instruction the next turns must
/// address; needs `text`), `end_round` (now), `finish` (go to the final
/// consensus now), `cancel` (stop for good, without a recommendation).
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModeratorAction {
    Pause,
    Resume,
    SkipTurn,
    Inject,
    EndRound,
    Finish,
    Cancel,
}

/// `POST /v1/panels/{id}/moderate` (moderator): acts on a panel that has
/// not ended (409 once it has).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "action": "inject",
    "text": "Consider what the change costs night-shift staff before you rate."
}))]
pub struct ModerateBody {
    action: ModeratorAction,
    /// Stored trimmed, at most 2000 characters; required (not blank) for
    /// `inject`, recorded with the action for the others.
    #[schema(max_length = 2000)]
    text: Option<String>,
}

/// `POST /v1/panels/{id}/rerun` (member): the same question, members and
/// configuration again, with a new seed, from a panel that has ended (409
/// while it runs). The body may be left out. Takes an `Idempotency-Key`
/// header (a retry gets the same seed, and the panel it made).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"seed": 42}))]
pub struct RerunBody {
    /// The simulated experts' seed (default: random below 2^53, or derived
    /// from the `Idempotency-Key`).
    seed: Option<u64>,
}

/// `POST /v1/panels/{id}/shares` (moderator): a read-only link to the
/// panel (its token is shown once). At most `records.max_shares_per_panel`
/// (50) live links per panel (429 beyond). The body may be left out.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"expires_in_s": 86400, "label": "Board review, March"}))]
pub struct CreateShareBody {
    /// Seconds the link works, 60 to `records.share_max_s` (one year by
    /// default); default `records.share_default_s` (a week).
    #[schema(minimum = 60, maximum = 31536000)]
    expires_in_s: Option<u64>,
    /// Stored trimmed (blank: none); at most 100 characters, on one line.
    #[schema(max_length = 100, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    label: Option<String>,
}
