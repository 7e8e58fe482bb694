//! The panel search indexer: follows every panel's event log behind the
//! writers and indexes what can be searched (the question, each turn, the
//! recommendation), the experts seated and the panel's parent. It runs on
//! every node; a panel's progress (`indexed_seq`) is its claim, so two
//! nodes never index the same events twice.

use std::time::Duration;

use askpanel_actors::domain::{ExpertId, PanelId, TenantId};
use askpanel_actors::event::{Event, EventData};

use crate::state::AppState;
use crate::store::StoredEvent;
use crate::store::records::{IndexBatch, IndexText};

/// Events read a step.
const PAGE: u32 = 500;
/// Panels taken up a pass.
const PANELS_PER_PASS: u32 = 50;
/// The longest text indexed of one event, in characters.
const TEXT_MAX_CHARS: usize = 20_000;

/// What a page of events adds to the index. Pure.
pub fn batch_of(from_seq: u64, events: &[Event]) -> IndexBatch {
    let mut batch = IndexBatch { from_seq, to_seq: events.last().map_or(from_seq, |e| e.seq), ..IndexBatch::default() };
    let cut = |text: &str| text.chars().take(TEXT_MAX_CHARS).collect::<String>();
    for event in events {
        match &event.data {
            EventData::PanelCreated { panel, setup } => {
                batch.texts.push(IndexText { seq: event.seq, kind: "query", text: cut(&panel.query) });
                let mut experts: Vec<ExpertId> = panel.members.iter().filter_map(|m| m.expert_id).collect();
                experts.sort_by_key(|e| e.0);
                experts.dedup();
                batch.experts = experts;
                batch.parent = setup.config.parent.as_ref().map(|p| (p.id, p.relation));
            }
            EventData::TurnCompleted { text, .. } if !text.trim().is_empty() => {
                batch.texts.push(IndexText { seq: event.seq, kind: "turn", text: cut(text) });
            }
            EventData::PanelCompleted { recommendation, .. } if !recommendation.trim().is_empty() => {
                batch.texts.push(IndexText { seq: event.seq, kind: "recommendation", text: cut(recommendation) });
            }
            _ => {}
        }
    }
    batch
}

/// Indexes one panel up to its head; `Ok(false)` when another node had it.
async fn index_panel(state: &AppState, tenant: TenantId, panel: PanelId, mut indexed: u64) -> anyhow::Result<bool> {
    loop {
        let page: Vec<StoredEvent> = state.store.events_page(tenant, panel, indexed, PAGE).await?;
        if page.is_empty() {
            // Nothing new: an empty step still records an ended panel as done.
            let batch = IndexBatch { from_seq: indexed, to_seq: indexed, ..IndexBatch::default() };
            return Ok(state.store.index_panel(tenant, panel, &batch).await?);
        }
        let events: Vec<Event> = page.iter().map(|e| serde_json::from_str(&e.body)).collect::<Result<_, _>>()?;
        let batch = batch_of(indexed, &events);
        if !state.store.index_panel(tenant, panel, &batch).await? {
            return Ok(false);
        }
        indexed = batch.to_seq;
        if page.len() < PAGE as usize {
            return Ok(true);
        }
    }
}

/// Panels whose indexing failed, and when to try each again: one that keeps
/// failing waits longer each time (up to ten minutes) and never holds up the
/// others. Bounded: the oldest entry goes when it is full.
#[derive(Default)]
pub struct Backoff {
    failing: std::collections::HashMap<PanelId, (u32, std::time::Instant)>,
}

impl Backoff {
    const MAX_ENTRIES: usize = 10_000;

    pub fn waiting(&self, panel: PanelId, now: std::time::Instant) -> bool {
        self.failing.get(&panel).is_some_and(|(_, retry_at)| *retry_at > now)
    }

    pub fn failed(&mut self, panel: PanelId, now: std::time::Instant) {
        if self.failing.len() >= Self::MAX_ENTRIES
            && !self.failing.contains_key(&panel)
            && let Some(oldest) = self.failing.iter().min_by_key(|(_, (_, at))| *at).map(|(p, _)| *p)
        {
            self.failing.remove(&oldest);
        }
        let failures = self.failing.get(&panel).map_or(0, |(n, _)| *n) + 1;
        let wait = Duration::from_secs((1u64 << failures.min(10)).min(600));
        self.failing.insert(panel, (failures, now + wait));
    }

    pub fn succeeded(&mut self, panel: PanelId) {
        self.failing.remove(&panel);
    }
}

/// One pass over the panels behind (those waiting after a failure skipped);
/// returns how many were indexed.
pub async fn pass(state: &AppState, backoff: &mut Backoff) -> anyhow::Result<usize> {
    let behind = state.store.unindexed_panels(PANELS_PER_PASS * 4).await?;
    let now = std::time::Instant::now();
    let mut done = 0;
    let ready: Vec<_> =
        behind.into_iter().filter(|(_, p, _)| !backoff.waiting(*p, now)).take(PANELS_PER_PASS as usize).collect();
    for (tenant, panel, indexed) in ready {
        match index_panel(state, tenant, panel, indexed).await {
            Ok(true) => {
                backoff.succeeded(panel);
                done += 1;
            }
            Ok(false) => {}
            Err(e) => {
                backoff.failed(panel, now);
                tracing::warn!(%tenant, %panel, error = %e, "indexing a panel failed; it is tried again later");
            }
        }
    }
    Ok(done)
}

/// Runs the indexer until the process ends.
pub async fn run(state: AppState, every: Duration) {
    let mut backoff = Backoff::default();
    loop {
        // At most PANELS_PER_PASS panels an interval: under load the index
        // lags rather than competing with the panels for the database.
        if let Err(e) = pass(&state, &mut backoff).await {
            tracing::warn!(error = %e, "the search indexer could not read its work");
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_panel_waits_longer_each_time_and_the_others_do_not() {
        let mut backoff = Backoff::default();
        let (a, b) = (PanelId(uuid::Uuid::from_u128(1)), PanelId(uuid::Uuid::from_u128(2)));
        let now = std::time::Instant::now();
        backoff.failed(a, now);
        assert!(backoff.waiting(a, now) && !backoff.waiting(b, now));
        assert!(!backoff.waiting(a, now + Duration::from_secs(3)));
        backoff.failed(a, now);
        assert!(backoff.waiting(a, now + Duration::from_secs(3)));
        for _ in 0..20 {
            backoff.failed(a, now);
        }
        assert!(!backoff.waiting(a, now + Duration::from_secs(601)));
        backoff.succeeded(a);
        assert!(!backoff.waiting(a, now));
    }
}
