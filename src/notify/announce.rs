//! The announcer: follows every panel's event log behind the writers (as
//! the search indexer does) and records, in the transaction that moves its
//! claim (`announced_seq`), what the events announce: followers,
//! notifications, email and reminder jobs, webhook deliveries, and what
//! the events spent by day ([`crate::usage::day_deltas`]). It runs on
//! every node; the claim makes each event announced once, across nodes and
//! restarts. Notifications are pushed to their people's sockets after the
//! commit.

use std::time::Duration;

use askpanel_actors::domain::{PanelId, TenantId};
use askpanel_actors::event::{Event, EventData};
use askpanel_actors::panel::view::PanelView;

use super::{FanOut, Notification, plan};
use crate::cluster::Control;
use crate::records::index::Backoff;
use crate::state::AppState;
use crate::store::StoredEvent;
use crate::store::notify::Announcement;

/// Events read a step.
const PAGE: u32 = 200;
/// Panels taken up a pass.
const PANELS_PER_PASS: u32 = 50;

/// What recording notices needs, as configured now.
pub fn fan_out(state: &AppState) -> FanOut {
    FanOut {
        mail_enabled: state.mailer.enabled(),
        public_url: state.settings.accounts.public_url.clone(),
        now: chrono::Utc::now(),
        away_grace: chrono::Duration::milliseconds(state.settings.notifications.away_grace_ms as i64),
    }
}

/// Sends notifications to their people's open sockets, on this node and
/// (through Redis) on the others.
pub async fn push(state: &AppState, notifications: &[Notification]) {
    for notification in notifications {
        state.metrics.notifications.with_label_values(&["in_app"]).inc();
        let frame = super::frame_text(notification);
        state.tenants.notified(notification.tenant_id, notification.user_id, &frame);
        if let Some(cluster) = &state.cluster {
            let control = Control::Notified {
                origin: cluster.node_id.clone(),
                tenant_id: notification.tenant_id,
                user_id: notification.user_id,
                frame,
            };
            cluster.broadcast_control(&control).await;
        }
    }
}

/// The panels as created, for those being announced: read once per panel,
/// not once a pass. Bounded: the oldest entry goes when it is full.
#[derive(Default)]
pub struct Created {
    views: std::collections::HashMap<PanelId, std::sync::Arc<PanelView>>,
    order: std::collections::VecDeque<PanelId>,
}

impl Created {
    const MAX_ENTRIES: usize = 2048;

    async fn get(
        &mut self,
        state: &AppState,
        tenant: TenantId,
        panel: PanelId,
    ) -> anyhow::Result<std::sync::Arc<PanelView>> {
        if let Some(view) = self.views.get(&panel) {
            return Ok(view.clone());
        }
        let view = std::sync::Arc::new(created(state, tenant, panel).await?);
        if self.views.len() >= Self::MAX_ENTRIES
            && let Some(oldest) = self.order.pop_front()
        {
            self.views.remove(&oldest);
        }
        self.views.insert(panel, view.clone());
        self.order.push_back(panel);
        Ok(view)
    }

    fn forget(&mut self, panel: PanelId) {
        if self.views.remove(&panel).is_some() {
            self.order.retain(|p| *p != panel);
        }
    }
}

/// The panel as created (its first event).
async fn created(state: &AppState, tenant: TenantId, panel: PanelId) -> anyhow::Result<PanelView> {
    let first = state.store.events_page(tenant, panel, 0, 1).await?;
    let event: Event = match first.first() {
        Some(stored) => serde_json::from_str(&stored.body)?,
        None => anyhow::bail!("the panel has no events"),
    };
    match event.data {
        EventData::PanelCreated { panel, .. } => Ok(*panel),
        _ => anyhow::bail!("the panel's first event is not panel_created"),
    }
}

/// Announces one panel up to its head; `Ok(false)` when another node had it.
async fn announce_panel(
    state: &AppState,
    views: &mut Created,
    tenant: TenantId,
    panel: PanelId,
    mut from: u64,
) -> anyhow::Result<bool> {
    let view = views.get(state, tenant, panel).await?;
    loop {
        let page: Vec<StoredEvent> = state.store.events_page(tenant, panel, from, PAGE).await?;
        let events: Vec<Event> = page.iter().map(|e| serde_json::from_str(&e.body)).collect::<Result<_, _>>()?;
        let to = events.last().map_or(from, |e| e.seq);
        let planned = plan(&view, &events);
        let step = Announcement {
            from_seq: from,
            to_seq: to,
            follows: planned.follows.iter().map(|(user, reason)| (*user, reason.as_str())).collect(),
            notices: planned.notices,
            reminders: planned.reminders,
            webhooks: planned.webhooks,
            usage: crate::usage::day_deltas(view.created_at, &events).into_iter().collect(),
            panel_type: view.panel_type.as_str(),
        };
        let Some(notifications) = state.store.announce(tenant, panel, &step, &fan_out(state)).await? else {
            return Ok(false);
        };
        push(state, &notifications).await;
        if !step.webhooks.is_empty() {
            state.notify_wake.deliveries.notify_one();
        }
        if !step.notices.is_empty() || !step.reminders.is_empty() {
            state.notify_wake.jobs.notify_one();
        }
        from = to;
        if events.last().is_some_and(|e| e.data.is_terminal()) {
            views.forget(panel);
        }
        if page.len() < PAGE as usize {
            return Ok(true);
        }
    }
}

/// One pass over the panels behind; returns how many were announced.
pub async fn pass(state: &AppState, backoff: &mut Backoff, views: &mut Created) -> anyhow::Result<usize> {
    let behind = state.store.unannounced_panels(PANELS_PER_PASS * 4).await?;
    let now = std::time::Instant::now();
    let ready: Vec<_> =
        behind.into_iter().filter(|(_, p, _)| !backoff.waiting(*p, now)).take(PANELS_PER_PASS as usize).collect();
    let mut done = 0;
    for (tenant, panel, announced) in ready {
        match announce_panel(state, views, tenant, panel, announced).await {
            Ok(true) => {
                backoff.succeeded(panel);
                done += 1;
            }
            Ok(false) => {}
            Err(e) => {
                backoff.failed(panel, now);
                state.metrics.errors.with_label_values(&["announce"]).inc();
                tracing::warn!(tenant_id = %tenant, panel_id = %panel, error = %e, "announcing a panel failed; it is tried again later");
            }
        }
    }
    Ok(done)
}

/// Runs the announcer until the shutdown begins.
pub async fn run(state: AppState, every: Duration) {
    let mut backoff = Backoff::default();
    let mut views = Created::default();
    while !state.shutting_down.load(std::sync::atomic::Ordering::Relaxed) {
        if let Err(e) = pass(&state, &mut backoff, &mut views).await {
            tracing::warn!(error = %e, "the announcer could not read its work");
        }
        tokio::time::sleep(every).await;
    }
}
