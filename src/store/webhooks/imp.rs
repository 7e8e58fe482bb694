//! [`super::WebhookStore`] written once for both backends (claiming due
//! deliveries across tenants is the backend's own: `$cross` names its
//! module). It shares the store's notification helpers (written by
//! [`crate::store::notify::notify_store!`] in the same module).

/// Writes [`super::WebhookStore`] for a backend: `$read` and `$write` are
/// methods giving a transaction for a tenant, `$cross` a module with
/// `claim_deliveries` taking `&Self`.
macro_rules! webhook_store {
    ($store:ty, $read:ident, $write:ident, $cross:path) => {
        #[async_trait::async_trait]
        impl $crate::store::webhooks::WebhookStore for $store {
            async fn create_endpoint(
                &self,
                endpoint: &$crate::store::webhooks::EndpointRecord,
            ) -> $crate::store::StoreResult<()> {
                let mut tx = self.$write(endpoint.tenant_id).await?;
                // The count and the insert in one statement.
                let inserted = sqlx::query(
                    "INSERT INTO webhook_endpoints (id, tenant_id, url, description, events, secret, previous_secret, \
                     previous_until, status, disabled_reason, failing_since, consecutive_failures, created_at, updated_at) \
                     SELECT $1, $2, $3, $4, $5, $6, NULL, NULL, $7, NULL, NULL, 0, $8, $8 \
                     WHERE (SELECT COUNT(*) FROM webhook_endpoints WHERE tenant_id = $2) < $9",
                )
                .bind(endpoint.id)
                .bind(endpoint.tenant_id.0)
                .bind(&endpoint.url)
                .bind(&endpoint.description)
                .bind(serde_json::to_string(&endpoint.events).expect("events serialise"))
                .bind(&endpoint.secret)
                .bind(endpoint.status.as_str())
                .bind(endpoint.created_at)
                .bind($crate::store::webhooks::MAX_ENDPOINTS_PER_TENANT as i64)
                .execute(&mut *tx)
                .await?;
                if inserted.rows_affected() != 1 {
                    return Err($crate::store::StoreError::LimitExceeded(format!(
                        "a tenant has at most {} webhook endpoints",
                        $crate::store::webhooks::MAX_ENDPOINTS_PER_TENANT
                    )));
                }
                tx.commit().await?;
                Ok(())
            }

            async fn list_endpoints(
                &self,
                tenant: askpanel_actors::domain::TenantId,
            ) -> $crate::store::StoreResult<Vec<$crate::store::webhooks::EndpointRecord>> {
                let sql = format!(
                    "SELECT {} FROM webhook_endpoints WHERE tenant_id = $1 ORDER BY created_at, id",
                    $crate::store::webhooks::ENDPOINT_COLUMNS
                );
                let mut tx = self.$read(tenant).await?;
                let rows = sqlx::query_as::<_, $crate::store::webhooks::EndpointRow>(sqlx::AssertSqlSafe(sql))
                    .bind(tenant.0)
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                $crate::store::notify::collect(rows)
            }

            async fn get_endpoint(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Option<$crate::store::webhooks::EndpointRecord>> {
                let mut tx = self.$read(tenant).await?;
                let found = Self::notify_endpoint(&mut tx, tenant, id).await?;
                tx.commit().await?;
                Ok(found)
            }

            async fn update_endpoint(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                id: uuid::Uuid,
                patch: &$crate::store::webhooks::EndpointPatch,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<Option<$crate::store::webhooks::EndpointRecord>> {
                let mut tx = self.$write(tenant).await?;
                // Each column changes in place, and only when the patch names
                // it: a change made meanwhile (the sender disabling the
                // endpoint, a rotation) is never written back over.
                let events = patch.events.as_ref().map(|e| serde_json::to_string(e).expect("events serialise"));
                let changed = sqlx::query(
                    "UPDATE webhook_endpoints SET url = COALESCE($1, url), description = COALESCE($2, description), \
                     events = COALESCE($3, events), \
                     previous_secret = CASE WHEN $4 IS NULL THEN previous_secret ELSE secret END, \
                     previous_until = CASE WHEN $4 IS NULL THEN previous_until ELSE $5 END, \
                     secret = COALESCE($4, secret), \
                     status = CASE WHEN $6 = 1 THEN 'enabled' WHEN $6 = 0 THEN 'disabled' ELSE status END, \
                     disabled_reason = CASE WHEN $6 = 1 THEN NULL WHEN $6 = 0 THEN 'disabled by an admin' ELSE disabled_reason END, \
                     failing_since = CASE WHEN $6 = 1 THEN NULL ELSE failing_since END, \
                     consecutive_failures = CASE WHEN $6 = 1 THEN 0 ELSE consecutive_failures END, \
                     updated_at = $7 WHERE tenant_id = $8 AND id = $9",
                )
                .bind(patch.url.as_deref())
                .bind(patch.description.as_deref())
                .bind(events)
                .bind(patch.secret.as_deref())
                .bind(now + chrono::Duration::hours(24))
                .bind(patch.enabled.map(i32::from))
                .bind(now)
                .bind(tenant.0)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                if changed.rows_affected() != 1 {
                    return Ok(None);
                }
                if patch.enabled == Some(false) {
                    sqlx::query(
                        "UPDATE webhook_deliveries SET status = 'failed', last_error = 'the endpoint was disabled', \
                         finished_at = $1, lease_until = NULL WHERE tenant_id = $2 AND endpoint_id = $3 AND status = 'pending'",
                    )
                    .bind(now)
                    .bind(tenant.0)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
                let updated = Self::notify_endpoint(&mut tx, tenant, id).await?;
                tx.commit().await?;
                Ok(updated)
            }

            async fn delete_endpoint(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                id: uuid::Uuid,
            ) -> $crate::store::StoreResult<bool> {
                let mut tx = self.$write(tenant).await?;
                // The endpoint's row first: every writer locks it before its deliveries.
                sqlx::query("UPDATE webhook_endpoints SET updated_at = updated_at WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.0)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "DELETE FROM webhook_attempts WHERE tenant_id = $1 AND delivery_id IN \
                     (SELECT id FROM webhook_deliveries WHERE tenant_id = $1 AND endpoint_id = $2)",
                )
                .bind(tenant.0)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM webhook_deliveries WHERE tenant_id = $1 AND endpoint_id = $2")
                    .bind(tenant.0)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let gone = sqlx::query("DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.0)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(gone.rows_affected() == 1)
            }

            async fn enqueue_delivery(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                endpoint: uuid::Uuid,
                event: &$crate::webhooks::rules::WebhookEvent,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<$crate::store::webhooks::DeliveryRecord> {
                let mut tx = self.$write(tenant).await?;
                let id = Self::notify_insert_delivery(&mut tx, tenant, endpoint, event, now).await?;
                let delivery = Self::notify_delivery(&mut tx, tenant, id).await?.ok_or($crate::store::StoreError::NotFound)?;
                tx.commit().await?;
                Ok(delivery)
            }

            async fn claim_deliveries(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                lease_s: u32,
                limit: u32,
            ) -> $crate::store::StoreResult<Vec<$crate::store::notify::Claim>> {
                {
                    use $cross as cross;
                    cross::claim_deliveries(self, now, lease_s, limit).await
                }
            }

            async fn get_delivery(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Option<$crate::store::webhooks::DeliveryRecord>> {
                let mut tx = self.$read(tenant).await?;
                let found = Self::notify_delivery(&mut tx, tenant, id).await?;
                tx.commit().await?;
                Ok(found)
            }

            async fn record_attempt(
                &self,
                claim: &$crate::store::notify::Claim,
                attempt: &$crate::store::webhooks::Attempt,
                rule: &$crate::webhooks::rules::DisableRule,
                fan: &$crate::notify::rules::FanOut,
            ) -> $crate::store::StoreResult<Option<$crate::store::webhooks::Recorded>> {
                let tenant = claim.tenant;
                let mut tx = self.$write(tenant).await?;
                // Which endpoint (read without a lock; the claim is checked in the write below).
                let Some(delivery) = Self::notify_delivery(&mut tx, tenant, claim.id).await? else {
                    return Ok(None);
                };
                if delivery.attempts != claim.attempts || delivery.status != $crate::store::webhooks::DeliveryStatus::Pending {
                    return Ok(None);
                }
                // The endpoint's row first: every writer takes it before its
                // deliveries (no deadlock with a disable, a patch or a delete).
                if attempt.ok {
                    sqlx::query(
                        "UPDATE webhook_endpoints SET consecutive_failures = 0, failing_since = NULL \
                         WHERE tenant_id = $1 AND id = $2",
                    )
                    .bind(tenant.0)
                    .bind(delivery.endpoint_id)
                    .execute(&mut *tx)
                    .await?;
                } else {
                    sqlx::query(
                        "UPDATE webhook_endpoints SET consecutive_failures = consecutive_failures + 1, \
                         failing_since = COALESCE(failing_since, $1) WHERE tenant_id = $2 AND id = $3",
                    )
                    .bind(attempt.at)
                    .bind(tenant.0)
                    .bind(delivery.endpoint_id)
                    .execute(&mut *tx)
                    .await?;
                }
                let (status, next, finished) = match (attempt.ok, attempt.retry_at) {
                    (true, _) => ("delivered", attempt.at, Some(attempt.at)),
                    (false, Some(retry_at)) => ("pending", retry_at, None),
                    (false, None) => ("failed", attempt.at, Some(attempt.at)),
                };
                // Only while this claim still holds the delivery.
                let moved = sqlx::query(
                    "UPDATE webhook_deliveries SET status = $1, next_attempt_at = $2, finished_at = $3, lease_until = NULL, \
                     last_status = $4, last_error = $5, last_duration_ms = $6 \
                     WHERE tenant_id = $7 AND id = $8 AND attempts = $9 AND status = 'pending'",
                )
                .bind(status)
                .bind(next)
                .bind(finished)
                .bind(attempt.status_code.map(i32::from))
                .bind(attempt.error.as_deref())
                .bind(attempt.duration_ms as i32)
                .bind(tenant.0)
                .bind(claim.id)
                .bind(claim.attempts as i32)
                .execute(&mut *tx)
                .await?;
                if moved.rows_affected() != 1 {
                    tx.rollback().await?;
                    return Ok(None);
                }
                sqlx::query(
                    "INSERT INTO webhook_attempts (id, tenant_id, delivery_id, at, status_code, duration_ms, error) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(uuid::Uuid::now_v7())
                .bind(tenant.0)
                .bind(claim.id)
                .bind(attempt.at)
                .bind(attempt.status_code.map(i32::from))
                .bind(attempt.duration_ms as i32)
                .bind(attempt.error.as_deref())
                .execute(&mut *tx)
                .await?;
                let mut recorded = $crate::store::webhooks::Recorded::default();
                if !attempt.ok
                    && let Some(endpoint) = Self::notify_endpoint(&mut tx, tenant, delivery.endpoint_id).await?
                    && endpoint.status == $crate::store::webhooks::EndpointStatus::Enabled
                    && $crate::webhooks::rules::should_disable(rule, endpoint.consecutive_failures, endpoint.failing_since, attempt.at)
                {
                    let reason = $crate::webhooks::rules::disabled_reason(
                        endpoint.consecutive_failures,
                        endpoint.failing_since,
                        attempt.status_code,
                        attempt.error.as_deref(),
                    );
                    sqlx::query(
                        "UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = $1, updated_at = $2 \
                         WHERE tenant_id = $3 AND id = $4",
                    )
                    .bind(&reason)
                    .bind(attempt.at)
                    .bind(tenant.0)
                    .bind(endpoint.id)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "UPDATE webhook_deliveries SET status = 'failed', last_error = 'the endpoint was disabled', \
                         finished_at = $1, lease_until = NULL WHERE tenant_id = $2 AND endpoint_id = $3 AND status = 'pending'",
                    )
                    .bind(attempt.at)
                    .bind(tenant.0)
                    .bind(endpoint.id)
                    .execute(&mut *tx)
                    .await?;
                    let notice = $crate::notify::rules::webhook_disabled_notice(
                        endpoint.id,
                        &$crate::webhooks::rules::display_url(&endpoint.url),
                        &reason,
                    );
                    recorded.notifications = Self::notify_insert_notices(&mut tx, tenant, &[notice], fan).await?;
                    recorded.disabled = true;
                }
                tx.commit().await?;
                Ok(Some(recorded))
            }

            async fn list_deliveries(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                endpoint: uuid::Uuid,
                status: Option<$crate::store::webhooks::DeliveryStatus>,
                before: Option<uuid::Uuid>,
                limit: u32,
            ) -> $crate::store::StoreResult<Vec<$crate::store::webhooks::DeliveryRecord>> {
                let sql = format!(
                    "SELECT {} FROM webhook_deliveries WHERE tenant_id = $1 AND endpoint_id = $2 \
                     AND ($3 IS NULL OR status = $3) AND ($4 IS NULL OR id < $4) ORDER BY id DESC LIMIT $5",
                    $crate::store::webhooks::DELIVERY_COLUMNS
                );
                let mut tx = self.$read(tenant).await?;
                let rows = sqlx::query_as::<_, $crate::store::webhooks::DeliveryRow>(sqlx::AssertSqlSafe(sql))
                    .bind(tenant.0)
                    .bind(endpoint)
                    .bind(status.map(|s| s.as_str()))
                    .bind(before)
                    .bind(i64::from(limit))
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                $crate::store::notify::collect(rows)
            }

            async fn delivery_attempts(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                delivery: uuid::Uuid,
            ) -> $crate::store::StoreResult<Vec<$crate::store::webhooks::AttemptRecord>> {
                let mut tx = self.$read(tenant).await?;
                // The latest 200, oldest first.
                let rows = sqlx::query_as::<_, $crate::store::webhooks::AttemptRow>(
                    "SELECT at, status_code, duration_ms, error FROM (SELECT at, status_code, duration_ms, error, id \
                     FROM webhook_attempts WHERE tenant_id = $1 AND delivery_id = $2 ORDER BY at DESC, id DESC LIMIT 200) \
                     AS latest ORDER BY at, id",
                )
                .bind(tenant.0)
                .bind(delivery)
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn redeliver(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                delivery: uuid::Uuid,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<Option<$crate::store::webhooks::DeliveryRecord>> {
                let mut tx = self.$write(tenant).await?;
                let moved = sqlx::query(
                    "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $1, first_attempt_at = NULL, \
                     retry_from = attempts, finished_at = NULL, lease_until = NULL \
                     WHERE tenant_id = $2 AND id = $3 AND status <> 'pending'",
                )
                .bind(now)
                .bind(tenant.0)
                .bind(delivery)
                .execute(&mut *tx)
                .await?;
                let found = if moved.rows_affected() == 1 {
                    Self::notify_delivery(&mut tx, tenant, delivery).await?
                } else {
                    None
                };
                tx.commit().await?;
                Ok(found)
            }

        }
    };
}

pub(crate) use webhook_store;
