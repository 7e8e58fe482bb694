//! Presence (`docs/presence.md`): who watches a live panel (people and
//! keys by name, share-link viewers as a count) and which human members are
//! connected. Each node counts its own watchers ([`PresenceTracker`]); with
//! several nodes each writes its share to Redis and the merged view goes to
//! every subscriber as a `presence` frame through the bus, numbered so that
//! an older view never replaces a newer one. The rules that merge the nodes'
//! shares are pure ([`merge`]).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use askpanel_actors::domain::{MemberId, PanelId};
use dashmap::DashMap;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::bus::Bus;

/// Viewers named in a frame; past it only `viewers_total` counts them.
pub const VIEWERS_SHOWN: usize = 100;
/// A node's share older than this is ignored (the node is gone).
pub const STALE_AFTER_S: i64 = 30;
/// How often a node writes its shares again (keeping them fresh).
pub const REFRESH: Duration = Duration::from_secs(10);
/// Panels waiting to have their presence published.
const QUEUE: usize = 4096;

/// Who watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WatcherKind {
    User,
    Key,
    /// A share link's viewer: counted, never named.
    Share,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Watcher {
    pub kind: WatcherKind,
    pub id: Uuid,
    pub name: String,
}

/// A viewer as shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub kind: WatcherKind,
    pub id: Uuid,
    pub name: String,
}

/// One node's watchers of a panel, as written to Redis.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeShare {
    /// When it was written (seconds since the epoch).
    pub at: i64,
    pub viewers: Vec<Viewer>,
    pub anonymous: u32,
}

/// What subscribers are shown.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PresenceView {
    pub viewers: Vec<Viewer>,
    pub viewers_total: usize,
    pub anonymous: u32,
    pub members_connected: Vec<MemberId>,
}

/// The merged view of the nodes' shares: stale shares dropped, each viewer
/// once (by kind and id), sorted by name, at most [`VIEWERS_SHOWN`] named;
/// a seat is connected when the person or key holding it watches.
pub fn merge(shares: &[NodeShare], now: i64, seats: &[(MemberId, Uuid)]) -> PresenceView {
    let live: Vec<&NodeShare> = shares.iter().filter(|s| now - s.at <= STALE_AFTER_S).collect();
    let mut viewers: Vec<Viewer> = live.iter().flat_map(|s| s.viewers.iter().cloned()).collect();
    viewers.sort_by(|a, b| a.name.to_lowercase().cmp(&b.name.to_lowercase()).then(a.id.cmp(&b.id)));
    viewers.dedup_by(|a, b| a.kind == b.kind && a.id == b.id);
    let members_connected =
        seats.iter().filter(|(_, holder)| viewers.iter().any(|v| v.id == *holder)).map(|(m, _)| *m).collect();
    let viewers_total = viewers.len();
    viewers.truncate(VIEWERS_SHOWN);
    PresenceView {
        viewers,
        viewers_total,
        anonymous: live.iter().map(|s| s.anonymous).fold(0u32, u32::saturating_add),
        members_connected,
    }
}

/// The `presence` WebSocket frame.
pub fn frame_text(panel: PanelId, view: &PresenceView) -> String {
    #[derive(Serialize)]
    struct Frame<'a> {
        r#type: &'static str,
        panel_id: PanelId,
        #[serde(flatten)]
        view: &'a PresenceView,
    }
    serde_json::to_string(&Frame { r#type: "presence", panel_id: panel, view }).unwrap_or_default()
}

/// Where the nodes' shares meet (Redis), when there are several nodes.
pub trait SharedPresence: Send + Sync + 'static {
    /// Writes this node's share (`None`: it has none now) and returns the
    /// view's new number and every node's share.
    fn write(&self, panel: PanelId, share: Option<NodeShare>) -> BoxFuture<'_, Option<(u64, Vec<NodeShare>)>>;
    /// Every other node's share, without writing.
    fn read_others(&self, panel: PanelId) -> BoxFuture<'_, Vec<NodeShare>>;
}

