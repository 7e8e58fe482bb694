//! The expert catalog: the shared platform personas from `config/experts.toml`
//! plus tenants' private experts, and relevance ranking over them.
//!
//! Ranking is BM25F-style: each expert is one document whose fields are
//! weighted by repetition (tags and domain x3, title x2, name, persona and
//! concerns x1); `k1 = 1.2`, `b = 0.75`, IDF `ln(1 + (N - df + 0.5)/(df + 0.5))`.
//! Automatic selection then picks greedily by score, halving a candidate's
//! score for every expert already chosen from its domain, so a panel spans
//! several domains.

use std::sync::Arc;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::Path;

use anyhow::Context;
use askpanel_actors::domain::{ExpertId, ExpertProfile, MemberId, MemberSelection, SelectionBasis, TenantId};
use serde::{Deserialize, Serialize};

/// Where an expert comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpertScope {
    Platform,
    Tenant,
}

/// An expert persona.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Expert {
    pub id: ExpertId,
    pub name: String,
    #[serde(default)]
    pub title: String,
    pub domain: String,
    /// Shared with the profile of every member seated as this expert.
    pub persona: Arc<str>,
    /// Where the expert's judgement comes from (career, settings).
    #[serde(default)]
    pub background: String,
    /// What the expert gives most weight to.
    #[serde(default)]
    pub weighs: Vec<String>,
    /// What the expert distrusts.
    #[serde(default)]
    pub sceptical_of: Vec<String>,
    #[serde(default)]
    pub tags: Arc<[String]>,
    #[serde(default)]
    pub concerns: Arc<[String]>,
    #[serde(default = "default_stubbornness")]
    pub stubbornness: f64,
    #[serde(default)]
    pub optimism: f64,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default = "platform_scope")]
    pub scope: ExpertScope,
    #[serde(default, skip_serializing)]
    pub tenant_id: Option<TenantId>,
    /// A tenant's expert that was deleted after panels had seated it: kept
    /// for their record, never seated again.
    #[serde(default)]
    pub archived: bool,
}

fn default_stubbornness() -> f64 {
    0.4
}

fn platform_scope() -> ExpertScope {
    ExpertScope::Platform
}

impl Expert {
    /// The profile an AI member is seated with.
    pub fn profile(&self) -> ExpertProfile {
        ExpertProfile {
            member_id: MemberId(uuid::Uuid::nil()),
            name: self.name.clone(),
            title: self.title.clone(),
            domain: self.domain.clone(),
            persona: self.persona.clone(),
            tags: self.tags.clone(),
            concerns: self.concerns.clone(),
            stubbornness: self.stubbornness,
            optimism: self.optimism,
            model: self.model.clone(),
        }
    }
}

#[derive(Deserialize)]
struct CatalogFile {
    expert: Vec<Expert>,
}

/// The platform catalog, with each expert's document indexed once.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub experts: Vec<Expert>,
    docs: Vec<Doc>,
}

impl Catalog {
    pub fn load(path: &Path) -> anyhow::Result<Catalog> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read the expert catalog {}", path.display()))?;
        Catalog::parse(&text).with_context(|| format!("invalid expert catalog {}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Catalog> {
        let file: CatalogFile = toml::from_str(text)?;
        let mut ids = HashSet::new();
        for expert in &file.expert {
            anyhow::ensure!(ids.insert(expert.id), "expert id {} appears twice", expert.id);
            anyhow::ensure!(
                !expert.name.trim().is_empty() && !expert.persona.trim().is_empty(),
                "expert {} needs a name and a persona",
                expert.id
            );
            // Platform personas are complete: who they are, where their
            // judgement comes from, what they weigh and what they distrust.
            anyhow::ensure!(
                !expert.title.trim().is_empty()
                    && !expert.background.trim().is_empty()
                    && !expert.weighs.is_empty()
                    && !expert.sceptical_of.is_empty(),
                "expert {} ({}) needs a title, a background, what it weighs and what it is sceptical of",
                expert.id,
                expert.name
            );
        }
        let experts: Vec<Expert> =
            file.expert.into_iter().map(|e| Expert { scope: ExpertScope::Platform, tenant_id: None, ..e }).collect();
        let docs = experts.iter().map(Doc::of).collect();
        Ok(Catalog { experts, docs })
    }

    pub fn get(&self, id: ExpertId) -> Option<&Expert> {
        self.experts.iter().find(|e| e.id == id)
    }

    /// The platform experts plus `extra` (a tenant's own), ready to rank.
    pub fn with<'a>(&'a self, extra: &'a [Expert]) -> Candidates<'a> {
        let mut experts: Vec<&Expert> = self.experts.iter().collect();
        let mut docs: Vec<Cow<'a, Doc>> = self.docs.iter().map(Cow::Borrowed).collect();
        experts.extend(extra.iter());
        docs.extend(extra.iter().map(|e| Cow::Owned(Doc::of(e))));
        Candidates { experts, docs }
    }
}

/// An expert's indexed document: term frequencies and length.
#[derive(Clone, Debug, Default)]
pub struct Doc {
    len: f64,
    tf: HashMap<String, f64>,
}

impl Doc {
    pub fn of(expert: &Expert) -> Doc {
        let terms = document(expert);
        let mut tf = HashMap::new();
        for t in &terms {
            *tf.entry(t.clone()).or_insert(0.0) += 1.0;
        }
        Doc { len: terms.len() as f64, tf }
    }
}

/// Experts to rank, with their documents.
pub struct Candidates<'a> {
    pub experts: Vec<&'a Expert>,
    docs: Vec<Cow<'a, Doc>>,
}

