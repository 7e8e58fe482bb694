//! A tenant's defaults for its new panels (`docs/experts.md`, "Defaults for new panels"):
//! what a create request leaves out (format, rounds, consensus method,
//! human turn timeout) is taken from them. Pure: parsing and merging.

use askpanel_actors::domain::{ConsensusMethod, PanelType};
use askpanel_actors::panel::new::MAX_ROUNDS_LIMIT;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ApiError;
use crate::validation::Body;

/// The defaults; each absent one is the server's own.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PanelDefaults {
    pub panel_type: Option<PanelType>,
    pub max_rounds: Option<u32>,
    pub consensus_method: Option<ConsensusMethod>,
    pub human_turn_timeout_s: Option<u64>,
}

impl PanelDefaults {
    /// Reads the stored form (anything unreadable is no defaults: a stored
    /// default never stops a panel from being created).
    pub fn parse_stored(text: &str) -> PanelDefaults {
        serde_json::from_str(text).unwrap_or_default()
    }

    /// Reads a `PUT /v1/tenant/defaults` body (the whole set; `null` or
    /// absent clears one), naming every bad field.
    pub fn parse(body: Value) -> Result<PanelDefaults, ApiError> {
        let mut body = Body::new(body)?;
        let defaults = PanelDefaults {
            panel_type: body.optional("panel_type"),
            max_rounds: body.optional("max_rounds"),
            consensus_method: body.optional("consensus_method"),
            human_turn_timeout_s: body.optional("human_turn_timeout_s"),
        };
        if defaults.max_rounds.is_some_and(|n| !(1..=MAX_ROUNDS_LIMIT).contains(&n)) {
            body.invalid("max_rounds", format!("must be 1 to {MAX_ROUNDS_LIMIT}"));
        }
        if defaults.human_turn_timeout_s.is_some_and(|s| !(5..=86_400).contains(&s)) {
            body.invalid("human_turn_timeout_s", "must be 5 to 86400 seconds");
        }
        body.finish()?;
        Ok(defaults)
    }

    /// Fills what a create body leaves out (or sets to `null`) with the
    /// defaults; what it gives is kept.
    pub fn apply(&self, body: &mut Value) {
        let Some(object) = body.as_object_mut() else { return };
        let fields = [
            ("panel_type", self.panel_type.map(|t| Value::from(t.as_str()))),
            ("max_rounds", self.max_rounds.map(Value::from)),
            ("consensus_method", self.consensus_method.and_then(|m| serde_json::to_value(m).ok())),
            ("human_turn_timeout_s", self.human_turn_timeout_s.map(Value::from)),
        ];
        for (name, value) in fields {
            if let Some(value) = value
                && object.get(name).is_none_or(Value::is_null)
            {
                object.insert(name.to_string(), value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn defaults_fill_only_what_a_request_leaves_out() {
        let defaults = PanelDefaults {
            panel_type: Some(PanelType::Delphi),
            max_rounds: Some(4),
            consensus_method: Some(ConsensusMethod::Majority),
            human_turn_timeout_s: None,
        };
        for (body, expected) in [
            (
                json!({"query": "q"}),
                json!({"query": "q", "panel_type": "delphi", "max_rounds": 4, "consensus_method": "majority"}),
            ),
            (
                json!({"query": "q", "panel_type": "open", "max_rounds": null}),
                json!({"query": "q", "panel_type": "open", "max_rounds": 4, "consensus_method": "majority"}),
            ),
            (json!("not an object"), json!("not an object")),
        ] {
            let mut body = body;
            defaults.apply(&mut body);
            assert_eq!(body, expected);
        }
        let mut body = json!({"query": "q"});
        PanelDefaults::default().apply(&mut body);
        assert_eq!(body, json!({"query": "q"}), "no defaults, nothing added");
    }

    #[test]
    fn defaults_are_checked_field_by_field() {
        let ok = PanelDefaults::parse(json!({"panel_type": "socratic", "human_turn_timeout_s": 600})).unwrap();
        assert_eq!(
            (ok.panel_type, ok.human_turn_timeout_s, ok.max_rounds),
            (Some(PanelType::Socratic), Some(600), None)
        );
        assert_eq!(PanelDefaults::parse(json!({})).unwrap(), PanelDefaults::default());
        for (body, field) in [
            (json!({"panel_type": "debate"}), "panel_type"),
            (json!({"max_rounds": 0}), "max_rounds"),
            (json!({"max_rounds": 99}), "max_rounds"),
            (json!({"consensus_method": "vibes"}), "consensus_method"),
            (json!({"human_turn_timeout_s": 1}), "human_turn_timeout_s"),
            (json!({"expert_count": 3}), "expert_count"),
        ] {
            let Err(ApiError::Validation { fields, .. }) = PanelDefaults::parse(body.clone()) else {
                panic!("{body} accepted")
            };
            assert!(fields.contains_key(field), "{body}: {fields:?}");
        }
        let stored = serde_json::to_string(&ok).unwrap();
        assert_eq!(PanelDefaults::parse_stored(&stored), ok);
        assert_eq!(PanelDefaults::parse_stored("{bad"), PanelDefaults::default());
    }
}