#[derive(Default)]
struct Local {
    watchers: HashMap<(WatcherKind, Uuid), (String, u32)>,
    seats: Vec<(MemberId, Uuid)>,
    version: u64,
    last: Option<PresenceView>,
}

impl Local {
    fn share(&self, now: i64) -> NodeShare {
        let mut viewers = Vec::new();
        let mut anonymous = 0u32;
        for ((kind, id), (name, count)) in &self.watchers {
            match kind {
                WatcherKind::Share => anonymous = anonymous.saturating_add(*count),
                _ => viewers.push(Viewer { kind: *kind, id: *id, name: name.clone() }),
            }
        }
        NodeShare { at: now, viewers, anonymous }
    }
}

/// This node's watchers, per panel.
pub struct PresenceTracker {
    panels: DashMap<PanelId, Local>,
    bus: Arc<Bus>,
    shared: OnceLock<Arc<dyn SharedPresence>>,
    changed: mpsc::Sender<PanelId>,
}

/// Holds a watcher's place; dropping it is leaving.
pub struct Watching {
    tracker: Arc<PresenceTracker>,
    panel: PanelId,
    key: (WatcherKind, Uuid),
}

impl Drop for Watching {
    fn drop(&mut self) {
        self.tracker.leave(self.panel, self.key);
    }
}

fn now_s() -> i64 {
    chrono::Utc::now().timestamp()
}

impl PresenceTracker {
    /// A tracker and the task that publishes what changes (and refreshes the shares).
    pub fn start(bus: Arc<Bus>) -> Arc<Self> {
        let (changed, queue) = mpsc::channel(QUEUE);
        let tracker = Arc::new(Self { panels: DashMap::new(), bus, shared: OnceLock::new(), changed });
        tokio::spawn(publisher(Arc::downgrade(&tracker), queue));
        tracker
    }

    /// Connects the tracker to the other nodes.
    pub fn set_shared(&self, shared: Arc<dyn SharedPresence>) {
        let _ = self.shared.set(shared);
    }

    /// Someone starts watching a panel; `seats` (its human members and who
    /// holds each) when the caller knows them (a panel's seats never change).
    pub fn join(self: &Arc<Self>, panel: PanelId, watcher: Watcher, seats: Vec<(MemberId, Uuid)>) -> Watching {
        let key = (watcher.kind, watcher.id);
        {
            let mut local = self.panels.entry(panel).or_default();
            if !seats.is_empty() {
                local.seats = seats;
            }
            local.watchers.entry(key).or_insert_with(|| (watcher.name.clone(), 0)).1 += 1;
        }
        let _ = self.changed.try_send(panel);
        Watching { tracker: self.clone(), panel, key }
    }

    fn leave(&self, panel: PanelId, key: (WatcherKind, Uuid)) {
        if let Some(mut local) = self.panels.get_mut(&panel)
            && let Some(entry) = local.watchers.get_mut(&key)
        {
            entry.1 = entry.1.saturating_sub(1);
            if entry.1 == 0 {
                local.watchers.remove(&key);
            }
        }
        let _ = self.changed.try_send(panel);
    }

    /// The panel's presence now (for a snapshot).
    pub async fn view(&self, panel: PanelId) -> PresenceView {
        let now = now_s();
        let (own, seats) = match self.panels.get(&panel) {
            Some(local) => (local.share(now), local.seats.clone()),
            None => (NodeShare { at: now, ..NodeShare::default() }, Vec::new()),
        };
        let mut shares = match self.shared.get() {
            Some(shared) => shared.read_others(panel).await,
            None => Vec::new(),
        };
        shares.push(own);
        merge(&shares, now, &seats)
    }

