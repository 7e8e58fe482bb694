//! Panels started from another: a follow-up (a new question, told what the
//! earlier panel concluded) or a re-run (the same panel with a new seed).

use serde::{Deserialize, Serialize};

use crate::ids::PanelId;

/// How a panel relates to the one it was started from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// A new question that builds on the earlier panel's conclusion.
    FollowUp,
    /// The same question and configuration, with a new seed.
    Rerun,
}

impl Relation {
    /// The wire name: `follow_up` or `rerun`.
    pub fn as_str(self) -> &'static str {
        match self {
            Relation::FollowUp => "follow_up",
            Relation::Rerun => "rerun",
        }
    }
}

/// A dissenter of the earlier panel and their strongest argument.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorDissent {
    /// The dissenter's name.
    pub name: String,
    /// Their strongest argument, as the earlier panel's report quotes it.
    pub argument: String,
}

/// The panel this one was started from (`config.parent`), with what a
/// follow-up's members are told of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PanelParent {
    /// The earlier panel.
    pub id: PanelId,
    /// Follow-up or re-run.
    pub relation: Relation,
    /// Its question.
    pub query: String,
    /// Its final recommendation.
    #[serde(default)]
    pub recommendation: Option<String>,
    /// Its final consensus level, with what it means (`figures::explain`).
    #[serde(default)]
    pub level: Option<String>,
    /// Its dissent.
    #[serde(default)]
    pub dissent: Vec<PriorDissent>,
}

impl PanelParent {
    /// What the members of a follow-up are told of the earlier panel; `None`
    /// for a re-run (it starts afresh). `named: false` (delphi) leaves the
    /// dissenters unnamed.
    pub fn context(&self, named: bool) -> Option<String> {
        if self.relation != Relation::FollowUp {
            return None;
        }
        let mut text = format!("This panel follows up an earlier panel.\nIts question: {}\n", self.query.trim());
        match &self.recommendation {
            Some(r) => text.push_str(&format!("Its recommendation: {}\n", r.trim())),
            None => text.push_str("It reached no recommendation.\n"),
        }
        if let Some(level) = &self.level {
            text.push_str(&format!("Its agreement: {}\n", level.trim()));
        }
        for d in &self.dissent {
            if named {
                text.push_str(&format!("Dissent ({}): {}\n", d.name.trim(), d.argument.trim()));
            } else {
                text.push_str(&format!("Dissent: {}\n", d.argument.trim()));
            }
        }
        text.push_str("Build on that conclusion: answer the new question, and say where you would revise it.");
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_follow_up_is_told_the_earlier_conclusion_and_a_rerun_nothing() {
        let mut parent = PanelParent {
            id: PanelId(uuid::Uuid::nil()),
            relation: Relation::FollowUp,
            query: "Should we adopt Rust?".into(),
            recommendation: Some("Adopt it for new services. Conditions: training.".into()),
            level: Some("Consensus: the panel agrees.".into()),
            dissent: vec![PriorDissent { name: "Dr. Ada".into(), argument: "Hiring is hard.".into() }],
        };
        let context = parent.context(true).expect("follow-up");
        assert!(!parent.context(false).unwrap().contains("Dr. Ada"));
        for part in ["Should we adopt Rust?", "Adopt it for new services", "Consensus", "Dr. Ada", "Hiring is hard."] {
            assert!(context.contains(part), "{part}: {context}");
        }
        parent.recommendation = None;
        assert!(parent.context(true).unwrap().contains("no recommendation"));
        parent.relation = Relation::Rerun;
        assert_eq!(parent.context(true), None);
        assert_eq!(serde_json::to_value(Relation::FollowUp).unwrap(), "follow_up");
    }
}