impl<'a> Candidates<'a> {
    /// Keeps the experts of one domain.
    pub fn in_domain(self, domain: &str) -> Candidates<'a> {
        let (experts, docs) = self.experts.into_iter().zip(self.docs).filter(|(e, _)| e.domain == domain).unzip();
        Candidates { experts, docs }
    }

    pub fn scores(&self, query: &str) -> Vec<f64> {
        let docs: Vec<&Doc> = self.docs.iter().map(|d| d.as_ref()).collect();
        bm25_scores(query, &docs)
    }

    /// All experts ranked by relevance, best first (ties keep their order).
    pub fn rank(&self, query: &str) -> Vec<(&'a Expert, f64)> {
        let mut ranked: Vec<(&Expert, f64)> = self.experts.iter().copied().zip(self.scores(query)).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        ranked
    }

    /// Leaves out the experts a tenant hid (and archived ones).
    pub fn without(self, hidden: &HashSet<ExpertId>) -> Candidates<'a> {
        let (experts, docs) =
            self.experts.into_iter().zip(self.docs).filter(|(e, _)| !e.archived && !hidden.contains(&e.id)).unzip();
        Candidates { experts, docs }
    }

    /// `count` experts for a query: relevance with domain diversity.
    pub fn select(&self, query: &str, count: usize) -> Vec<Expert> {
        self.select_explained(query, count, &HashSet::new()).into_iter().map(|(e, _)| e).collect()
    }

    /// `count` experts for a query, each with why it was chosen: relevance
    /// (a preferred expert's score counted [`PREFERRED_BOOST`] times) with
    /// domain diversity (each expert already chosen from a domain halves the
    /// score of the others from it).
    pub fn select_explained(
        &self,
        query: &str,
        count: usize,
        preferred: &HashSet<ExpertId>,
    ) -> Vec<(Expert, MemberSelection)> {
        let scores: Vec<f64> = self
            .scores(query)
            .into_iter()
            .zip(&self.experts)
            .map(|(s, e)| if preferred.contains(&e.id) { s * PREFERRED_BOOST } else { s })
            .collect();
        let mut terms = tokenize(query);
        terms.sort();
        terms.dedup();
        select_by_scores(&self.experts, &scores, count)
            .into_iter()
            .map(|(i, same_domain_before)| {
                let expert = self.experts[i];
                let matched_terms: Vec<String> =
                    terms.iter().filter(|t| self.docs[i].tf.contains_key(*t)).cloned().collect();
                let selection = MemberSelection {
                    basis: if scores[i] > 0.0 { SelectionBasis::Relevance } else { SelectionBasis::Fallback },
                    score: (scores[i] * 1000.0).round() / 1000.0,
                    matched_terms,
                    same_domain_before,
                    preferred: preferred.contains(&expert.id),
                };
                (expert.clone(), selection)
            })
            .collect()
    }
}

/// How much more a tenant's preferred expert's relevance counts in selection.
pub const PREFERRED_BOOST: f64 = 1.5;

const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "do", "does", "for", "from", "has", "have", "how", "i", "in",
    "is", "it", "its", "of", "on", "or", "our", "should", "so", "that", "the", "their", "this", "to", "we", "what",
    "when", "which", "who", "why", "will", "with", "would", "can", "could", "us", "via", "vs", "go", "get", "who",
    "she", "he", "her", "his", "they", "them",
];

