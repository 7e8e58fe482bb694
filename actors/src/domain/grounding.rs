//! The data of grounded panels (see [`crate::evidence`] for the rules):
//! the documents a panel deliberates over, passages, what a member was
//! given, citations and sources. Plain data, in events and views.

use serde::{Deserialize, Serialize};

pub use crate::ids::DocumentId;

/// Characters of evidence a turn is given unless configured otherwise.
pub const DEFAULT_BUDGET_CHARS: u32 = 3000;

/// A document a panel deliberates over, as written in its configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PanelDocument {
    /// The tenant's document.
    pub id: DocumentId,
    /// `D1`, `D2`...: the document's label within the panel.
    pub label: String,
    /// The document's title when the panel was created.
    pub title: String,
}

/// A passage of a document, as the store returns it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Passage {
    /// The document it belongs to.
    pub document_id: DocumentId,
    /// Its number in the document (1-based), stable for the document's life.
    pub n: u32,
    /// The PDF page it is on (1-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// The nearest heading above it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heading: Option<String>,
    /// Its text.
    pub text: String,
}

/// A passage as given to a member: with its label and its document's title.
#[derive(Clone, Debug, PartialEq)]
pub struct GivenPassage {
    /// `D2:p14`.
    pub label: String,
    /// The title of its document.
    pub title: String,
    /// The passage (its text cut to the budget when it had to be).
    pub passage: Passage,
}

/// What a member was given for a turn (`turn_completed.evidence`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceUse {
    /// The labels of the passages given, best first.
    pub passages: Vec<String>,
    /// Characters of passage text given.
    pub chars: u64,
    /// The turn's budget in characters.
    pub budget: u64,
    /// Why nothing could be given, when retrieval failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One citation in a turn's (or a recommendation's) text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Citation {
    /// The label as cited, normalised (`D2:p14`).
    pub label: String,
    /// Whether the label was among the passages given (for a turn) or
    /// validly cited by a turn (for a recommendation).
    pub valid: bool,
    /// Valid citations: the document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_id: Option<DocumentId>,
    /// Valid citations: the passage's number in its document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// Valid citations: the PDF page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// Valid citations: the nearest heading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heading: Option<String>,
}

/// A passage a recommendation rests on (`sources`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// `D2:p14`.
    pub label: String,
    /// The document.
    pub document_id: DocumentId,
    /// The passage's number in its document.
    pub n: u32,
    /// The document's title.
    pub title: String,
    /// The PDF page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// The nearest heading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heading: Option<String>,
    /// How many turns and recommendations cited it.
    pub cited: u32,
}
