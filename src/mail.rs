//! Outgoing email over SMTP (`mail.smtp_url`): invitations and password
//! resets. Without a configured server nothing is sent and the flows say so
//! (an admin is shown the link instead). A message is tried a few times
//! with a pause between; one that cannot be sent is logged and counted
//! (`askpanel_errors_total{kind="mail"}`).

use std::sync::Arc;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use thiserror::Error;

use crate::configuration::MailSettings;
use crate::metrics::Metrics;

/// Attempts of one message before it is given up.
const ATTEMPTS: u32 = 3;

#[derive(Debug, Error)]
pub enum MailError {
    #[error("no mail server is configured")]
    Disabled,
    #[error("not an email address: {0}")]
    Address(String),
    #[error("the message could not be built: {0}")]
    Build(String),
    #[error("the mail server refused or could not be reached: {0}")]
    Send(String),
}

/// One plain-text message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
}

pub struct Mailer {
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
    metrics: Arc<Metrics>,
}

impl Mailer {
    pub fn new(settings: &MailSettings, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        let from: Mailbox =
            settings.from.parse().map_err(|e| anyhow::anyhow!("settings: mail.from is not an address: {e}"))?;
        let transport = if settings.smtp_url.is_empty() {
            None
        } else {
            let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(&settings.smtp_url)
                .map_err(|e| anyhow::anyhow!("settings: mail.smtp_url is not usable: {e}"))?;
            Some(builder.timeout(Some(Duration::from_secs(settings.timeout_s.clamp(1, 300)))).build())
        };
        Ok(Self { transport, from, metrics })
    }

    /// Whether messages are sent at all.
    pub fn enabled(&self) -> bool {
        self.transport.is_some()
    }

    /// Sends a message, trying [`ATTEMPTS`] times.
    pub async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let transport = self.transport.as_ref().ok_or(MailError::Disabled)?;
        let to: Mailbox = mail.to.parse().map_err(|_| MailError::Address(mail.to.clone()))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(mail.text.clone())
            .map_err(|e| MailError::Build(e.to_string()))?;
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
            }
            match transport.send(message.clone()).await {
                Ok(_) => return Ok(()),
                Err(error) => last = error.to_string(),
            }
        }
        self.metrics.errors.with_label_values(&["mail"]).inc();
        Err(MailError::Send(last))
    }

    /// Sends a message in the background (the caller does not wait, and a
    /// failure is logged).
    pub fn send_later(self: &Arc<Self>, mail: Mail) {
        if !self.enabled() {
            return;
        }
        let mailer = self.clone();
        tokio::spawn(async move {
            if let Err(error) = mailer.send(&mail).await {
                tracing::warn!(%error, subject = %mail.subject, "an email could not be sent");
            }
        });
    }
}
