//! In-memory ports: an event log, a recording publisher and a model that
//! fails on demand. Used by tests and by the command-line `ask`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::{self, BoxFuture};
use futures::stream::{self, StreamExt};
use tokio::sync::watch;

use crate::domain::{PanelId, PanelStatus, TenantId};
use crate::event::{Event, SealedEvent, TokenDelta};
use crate::model::{
    Bid, BidRequest, DraftRequest, Drafted, ExpertModel, JudgeRequest, ModelError, TurnChunk, TurnRequest, TurnStream,
};
use crate::ports::{CreateOptions, CreateOutcome, EventLog, EventPublisher, LogError};

#[derive(Default)]
struct LogInner {
    panels: HashMap<PanelId, (TenantId, Vec<Event>)>,
    idempotency: HashMap<(TenantId, String), PanelId>,
}

/// An event log in memory, with the same ordering checks as a database log.
#[derive(Clone, Default)]
pub struct InMemoryEventLog {
    inner: Arc<Mutex<LogInner>>,
    /// Appends that will fail (storage faults on demand).
    failing_appends: Arc<AtomicU32>,
}

impl InMemoryEventLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the next `n` appends fail with a storage error.
    pub fn fail_next_appends(&self, n: u32) {
        self.failing_appends.store(n, Ordering::SeqCst);
    }

    /// A copy of a panel's events.
    pub fn events(&self, panel: PanelId) -> Vec<Event> {
        self.lock().panels.get(&panel).map(|(_, e)| e.clone()).unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogInner> {
        // A panic while holding the lock only happens in a failing test; keep going.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl EventLog for InMemoryEventLog {
    fn create(
        &self,
        tenant: TenantId,
        panel: PanelId,
        event: SealedEvent,
        options: CreateOptions,
    ) -> BoxFuture<'static, Result<CreateOutcome, LogError>> {
        let event = event.event;
        let mut inner = self.lock();
        if let Some(key) = options.idempotency_key {
            if let Some(existing) = inner.idempotency.get(&(tenant, key.clone())) {
                return Box::pin(future::ready(Ok(CreateOutcome::Existing(*existing))));
            }
            inner.idempotency.insert((tenant, key), panel);
        }
        if inner.panels.contains_key(&panel) || event.seq != 1 {
            return Box::pin(future::ready(Err(LogError::Conflict("panel exists".into()))));
        }
        inner.panels.insert(panel, (tenant, vec![event]));
        Box::pin(future::ready(Ok(CreateOutcome::Created)))
    }

    fn append(
        &self,
        tenant: TenantId,
        panel: PanelId,
        events: Vec<SealedEvent>,
        _status: PanelStatus,
    ) -> BoxFuture<'static, Result<(), LogError>> {
        let events: Vec<Event> = events.into_iter().map(|sealed| sealed.event).collect();
        if self.failing_appends.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            return Box::pin(future::ready(Err(LogError::Storage("injected fault".into()))));
        }
        let mut inner = self.lock();
        let result = match inner.panels.get_mut(&panel) {
            Some((owner, log)) if *owner == tenant => {
                let mut head = log.last().map_or(0, |e| e.seq);
                let mut ok = Ok(());
                for event in &events {
                    if event.seq != head + 1 {
                        ok = Err(LogError::Conflict(format!("seq {} after {head}", event.seq)));
                        break;
                    }
                    head = event.seq;
                }
                if ok.is_ok() {
                    log.extend(events);
                }
                ok
            }
            _ => Err(LogError::NotFound),
        };
        Box::pin(future::ready(result))
    }

    fn load(&self, tenant: TenantId, panel: PanelId) -> BoxFuture<'static, Result<Vec<Event>, LogError>> {
        let events = match self.lock().panels.get(&panel) {
            Some((owner, events)) if *owner == tenant => events.clone(),
            _ => Vec::new(),
        };
        Box::pin(future::ready(Ok(events)))
    }

    fn unfinished(&self) -> BoxFuture<'static, Result<Vec<(TenantId, PanelId)>, LogError>> {
        let list = self
            .lock()
            .panels
            .iter()
            .filter(|(_, (_, events))| !events.last().is_some_and(|e| e.data.is_terminal()))
            .map(|(panel, (tenant, _))| (*tenant, *panel))
            .collect();
        Box::pin(future::ready(Ok(list)))
    }
}

/// What a panel published.
#[derive(Clone, Debug, Default)]
pub struct Published {
    /// Durable events, in publish order.
    pub events: Vec<Event>,
    /// Token deltas, in publish order.
    pub tokens: Vec<TokenDelta>,
}

/// A publisher that records everything, and lets tests wait for it.
#[derive(Clone)]
pub struct RecordingPublisher {
    panels: Arc<Mutex<HashMap<PanelId, Published>>>,
    version: Arc<watch::Sender<u64>>,
}

impl Default for RecordingPublisher {
    fn default() -> Self {
        Self { panels: Arc::default(), version: Arc::new(watch::channel(0).0) }
    }
}

impl RecordingPublisher {
    /// A publisher that has recorded nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything published for a panel so far.
    pub fn published(&self, panel: PanelId) -> Published {
        self.panels.lock().unwrap_or_else(|e| e.into_inner()).get(&panel).cloned().unwrap_or_default()
    }