/// Lower-cased terms: `510(k)` gives `510k` (and `510`, `k`); `de-novo` gives `denovo`, `de`, `novo`.
pub fn tokenize(text: &str) -> Vec<String> {
    let mut terms = Vec::new();
    for raw in text.to_lowercase().split(|c: char| !(c.is_alphanumeric() || matches!(c, '(' | ')' | '-' | '/'))) {
        let joined: String = raw.chars().filter(|c| c.is_alphanumeric()).collect();
        let mut push = |t: &str| {
            let t = match t.strip_suffix('s') {
                Some(stem) if stem.len() > 3 && !stem.ends_with('s') => stem,
                _ => t,
            };
            if !t.is_empty() && !STOP_WORDS.contains(&t) {
                terms.push(t.to_string());
            }
        };
        push(&joined);
        if raw.contains(['(', ')', '-', '/']) {
            for part in raw.split(|c: char| !c.is_alphanumeric()).filter(|p| !p.is_empty() && *p != joined) {
                push(part);
            }
        }
    }
    terms
}

fn document(expert: &Expert) -> Vec<String> {
    let mut terms = Vec::new();
    let heavy = format!("{} {} {}", expert.tags.join(" "), expert.domain.replace('_', " "), expert.domain);
    for _ in 0..3 {
        terms.extend(tokenize(&heavy));
    }
    for _ in 0..2 {
        terms.extend(tokenize(&expert.title));
    }
    terms.extend(tokenize(&expert.name));
    terms.extend(tokenize(&expert.persona));
    terms.extend(tokenize(&expert.concerns.join(" ")));
    terms
}

/// BM25 scores of the documents for `query`, in their order.
pub fn bm25_scores(query: &str, docs: &[&Doc]) -> Vec<f64> {
    if docs.is_empty() {
        return Vec::new();
    }
    let n = docs.len() as f64;
    let avg_len = docs.iter().map(|d| d.len).sum::<f64>() / n;
    let mut query_terms = tokenize(query);
    query_terms.sort();
    query_terms.dedup();
    let (k1, b) = (1.2, 0.75);
    let idf: Vec<f64> = query_terms
        .iter()
        .map(|t| {
            let df = docs.iter().filter(|d| d.tf.contains_key(t)).count() as f64;
            (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
        })
        .collect();
    docs.iter()
        .map(|doc| {
            let norm = k1 * (1.0 - b + b * doc.len / avg_len.max(1.0));
            query_terms
                .iter()
                .zip(&idf)
                .map(|(t, idf)| {
                    let f = doc.tf.get(t).copied().unwrap_or(0.0);
                    idf * f * (k1 + 1.0) / (f + norm)
                })
                .sum()
        })
        .collect()
}

/// Domains used when a query matches nothing, in the order a generalist would seat them.
const FALLBACK_DOMAINS: &[&str] = &[
    "regulatory",
    "clinical",
    "biostatistics",
    "health_economics",
    "patients",
    "ethics",
    "privacy",
    "legal",
    "security",
    "commercial",
    "ai_ml",
    "quality",
];

/// Greedy choice by score, halving a candidate's score per expert already
/// chosen from its domain; each choice with how many of its domain came before.
fn select_by_scores(experts: &[&Expert], scores: &[f64], count: usize) -> Vec<(usize, u32)> {
    let mut chosen: Vec<(usize, u32)> = Vec::new();
    let mut per_domain: HashMap<&str, u32> = HashMap::new();
    while chosen.len() < count.min(experts.len()) {
        let best = experts
            .iter()
            .enumerate()
            .filter(|(i, _)| !chosen.iter().any(|(c, _)| c == i))
            .map(|(i, e)| {
                let penalty = 0.5f64.powi(per_domain.get(e.domain.as_str()).copied().unwrap_or(0) as i32);
                let fallback = FALLBACK_DOMAINS
                    .iter()
                    .position(|d| *d == e.domain)
                    .map_or(0.0, |p| 1e-6 * (FALLBACK_DOMAINS.len() - p) as f64);
                (i, (scores[i] + fallback) * penalty)
            })
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
        let Some((index, _)) = best else { break };
        let before = per_domain.entry(experts[index].domain.as_str()).or_default();
        chosen.push((index, *before));
        *before += 1;
    }
    chosen
}

#[cfg(test)]
mod tests;
