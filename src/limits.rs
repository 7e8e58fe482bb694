//! Tenant limits: the tier's defaults with the tenant's overrides, the
//! policy the engine enforces from them, and the per-tenant request rate
//! limiter (a fixed one-minute window). Applying a changed tenant is
//! [`crate::tenants`]'s job.

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use askpanel_actors::domain::TenantId;
use askpanel_actors::supervisor::TenantPolicy;
use dashmap::DashMap;

use crate::configuration::{Limits, Settings};
use crate::store::{TenantRecord, TenantStatus};

/// A tenant's limits in force.
pub fn effective_limits(settings: &Settings, tenant: &TenantRecord) -> Limits {
    // Tiers are validated at start-up; starter is the floor if one went missing.
    let base =
        settings.tier_limits(tenant.tier.as_str()).or_else(|| settings.tier_limits("starter")).unwrap_or(Limits {
            max_concurrent_panels: 5,
            max_panels_per_month: 100,
            max_experts_per_panel: 6,
            requests_per_minute: 120,
            tokens_per_month: 1_000_000,
            max_document_mb: 10,
            max_storage_mb: 100,
            max_documents: 200,
            max_document_pages: 500,
            audit_retention_days: 90,
        });
    base.with(&tenant.limits)
}

/// What the engine enforces for a tenant.
pub fn policy(settings: &Settings, tenant: &TenantRecord) -> TenantPolicy {
    TenantPolicy {
        max_concurrent_panels: effective_limits(settings, tenant).max_concurrent_panels,
        suspended: tenant.status == TenantStatus::Suspended,
    }
}

/// Requests per tenant per minute, on this node.
#[derive(Default)]
pub struct RateLimiter {
    windows: DashMap<TenantId, (u64, u32)>,
}

impl RateLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts a request; `Err(seconds)` to wait when over the limit.
    pub fn check(&self, tenant: TenantId, per_minute: u32) -> Result<(), u64> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let minute = now / 60;
        let mut window = self.windows.entry(tenant).or_insert((minute, 0));
        if window.0 != minute {
            *window = (minute, 0);
        }
        if window.1 >= per_minute {
            return Err(60 - now % 60);
        }
        window.1 += 1;
        Ok(())
    }
}

/// Failed authentications per client address per minute, on this node. Past
/// the limit, requests from the address that need a key looked up are
/// refused (429 `rate_limited`) before the lookup: a flood of made-up keys
/// costs a database query only up to the limit. Addresses are bounded too.
#[derive(Default)]
pub struct FailureLimiter {
    windows: DashMap<IpAddr, (u64, u32)>,
}

/// The most client addresses the failure limiter tracks; past it, old
/// windows go, then all (the limit is a brake, not an account).
const FAILURE_ADDRESSES_MAX: usize = 100_000;

impl FailureLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    fn minute() -> (u64, u64) {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        (now / 60, now)
    }

    /// `Err(seconds)` to wait when `address` failed `per_minute` times this minute.
    pub fn check(&self, address: IpAddr, per_minute: u32) -> Result<(), u64> {
        let (minute, now) = Self::minute();
        match self.windows.get(&address) {
            Some(window) if window.0 == minute && window.1 >= per_minute => Err(60 - now % 60),
            _ => Ok(()),
        }
    }

    /// Counts a failed authentication from `address`.
    pub fn failed(&self, address: IpAddr) {
        let (minute, _) = Self::minute();
        if self.windows.len() >= FAILURE_ADDRESSES_MAX && !self.windows.contains_key(&address) {
            self.windows.retain(|_, window| window.0 == minute);
            if self.windows.len() >= FAILURE_ADDRESSES_MAX {
                self.windows.clear();
            }
        }
        let mut window = self.windows.entry(address).or_insert((minute, 0));
        if window.0 != minute {
            *window = (minute, 0);
        }
        window.1 = window.1.saturating_add(1);
    }

    /// Addresses tracked now.
    pub fn addresses(&self) -> usize {
        self.windows.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_refuses_past_the_limit_with_a_wait() {
        let limiter = RateLimiter::new();
        let tenant = TenantId::new();
        for _ in 0..3 {
            assert!(limiter.check(tenant, 3).is_ok());
        }
        let wait = limiter.check(tenant, 3).unwrap_err();
        assert!((1..=60).contains(&wait));
        assert!(limiter.check(TenantId::new(), 3).is_ok(), "tenants are counted apart");
    }

    #[test]
    fn failures_are_counted_per_address_and_refused_past_the_limit() {
        let limiter = FailureLimiter::new();
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for _ in 0..3 {
            assert!(limiter.check(a, 3).is_ok());
            limiter.failed(a);
        }
        let wait = limiter.check(a, 3).unwrap_err();
        assert!((1..=60).contains(&wait));
        assert!(limiter.check(b, 3).is_ok(), "addresses are counted apart");
        assert_eq!(limiter.addresses(), 1);
    }
}
