//! The job runner: emails and reminders, from the durable `jobs` table,
//! claimed with a lease on any node (a job whose node died is claimed again
//! when its lease runs out). An email that cannot be sent is tried again
//! with a growing pause, a few times; a human turn's email goes only while
//! the turn is open and its person is not watching the panel; a reminder
//! is given once, and only while the turn is open.

use std::time::Duration;

use askpanel_actors::event::Event;
use futures::StreamExt as _;

use super::announce::{fan_out, push};
use super::{MailJob, Reminder, reminder_notice, turn_still_open};
use crate::mail::{Mail, MailError};
use crate::state::AppState;
use crate::store::accounts::UserStatus;
use crate::store::notify::{Claim, JobKind};

/// Jobs claimed a step, all run at once (so none waits on its claim while
/// others run).
const CLAIM: u32 = 4;
/// Attempts of an email before it is given up.
const MAIL_ATTEMPTS: u32 = 5;
/// Claims of one job that end in an error before it is given up (a job
/// that cannot be read, or whose work keeps failing).
const MAX_CLAIMS: u32 = 10;
/// Events read to see whether a turn is still open.
const TURN_EVENTS: u32 = 500;

/// Whether a human turn is still open now (read from the log).
async fn open(
    state: &AppState,
    tenant: askpanel_actors::domain::TenantId,
    turn: &super::OpenTurn,
) -> anyhow::Result<bool> {
    if turn.deadline <= chrono::Utc::now() {
        return Ok(false);
    }
    let page = state.store.events_page(tenant, turn.panel, turn.request_seq, TURN_EVENTS).await?;
    let events: Vec<Event> = page.iter().map(|e| serde_json::from_str(&e.body)).collect::<Result<_, _>>()?;
    Ok(turn_still_open(turn, &events))
}

async fn mail(state: &AppState, claim: &Claim, job: &MailJob) -> anyhow::Result<()> {
    let tenant = claim.tenant;
    let user = state.store.get_user(tenant, job.user).await?.filter(|u| u.status == UserStatus::Active);
    let Some(user) = user else {
        state.store.finish_job(claim, "skipped: no active account", chrono::Utc::now()).await?;
        return Ok(());
    };
    if let Some(turn) = &job.turn {
        if !open(state, tenant, turn).await? {
            state.store.finish_job(claim, "skipped: the turn closed", chrono::Utc::now()).await?;
            return Ok(());
        }
        let watching = state.presence.view(turn.panel).await.viewers.iter().any(|v| v.id == user.id.0);
        if watching {
            state.store.finish_job(claim, "skipped: watching the panel", chrono::Utc::now()).await?;
            return Ok(());
        }
    }
    let message = Mail { to: user.email.clone(), subject: job.subject.clone(), text: job.text.clone() };
    match state.mailer.send(&message).await {
        Ok(()) => {
            state.store.finish_job(claim, "sent", chrono::Utc::now()).await?;
            state.metrics.notifications.with_label_values(&["email"]).inc();
        }
        Err(MailError::Disabled) => {
            state.store.finish_job(claim, "skipped: no mail server", chrono::Utc::now()).await?;
        }
        Err(error) if claim.attempts >= MAIL_ATTEMPTS => {
            tracing::warn!(tenant_id = %tenant, %error, "an email was given up");
            state.store.finish_job(claim, &format!("failed: {error}"), chrono::Utc::now()).await?;
        }
        Err(error) => {
            // 30 s, 1 min, 2 min, 4 min between tries.
            let wait = chrono::Duration::seconds(30 << claim.attempts.saturating_sub(1).min(6));
            state.store.retry_job(claim, chrono::Utc::now() + wait, &error.to_string()).await?;
        }
    }
    Ok(())
}

async fn remind(state: &AppState, claim: &Claim, reminder: &Reminder) -> anyhow::Result<()> {
    if !open(state, claim.tenant, &reminder.turn).await? {
        state.store.finish_job(claim, "skipped: the turn closed", chrono::Utc::now()).await?;
        return Ok(());
    }
    // Once: the job is ended first, so a crash after it loses the reminder
    // rather than giving it twice.
    if !state.store.finish_job(claim, "sent", chrono::Utc::now()).await? {
        return Ok(());
    }
    let notifications = state.store.add_notices(claim.tenant, &[reminder_notice(reminder)], &fan_out(state)).await?;
    push(state, &notifications).await;
    state.notify_wake.jobs.notify_one();
    Ok(())
}

async fn run_one(state: &AppState, claim: Claim) {
    let result = async {
        let Some(job) = state.store.get_job(claim.tenant, claim.id).await? else { return Ok(()) };
        if job.done_at.is_some() || job.attempts != claim.attempts {
            return Ok(());
        }
        match &job.job {
            JobKind::Mail(m) => mail(state, &claim, m).await,
            JobKind::Reminder(r) => remind(state, &claim, r).await,
        }
    }
    .await;
    if let Err(error) = result {
        state.metrics.errors.with_label_values(&["job"]).inc();
        if claim.attempts >= MAX_CLAIMS {
            tracing::error!(tenant_id = %claim.tenant, job_id = %claim.id, %error, "a job kept failing and was given up");
            let outcome = format!("failed: {error}");
            if let Err(error) = state.store.finish_job(&claim, &outcome, chrono::Utc::now()).await {
                tracing::warn!(job_id = %claim.id, %error, "a failed job could not be marked");
            }
        } else {
            tracing::warn!(tenant_id = %claim.tenant, job_id = %claim.id, %error, "a job failed; it is tried again when its lease ends");
        }
    }
}

/// How long a claimed job is held before another node may take it: longer
/// than an email may take (three tries, each within the mail timeout, and
/// the pauses between them).
pub fn lease_s(settings: &crate::configuration::Settings) -> u32 {
    (3 * settings.mail.timeout_s.clamp(1, 300) + 30) as u32
}

/// Runs due jobs until the shutdown begins.
pub async fn run(state: AppState, every: Duration) {
    let lease_s = lease_s(&state.settings);
    while !state.shutting_down.load(std::sync::atomic::Ordering::Relaxed) {
        let claims = match state.store.claim_jobs(chrono::Utc::now(), lease_s, CLAIM).await {
            Ok(claims) => claims,
            Err(error) => {
                tracing::warn!(%error, "the job runner could not claim its work");
                Vec::new()
            }
        };
        let busy = claims.len() as u32 == CLAIM;
        // A few at once: one slow mail server does not hold up the rest.
        futures::stream::iter(claims).for_each_concurrent(CLAIM as usize, |claim| run_one(&state, claim)).await;
        if !busy {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = state.notify_wake.jobs.notified() => {}
            }
        }
    }
}

/// Purges old notifications, finished jobs and old delivery logs, every `every`.
pub async fn retain(state: AppState, every: Duration) {
    loop {
        let now = chrono::Utc::now();
        let days = |d: u32| now - chrono::Duration::days(i64::from(d.max(1)));
        let purged = state
            .store
            .purge_notify(
                days(7),
                days(state.settings.notifications.retention_days),
                days(state.settings.webhooks.log_retention_days),
            )
            .await;
        if let Err(error) = purged {
            tracing::warn!(%error, "old notifications and delivery logs could not be purged");
        }
        tokio::time::sleep(every).await;
    }
}
