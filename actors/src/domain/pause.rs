//! Why a panel is paused, as a type; a string on the wire.

/// Why a panel is paused. On the wire (`panel_paused.reason`, the view's
/// `paused_reason`) it is the string of [`PauseReason::as_string`]:
/// `moderator`, `model_unavailable: <why>`, `storage_unavailable: <why>`,
/// `tenant_suspended`, `token_budget_exhausted`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PauseReason {
    /// A moderator paused it.
    Moderator,
    /// The model backend refused calls; the panel resumes by itself when it is back.
    ModelUnavailable(String),
    /// The event log failed; the panel resumes by itself when it is back.
    StorageUnavailable(String),
    /// The platform suspended the tenant.
    TenantSuspended,
    /// The tenant's monthly token budget is spent.
    TokenBudgetExhausted,
    /// A reason this version does not know (from another version's log).
    Other(String),
}

impl PauseReason {
    const MODEL_UNAVAILABLE: &str = "model_unavailable";
    const STORAGE_UNAVAILABLE: &str = "storage_unavailable";

    /// Reads a reason as written on the wire.
    pub fn parse(text: &str) -> Self {
        let detail =
            |prefix: &str| text.strip_prefix(prefix).map(|rest| rest.trim_start_matches(':').trim().to_string());
        match text {
            "moderator" => Self::Moderator,
            "tenant_suspended" => Self::TenantSuspended,
            "token_budget_exhausted" => Self::TokenBudgetExhausted,
            _ => {
                if let Some(why) = detail(Self::MODEL_UNAVAILABLE) {
                    Self::ModelUnavailable(why)
                } else if let Some(why) = detail(Self::STORAGE_UNAVAILABLE) {
                    Self::StorageUnavailable(why)
                } else {
                    Self::Other(text.to_string())
                }
            }
        }
    }

    /// The reason as written on the wire.
    pub fn as_string(&self) -> String {
        match self {
            Self::Moderator => "moderator".into(),
            Self::ModelUnavailable(why) => format!("{}: {why}", Self::MODEL_UNAVAILABLE),
            Self::StorageUnavailable(why) => format!("{}: {why}", Self::STORAGE_UNAVAILABLE),
            Self::TenantSuspended => "tenant_suspended".into(),
            Self::TokenBudgetExhausted => "token_budget_exhausted".into(),
            Self::Other(text) => text.clone(),
        }
    }

    /// Whether a moderator's `resume` lifts it (the platform's pauses are
    /// the platform's to lift).
    pub fn moderator_may_lift(&self) -> bool {
        matches!(self, Self::Moderator | Self::ModelUnavailable(_))
    }
}
