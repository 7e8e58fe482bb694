//! [`super::NotifyStore`] written once for both backends (the work that
//! crosses tenants is the backend's own: `$cross` names its module).

/// Writes [`super::NotifyStore`] for a backend: `$db` is its sqlx database,
/// `$read` and `$write` methods giving a transaction for a tenant, `$cross`
/// a module with `unannounced_panels`, `claim_jobs`, `claim_deliveries` and
/// `purge_notify` taking `&Self`.
macro_rules! notify_store {
    ($store:ty, $db:ty, $read:ident, $write:ident, $cross:path) => {
        impl $store {
            /// Who a notice goes to, with their preferences (active accounts only).
            async fn notify_recipients(
                tx: &mut sqlx::Transaction<'static, $db>,
                tenant: askpanel_actors::domain::TenantId,
                notice: &$crate::notify::Notice,
            ) -> $crate::store::StoreResult<Vec<(askpanel_actors::domain::UserId, $crate::notify::Preferences)>> {
                use $crate::notify::Recipients;
                let ids: Vec<uuid::Uuid> = match (&notice.to, notice.panel) {
                    (Recipients::User(user), _) => {
                        sqlx::query_scalar("SELECT id FROM users WHERE tenant_id = $1 AND id = $2 AND status = 'active'")
                            .bind(tenant.0)
                            .bind(user.0)
                            .fetch_all(&mut **tx)
                            .await?
                    }
                    (Recipients::Followers, Some(panel)) => {
                        sqlx::query_scalar(
                            "SELECT f.user_id FROM panel_followers f JOIN users u ON u.id = f.user_id \
                             WHERE f.tenant_id = $1 AND f.panel_id = $2 AND u.tenant_id = $1 AND u.status = 'active' \
                             ORDER BY f.user_id LIMIT 500",
                        )
                        .bind(tenant.0)
                        .bind(panel.0)
                        .fetch_all(&mut **tx)
                        .await?
                    }
                    (Recipients::Followers, None) => Vec::new(),
                    (Recipients::Admins, _) => {
                        sqlx::query_scalar(
                            "SELECT id FROM users WHERE tenant_id = $1 AND role = 'admin' AND status = 'active' \
                             ORDER BY id LIMIT 500",
                        )
                        .bind(tenant.0)
                        .fetch_all(&mut **tx)
                        .await?
                    }
                };
                let mut out = Vec::with_capacity(ids.len());
                for id in ids {
                    let stored: Option<String> = sqlx::query_scalar(
                        "SELECT prefs FROM notification_preferences WHERE tenant_id = $1 AND user_id = $2",
                    )
                    .bind(tenant.0)
                    .bind(id)
                    .fetch_optional(&mut **tx)
                    .await?;
                    let prefs = stored.map(|s| $crate::notify::Preferences::parse_stored(&s)).unwrap_or_default();
                    out.push((askpanel_actors::domain::UserId(id), prefs));
                }
                Ok(out)
            }

            async fn notify_insert_job(
                tx: &mut sqlx::Transaction<'static, $db>,
                tenant: askpanel_actors::domain::TenantId,
                job: &$crate::store::notify::JobKind,
                due_at: chrono::DateTime<chrono::Utc>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO jobs (id, tenant_id, kind, payload, due_at, attempts, created_at) \
                     VALUES ($1, $2, $3, $4, $5, 0, $6)",
                )
                .bind(uuid::Uuid::now_v7())
                .bind(tenant.0)
                .bind(job.name())
                .bind(job.payload())
                .bind(due_at)
                .bind(now)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            /// Records notices: notifications for those who want them in the
            /// page, email jobs for those who want them by email.
            async fn notify_insert_notices(
                tx: &mut sqlx::Transaction<'static, $db>,
                tenant: askpanel_actors::domain::TenantId,
                notices: &[$crate::notify::Notice],
                fan: &$crate::notify::FanOut,
            ) -> $crate::store::StoreResult<Vec<$crate::notify::Notification>> {
                let mut stored = Vec::new();
                for notice in notices {
                    let recipients = Self::notify_recipients(tx, tenant, notice).await?;
                    let (notifications, mails) = $crate::notify::fan_out(tenant, notice, &recipients, fan);
                    for n in notifications {
                        sqlx::query(
                            "INSERT INTO notifications (id, tenant_id, user_id, kind, panel_id, title, body, data, created_at, read_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL)",
                        )
                        .bind(n.id)
                        .bind(tenant.0)
                        .bind(n.user_id.0)
                        .bind(n.kind.as_str())
                        .bind(n.panel_id.map(|p| p.0))
                        .bind(&n.title)
                        .bind(&n.body)
                        .bind(n.data.to_string())
                        .bind(n.created_at)
                        .execute(&mut **tx)
                        .await?;
                        stored.push(n);
                    }
                    for mail in mails {
                        let due = fan.mail_due(&mail);
                        let job = $crate::store::notify::JobKind::Mail(mail);
                        Self::notify_insert_job(tx, tenant, &job, due, fan.now).await?;
                    }
                }
                Ok(stored)
            }

            async fn notify_insert_delivery(
                tx: &mut sqlx::Transaction<'static, $db>,
                tenant: askpanel_actors::domain::TenantId,
                endpoint: uuid::Uuid,
                event: &$crate::webhooks::WebhookEvent,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<uuid::Uuid> {
                let id = uuid::Uuid::now_v7();
                sqlx::query(
                    "INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_type, panel_id, payload, created_at, \
                     status, attempts, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $7)",
                )
                .bind(id)
                .bind(tenant.0)
                .bind(endpoint)
                .bind(event.event_type)
                .bind(event.panel.map(|p| p.0))
                .bind($crate::webhooks::payload(tenant, event))
                .bind(now)
                .execute(&mut **tx)
                .await?;
                Ok(id)
            }

            async fn notify_endpoint(
                tx: &mut sqlx::Transaction<'static, $db>,
                tenant: askpanel_actors::domain::TenantId,
                id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Option<$crate::store::notify::EndpointRecord>> {
                let sql = format!(
                    "SELECT {} FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2",
                    $crate::store::notify::ENDPOINT_COLUMNS
                );
                let row = sqlx::query_as::<_, $crate::store::notify::EndpointRow>(sqlx::AssertSqlSafe(sql))
                    .bind(tenant.0)
                    .bind(id)
                    .fetch_optional(&mut **tx)
                    .await?;
                row.map($crate::store::notify::EndpointRecord::try_from).transpose()
            }

            async fn notify_delivery(
                tx: &mut sqlx::Transaction<'static, $db>,
                tenant: askpanel_actors::domain::TenantId,
                id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Option<$crate::store::notify::DeliveryRecord>> {
                let sql = format!(
                    "SELECT {} FROM webhook_deliveries WHERE tenant_id = $1 AND id = $2",
                    $crate::store::notify::DELIVERY_COLUMNS
                );
                let row = sqlx::query_as::<_, $crate::store::notify::DeliveryRow>(sqlx::AssertSqlSafe(sql))
                    .bind(tenant.0)
                    .bind(id)
                    .fetch_optional(&mut **tx)
                    .await?;
                row.map($crate::store::notify::DeliveryRecord::try_from).transpose()
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::notify::NotifyStore for $store {
            async fn unannounced_panels(
                &self,
                limit: u32,
            ) -> $crate::store::StoreResult<
                Vec<(askpanel_actors::domain::TenantId, askpanel_actors::domain::PanelId, u64)>,
            > {
                {
                    use $cross as cross;
                    cross::unannounced_panels(self, limit).await
                }
            }

            async fn announce(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                panel: askpanel_actors::domain::PanelId,
                step: &$crate::store::notify::Announcement,
                fan: &$crate::notify::FanOut,
            ) -> $crate::store::StoreResult<Option<Vec<$crate::notify::Notification>>> {
                let mut tx = self.$write(tenant).await?;
                for (user, reason) in &step.follows {
                    sqlx::query(
                        "INSERT INTO panel_followers (tenant_id, panel_id, user_id, reason) \
                         SELECT $1, $2, id, $4 FROM users WHERE tenant_id = $1 AND id = $3 \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(tenant.0)
                    .bind(panel.0)
                    .bind(user)
                    .bind(*reason)
                    .execute(&mut *tx)
                    .await?;
                }
                let notifications = Self::notify_insert_notices(&mut tx, tenant, &step.notices, fan).await?;
                for reminder in &step.reminders {
                    let job = $crate::store::notify::JobKind::Reminder(reminder.clone());
                    Self::notify_insert_job(&mut tx, tenant, &job, reminder.due_at, fan.now).await?;
                }
                if !step.webhooks.is_empty() {
                    let sql = format!(
                        "SELECT {} FROM webhook_endpoints WHERE tenant_id = $1 AND status = 'enabled' ORDER BY id",
                        $crate::store::notify::ENDPOINT_COLUMNS
                    );
                    let rows = sqlx::query_as::<_, $crate::store::notify::EndpointRow>(sqlx::AssertSqlSafe(sql))
                        .bind(tenant.0)
                        .fetch_all(&mut *tx)
                        .await?;
                    let endpoints: Vec<$crate::store::notify::EndpointRecord> =
                        $crate::store::notify::collect(rows)?;
                    for event in &step.webhooks {
                        for endpoint in endpoints.iter().filter(|e| $crate::webhooks::wants(&e.events, event.event_type)) {
                            Self::notify_insert_delivery(&mut tx, tenant, endpoint.id, event, fan.now).await?;
                        }
                    }
                }
                // The claim last (as the indexer's): the panel's row is held
                // only for this update and the commit.
                let moved = sqlx::query(
                    "UPDATE panels SET announced_seq = $1, \
                     announce_done = (status IN ('completed', 'failed', 'cancelled') AND head_seq = $1) \
                     WHERE id = $2 AND tenant_id = $3 AND announced_seq = $4 AND head_seq >= $1",
                )
                .bind(step.to_seq as i64)
                .bind(panel.0)
                .bind(tenant.0)
                .bind(step.from_seq as i64)
                .execute(&mut *tx)
                .await?;
                if moved.rows_affected() != 1 {
                    tx.rollback().await?;
                    return Ok(None);
                }
                tx.commit().await?;
                Ok(Some(notifications))
            }

            async fn add_notices(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                notices: &[$crate::notify::Notice],
                fan: &$crate::notify::FanOut,
            ) -> $crate::store::StoreResult<Vec<$crate::notify::Notification>> {
                let mut tx = self.$write(tenant).await?;
                let stored = Self::notify_insert_notices(&mut tx, tenant, notices, fan).await?;
                tx.commit().await?;
                Ok(stored)
            }

            async fn list_notifications(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                user: askpanel_actors::domain::UserId,
                unread_only: bool,
                before: Option<uuid::Uuid>,
                limit: u32,
            ) -> $crate::store::StoreResult<Vec<$crate::notify::Notification>> {
                let sql = format!(
                    "SELECT {} FROM notifications WHERE tenant_id = $1 AND user_id = $2 \
                     AND ($3 = 0 OR read_at IS NULL) AND ($4 IS NULL OR id < $4) ORDER BY id DESC LIMIT $5",
                    $crate::store::notify::NOTIFICATION_COLUMNS
                );
                let mut tx = self.$read(tenant).await?;
                let rows = sqlx::query_as::<_, $crate::store::notify::NotificationRow>(sqlx::AssertSqlSafe(sql))
                    .bind(tenant.0)
                    .bind(user.0)
                    .bind(i32::from(unread_only))
                    .bind(before)
                    .bind(i64::from(limit))
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                $crate::store::notify::collect(rows)
            }

            async fn count_unread(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                user: askpanel_actors::domain::UserId,
            ) -> $crate::store::StoreResult<u64> {
                let mut tx = self.$read(tenant).await?;
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM notifications WHERE tenant_id = $1 AND user_id = $2 AND read_at IS NULL",
                )
                .bind(tenant.0)
                .bind(user.0)
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(n.max(0) as u64)
            }

            async fn mark_read(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                user: askpanel_actors::domain::UserId,
                id: Option<uuid::Uuid>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<u64> {
                let mut tx = self.$write(tenant).await?;
                let done = sqlx::query(
                    "UPDATE notifications SET read_at = $1 WHERE tenant_id = $2 AND user_id = $3 \
                     AND read_at IS NULL AND ($4 IS NULL OR id = $4)",
                )
                .bind(now)
                .bind(tenant.0)
                .bind(user.0)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(done.rows_affected())
            }

            async fn get_notification(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                user: askpanel_actors::domain::UserId,
                id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Option<$crate::notify::Notification>> {
                let sql = format!(
                    "SELECT {} FROM notifications WHERE tenant_id = $1 AND user_id = $2 AND id = $3",
                    $crate::store::notify::NOTIFICATION_COLUMNS
                );
                let mut tx = self.$read(tenant).await?;
                let row = sqlx::query_as::<_, $crate::store::notify::NotificationRow>(sqlx::AssertSqlSafe(sql))
                    .bind(tenant.0)
                    .bind(user.0)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                tx.commit().await?;
                row.map($crate::notify::Notification::try_from).transpose()
            }

            async fn get_preferences(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                user: askpanel_actors::domain::UserId,
            ) -> $crate::store::StoreResult<$crate::notify::Preferences> {
                let mut tx = self.$read(tenant).await?;
                let stored: Option<String> = sqlx::query_scalar(
                    "SELECT prefs FROM notification_preferences WHERE tenant_id = $1 AND user_id = $2",
                )
                .bind(tenant.0)
                .bind(user.0)
                .fetch_optional(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(stored.map(|s| $crate::notify::Preferences::parse_stored(&s)).unwrap_or_default())
            }

            async fn set_preferences(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                user: askpanel_actors::domain::UserId,
                prefs: &$crate::notify::Preferences,
            ) -> $crate::store::StoreResult<()> {
                let mut tx = self.$write(tenant).await?;
                sqlx::query(
                    "INSERT INTO notification_preferences (tenant_id, user_id, prefs, updated_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (user_id) DO UPDATE SET prefs = excluded.prefs, updated_at = excluded.updated_at",
                )
                .bind(tenant.0)
                .bind(user.0)
                .bind(serde_json::to_string(prefs).expect("preferences serialise"))
                .bind(chrono::Utc::now())
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn claim_jobs(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                lease_s: u32,
                limit: u32,
            ) -> $crate::store::StoreResult<Vec<$crate::store::notify::Claim>> {
                {
                    use $cross as cross;
                    cross::claim_jobs(self, now, lease_s, limit).await
                }
            }

            async fn get_job(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Option<$crate::store::notify::JobRecord>> {
                let sql =
                    format!("SELECT {} FROM jobs WHERE tenant_id = $1 AND id = $2", $crate::store::notify::JOB_COLUMNS);
                let mut tx = self.$read(tenant).await?;
                let row = sqlx::query_as::<_, $crate::store::notify::JobRow>(sqlx::AssertSqlSafe(sql))
                    .bind(tenant.0)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                tx.commit().await?;
                row.map($crate::store::notify::JobRecord::try_from).transpose()
            }

            async fn finish_job(
                &self,
                claim: &$crate::store::notify::Claim,
                outcome: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<bool> {
                let mut tx = self.$write(claim.tenant).await?;
                let done = sqlx::query(
                    "UPDATE jobs SET done_at = $1, outcome = $2, lease_until = NULL \
                     WHERE tenant_id = $3 AND id = $4 AND attempts = $5 AND done_at IS NULL",
                )
                .bind(now)
                .bind(outcome)
                .bind(claim.tenant.0)
                .bind(claim.id)
                .bind(claim.attempts as i32)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }

            async fn retry_job(
                &self,
                claim: &$crate::store::notify::Claim,
                due_at: chrono::DateTime<chrono::Utc>,
                error: &str,
            ) -> $crate::store::StoreResult<bool> {
                let mut tx = self.$write(claim.tenant).await?;
                let done = sqlx::query(
                    "UPDATE jobs SET due_at = $1, outcome = $2, lease_until = NULL \
                     WHERE tenant_id = $3 AND id = $4 AND attempts = $5 AND done_at IS NULL",
                )
                .bind(due_at)
                .bind(error)
                .bind(claim.tenant.0)
                .bind(claim.id)
                .bind(claim.attempts as i32)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }

            async fn create_endpoint(
                &self,
                endpoint: &$crate::store::notify::EndpointRecord,
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
                .bind($crate::store::notify::MAX_ENDPOINTS_PER_TENANT as i64)
                .execute(&mut *tx)
                .await?;
                if inserted.rows_affected() != 1 {
                    return Err($crate::store::StoreError::LimitExceeded(format!(
                        "a tenant has at most {} webhook endpoints",
                        $crate::store::notify::MAX_ENDPOINTS_PER_TENANT
                    )));
                }
                tx.commit().await?;
                Ok(())
            }

            async fn list_endpoints(
                &self,
                tenant: askpanel_actors::domain::TenantId,
            ) -> $crate::store::StoreResult<Vec<$crate::store::notify::EndpointRecord>> {
                let sql = format!(
                    "SELECT {} FROM webhook_endpoints WHERE tenant_id = $1 ORDER BY created_at, id",
                    $crate::store::notify::ENDPOINT_COLUMNS
                );
                let mut tx = self.$read(tenant).await?;
                let rows = sqlx::query_as::<_, $crate::store::notify::EndpointRow>(sqlx::AssertSqlSafe(sql))
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
            ) -> $crate::store::StoreResult<Option<$crate::store::notify::EndpointRecord>> {
                let mut tx = self.$read(tenant).await?;
                let found = Self::notify_endpoint(&mut tx, tenant, id).await?;
                tx.commit().await?;
                Ok(found)
            }

            async fn update_endpoint(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                id: uuid::Uuid,
                patch: &$crate::store::notify::EndpointPatch,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<Option<$crate::store::notify::EndpointRecord>> {
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
                event: &$crate::webhooks::WebhookEvent,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<$crate::store::notify::DeliveryRecord> {
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
            ) -> $crate::store::StoreResult<Option<$crate::store::notify::DeliveryRecord>> {
                let mut tx = self.$read(tenant).await?;
                let found = Self::notify_delivery(&mut tx, tenant, id).await?;
                tx.commit().await?;
                Ok(found)
            }

            async fn record_attempt(
                &self,
                claim: &$crate::store::notify::Claim,
                attempt: &$crate::store::notify::Attempt,
                rule: &$crate::webhooks::DisableRule,
                fan: &$crate::notify::FanOut,
            ) -> $crate::store::StoreResult<Option<$crate::store::notify::Recorded>> {
                let tenant = claim.tenant;
                let mut tx = self.$write(tenant).await?;
                // Which endpoint (read without a lock; the claim is checked in the write below).
                let Some(delivery) = Self::notify_delivery(&mut tx, tenant, claim.id).await? else {
                    return Ok(None);
                };
                if delivery.attempts != claim.attempts || delivery.status != $crate::store::notify::DeliveryStatus::Pending {
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
                let mut recorded = $crate::store::notify::Recorded::default();
                if !attempt.ok
                    && let Some(endpoint) = Self::notify_endpoint(&mut tx, tenant, delivery.endpoint_id).await?
                    && endpoint.status == $crate::store::notify::EndpointStatus::Enabled
                    && $crate::webhooks::should_disable(rule, endpoint.consecutive_failures, endpoint.failing_since, attempt.at)
                {
                    let reason = $crate::webhooks::disabled_reason(&endpoint, attempt);
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
                    let notice = $crate::webhooks::disabled_notice(&endpoint, &reason);
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
                status: Option<$crate::store::notify::DeliveryStatus>,
                before: Option<uuid::Uuid>,
                limit: u32,
            ) -> $crate::store::StoreResult<Vec<$crate::store::notify::DeliveryRecord>> {
                let sql = format!(
                    "SELECT {} FROM webhook_deliveries WHERE tenant_id = $1 AND endpoint_id = $2 \
                     AND ($3 IS NULL OR status = $3) AND ($4 IS NULL OR id < $4) ORDER BY id DESC LIMIT $5",
                    $crate::store::notify::DELIVERY_COLUMNS
                );
                let mut tx = self.$read(tenant).await?;
                let rows = sqlx::query_as::<_, $crate::store::notify::DeliveryRow>(sqlx::AssertSqlSafe(sql))
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
            ) -> $crate::store::StoreResult<Vec<$crate::store::notify::AttemptRecord>> {
                let mut tx = self.$read(tenant).await?;
                // The latest 200, oldest first.
                let rows = sqlx::query_as::<_, $crate::store::notify::AttemptRow>(
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
            ) -> $crate::store::StoreResult<Option<$crate::store::notify::DeliveryRecord>> {
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

            async fn purge_notify(
                &self,
                jobs_before: chrono::DateTime<chrono::Utc>,
                notifications_before: chrono::DateTime<chrono::Utc>,
                deliveries_before: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<u64> {
                {
                    use $cross as cross;
                    cross::purge_notify(self, jobs_before, notifications_before, deliveries_before).await
                }
            }
        }
    };
}

pub(crate) use notify_store;
