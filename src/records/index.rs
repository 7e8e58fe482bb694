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
            return Ok(true);
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

/// One pass over the panels behind; returns how many were indexed.
pub async fn pass(state: &AppState) -> anyhow::Result<usize> {
    let behind = state.store.unindexed_panels(PANELS_PER_PASS).await?;
    let mut done = 0;
    for (tenant, panel, indexed) in behind {
        match index_panel(state, tenant, panel, indexed).await {
            Ok(true) => done += 1,
            Ok(false) => {}
            // One bad panel does not stop the others; it is retried next pass.
            Err(e) => tracing::warn!(%tenant, %panel, error = %e, "indexing a panel failed"),
        }
    }
    Ok(done)
}

/// Runs the indexer until the process ends.
pub async fn run(state: AppState, every: Duration) {
    loop {
        // At most PANELS_PER_PASS panels an interval: under load the index
        // lags rather than competing with the panels for the database.
        if let Err(e) = pass(&state).await {
            tracing::warn!(error = %e, "the search indexer could not read its work");
        }
        tokio::time::sleep(every).await;
    }
}
