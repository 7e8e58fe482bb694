//! Retries of a model request before its stream starts: 429, 5xx and
//! connection errors, with exponential backoff and full jitter, honouring
//! `Retry-After`. (An error after the stream started is not retried here: the
//! panel re-runs the turn.)

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use async_openai::middleware::retry::should_retry;

#[derive(Clone, Debug)]
pub struct JitteredRetry {
    max_retries: usize,
    attempts: usize,
    base: Duration,
    cap: Duration,
}

impl JitteredRetry {
    pub fn new(max_retries: usize, base: Duration, cap: Duration) -> Self {
        Self { max_retries, attempts: 0, base, cap }
    }
}

/// A uniform fraction in [0, 1) from the OS random source (0.5 if it fails).
fn unit() -> f64 {
    let mut bytes = [0u8; 4];
    match getrandom::fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX),
        Err(_) => 0.5,
    }
}

/// The wait before retry `attempt` (0-based): `Retry-After` when given (plus
/// up to 10% so a crowd does not return at once), else full jitter over
/// `base * 2^attempt`, capped.
pub fn delay(attempt: usize, retry_after: Option<Duration>, base: Duration, cap: Duration, unit: f64) -> Duration {
    match retry_after {
        Some(after) => after.mul_f64(1.0 + 0.1 * unit),
        None => {
            let ceiling = base.saturating_mul(2u32.saturating_pow(attempt.min(20) as u32)).min(cap);
            ceiling.mul_f64(unit.clamp(0.0, 1.0)).max(Duration::from_millis(10))
        }
    }
}

impl tower::retry::Policy<HttpRequestFactory, reqwest::Response, OpenAIError> for JitteredRetry {
    type Future = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

    fn retry(
        &mut self,
        _req: &mut HttpRequestFactory,
        result: &mut Result<reqwest::Response, OpenAIError>,
    ) -> Option<Self::Future> {
        if self.attempts >= self.max_retries || !should_retry(result) {
            return None;
        }
        let retry_after = result
            .as_ref()
            .ok()
            .and_then(|r| r.headers().get(reqwest::header::RETRY_AFTER))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let wait = delay(self.attempts, retry_after, self.base, self.cap, unit());
        tracing::debug!(attempt = self.attempts + 1, wait_ms = wait.as_millis() as u64, "retrying model request");
        self.attempts += 1;
        Some(Box::pin(tokio::time::sleep(wait)))
    }

    fn clone_request(&mut self, req: &HttpRequestFactory) -> Option<HttpRequestFactory> {
        Some(req.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_with_jitter_and_honours_retry_after() {
        let (base, cap) = (Duration::from_millis(200), Duration::from_secs(5));
        assert_eq!(delay(0, None, base, cap, 1.0), Duration::from_millis(200));
        assert_eq!(delay(3, None, base, cap, 1.0), Duration::from_millis(1600));
        assert_eq!(delay(10, None, base, cap, 1.0), cap);
        assert_eq!(delay(3, None, base, cap, 0.5), Duration::from_millis(800));
        assert_eq!(delay(0, None, base, cap, 0.0), Duration::from_millis(10), "never zero");
        assert_eq!(delay(0, Some(Duration::from_secs(2)), base, cap, 0.0), Duration::from_secs(2));
        assert!(delay(0, Some(Duration::from_secs(2)), base, cap, 1.0) <= Duration::from_millis(2200));
    }
}