    /// Waits until `done` holds for the panel's record, or the timeout passes.
    pub async fn wait_until(
        &self,
        panel: PanelId,
        timeout: Duration,
        done: impl Fn(&Published) -> bool,
    ) -> Option<Published> {
        let mut changes = self.version.subscribe();
        let wait = async {
            loop {
                let current = self.published(panel);
                if done(&current) {
                    return current;
                }
                if changes.changed().await.is_err() {
                    return current;
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.ok()
    }

    /// Waits for the panel's terminal event.
    pub async fn wait_for_end(&self, panel: PanelId, timeout: Duration) -> Option<Published> {
        self.wait_until(panel, timeout, |p| p.events.last().is_some_and(|e| e.data.is_terminal())).await
    }

    fn record(&self, panel: PanelId, f: impl FnOnce(&mut Published)) {
        f(self.panels.lock().unwrap_or_else(|e| e.into_inner()).entry(panel).or_default());
        self.version.send_modify(|v| *v += 1);
    }
}

impl EventPublisher for RecordingPublisher {
    fn publish_event(&self, _: TenantId, panel: PanelId, event: &SealedEvent) {
        self.record(panel, |p| p.events.push(event.event.clone()));
    }

    fn publish_token(&self, _: TenantId, panel: PanelId, token: &TokenDelta) {
        self.record(panel, |p| p.tokens.push(token.clone()));
    }
}

/// Wraps a model and breaks turn streams on demand: after `after_deltas`
/// deltas, the stream yields an error.
pub struct FlakyModel {
    inner: Arc<dyn ExpertModel>,
    failing_turns: AtomicU32,
    after_deltas: usize,
    /// Turn streams that panic when the panel polls them (a bug's stand-in).
    panicking_turns: AtomicU32,
    /// Turn streams that just stop after `after_deltas` deltas, with neither result nor error.
    cut_off_turns: AtomicU32,
    /// Turn streams started so far.
    pub turns_started: AtomicU32,
}

impl FlakyModel {
    /// Fails the next `failing_turns` turns (u32::MAX: every turn).
    pub fn new(inner: Arc<dyn ExpertModel>, failing_turns: u32, after_deltas: usize) -> Self {
        Self {
            inner,
            failing_turns: AtomicU32::new(failing_turns),
            after_deltas,
            panicking_turns: AtomicU32::new(0),
            cut_off_turns: AtomicU32::new(0),
            turns_started: AtomicU32::new(0),
        }
    }

    /// A model whose next `n` turn streams stop after `after_deltas` deltas, without a result or an error.
    pub fn cut_off(inner: Arc<dyn ExpertModel>, n: u32, after_deltas: usize) -> Self {
        let model = Self::new(inner, 0, after_deltas);
        model.cut_off_turns.store(n, Ordering::SeqCst);
        model
    }

    /// A model whose next `n` turn streams panic inside the panel actor that polls them.
    pub fn panicking(inner: Arc<dyn ExpertModel>, n: u32) -> Self {
        let model = Self::new(inner, 0, 0);
        model.panicking_turns.store(n, Ordering::SeqCst);
        model
    }
}

impl ExpertModel for FlakyModel {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn is_simulated(&self) -> bool {
        self.inner.is_simulated()
    }

    fn available(&self) -> bool {
        self.inner.available()
    }

    fn concurrent_turns(&self) -> bool {
        self.inner.concurrent_turns()
    }

    fn stream_turn(&self, request: TurnRequest) -> TurnStream {
        self.turns_started.fetch_add(1, Ordering::SeqCst);
        if self.panicking_turns.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            return stream::once(future::lazy(|_| -> Result<TurnChunk, ModelError> {
                panic!("injected panic while the panel reads a turn")
            }))
            .boxed();
        }
        let fail =
            self.failing_turns
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                    if n == u32::MAX { Some(n) } else { n.checked_sub(1) }
                })
                .is_ok();
        let inner = self.inner.stream_turn(request);
        if self.cut_off_turns.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            let after = self.after_deltas;
            return inner.filter(|chunk| future::ready(!matches!(chunk, Ok(TurnChunk::Done(_))))).take(after).boxed();
        }
        if !fail {
            return inner;
        }
        let after = self.after_deltas;
        inner
            .filter(|chunk| future::ready(!matches!(chunk, Ok(TurnChunk::Done(_)))))
            .take(after)
            .chain(stream::once(future::ready(Err(ModelError::Stream("injected failure mid-stream".into())))))
            .boxed()
    }

    fn bid(&self, request: BidRequest) -> BoxFuture<'static, Result<(Bid, crate::model::Usage), ModelError>> {
        self.inner.bid(request)
    }

    fn draft(&self, request: DraftRequest) -> BoxFuture<'static, Result<Drafted, ModelError>> {
        self.inner.draft(request)
    }

    fn judge(
        &self,
        request: JudgeRequest,
    ) -> BoxFuture<'static, Result<(crate::event::Verdict, crate::model::Usage), ModelError>> {
        self.inner.judge(request)
    }

    fn synthesize(
        &self,
        request: crate::model::SynthesisRequest,
    ) -> BoxFuture<'static, Result<(crate::panel::feedback::Feedback, crate::model::Usage), ModelError>> {
        self.inner.synthesize(request)
    }
}