    /// Publishes a panel's presence if it changed since this node last did.
    async fn publish(&self, panel: PanelId) {
        let now = now_s();
        let Some((share, seats, empty)) =
            self.panels.get(&panel).map(|l| (l.share(now), l.seats.clone(), l.watchers.is_empty()))
        else {
            return;
        };
        let (version, shares) = match self.shared.get() {
            Some(shared) => match shared.write(panel, (!empty).then(|| share.clone())).await {
                Some(written) => written,
                None => return,
            },
            None => {
                let version = self.panels.get(&panel).map_or(0, |l| l.version) + 1;
                (version, vec![share])
            }
        };
        let view = merge(&shares, now, &seats);
        let publish = {
            let Some(mut local) = self.panels.get_mut(&panel) else { return };
            local.version = local.version.max(version);
            let changed = local.last.as_ref() != Some(&view);
            local.last = Some(view.clone());
            changed
        };
        if empty {
            self.panels.remove_if(&panel, |_, l| l.watchers.is_empty());
        }
        if publish {
            self.bus.publish_presence(panel, version, frame_text(panel, &view));
        }
    }
}

/// Publishes the panels whose watchers changed, each once per batch, and
/// every [`REFRESH`] rewrites this node's shares of the watched panels.
async fn publisher(tracker: std::sync::Weak<PresenceTracker>, mut queue: mpsc::Receiver<PanelId>) {
    let mut batch = Vec::with_capacity(256);
    let mut refresh = tokio::time::interval(REFRESH);
    loop {
        tokio::select! {
            n = queue.recv_many(&mut batch, 256) => if n == 0 { return },
            _ = refresh.tick() => {
                let Some(tracker) = tracker.upgrade() else { return };
                batch.extend(tracker.panels.iter().map(|e| *e.key()));
            }
        }
        let Some(tracker) = tracker.upgrade() else { return };
        batch.sort_unstable();
        batch.dedup();
        for panel in batch.drain(..) {
            tracker.publish(panel).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewer(kind: WatcherKind, name: &str) -> Viewer {
        Viewer { kind, id: Uuid::new_v4(), name: name.into() }
    }

    #[test]
    fn shares_merge_into_one_view_without_the_stale_ones() {
        let (ada, key, bo) =
            (viewer(WatcherKind::User, "Ada"), viewer(WatcherKind::Key, "ci key"), viewer(WatcherKind::User, "bo"));
        let seat = (MemberId::new(), ada.id);
        let empty_seat = (MemberId::new(), Uuid::new_v4());
        // (case, shares, names shown, anonymous, seats connected)
        type Case<'a> = (&'a str, Vec<NodeShare>, Vec<&'a str>, u32, usize);
        let table: Vec<Case> = vec![
            ("nothing", vec![], vec![], 0, 0),
            (
                "two nodes, Ada on both",
                vec![
                    NodeShare { at: 100, viewers: vec![ada.clone(), key.clone()], anonymous: 2 },
                    NodeShare { at: 95, viewers: vec![ada.clone(), bo.clone()], anonymous: 1 },
                ],
                vec!["Ada", "bo", "ci key"],
                3,
                1,
            ),
            (
                "a stale node is ignored",
                vec![
                    NodeShare { at: 100, viewers: vec![key.clone()], anonymous: 0 },
                    NodeShare { at: 100 - STALE_AFTER_S - 1, viewers: vec![ada.clone()], anonymous: 5 },
                ],
                vec!["ci key"],
                0,
                0,
            ),
        ];
        for (name, shares, names, anonymous, connected) in table {
            let view = merge(&shares, 100, &[seat, empty_seat]);
            let got: Vec<&str> = view.viewers.iter().map(|v| v.name.as_str()).collect();
            assert_eq!(got, names, "{name}");
            assert_eq!(
                (view.anonymous, view.members_connected.len(), view.viewers_total),
                (anonymous, connected, names.len()),
                "{name}"
            );
        }
    }

    #[test]
    fn a_crowd_is_counted_but_not_all_named() {
        let viewers: Vec<Viewer> = (0..150).map(|i| viewer(WatcherKind::Key, &format!("key {i:03}"))).collect();
        let view = merge(&[NodeShare { at: 0, viewers, anonymous: 0 }], 0, &[]);
        assert_eq!((view.viewers.len(), view.viewers_total), (VIEWERS_SHOWN, 150));
        let text = frame_text(PanelId::new(), &view);
        assert!(text.starts_with("{\"type\":\"presence\",\"panel_id\":"), "{text}");
        assert!(text.contains("\"viewers_total\":150"));
    }
}
