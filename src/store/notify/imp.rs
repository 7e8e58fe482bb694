//! [`super::NotifyStore`] written once for both backends (the work that
//! crosses tenants is the backend's own: `$cross` names its module).

/// Writes [`super::NotifyStore`] for a backend: `$db` is its sqlx database,
/// `$read` and `$write` methods giving a transaction for a tenant, `$cross`
/// a module with `unannounced_panels`, `claim_jobs`, `claim_deliveries` and
/// `purge_notify` taking `&Self`.
macro_rules! notify_store {
    ($store:ty, $db:ty, $read:ident, $write:ident, $cross:path) => {
        impl $store {
            /// Lets go of a claimed job, ended (`done_at`) or due again
            /// (`due_at`), only while the claim still holds it.
            async fn notify_release_job(
                mut tx: sqlx::Transaction<'static, $db>,
                claim: &$crate::store::notify::Claim,
                outcome: &str,
                due_at: Option<chrono::DateTime<chrono::Utc>>,
                done_at: Option<chrono::DateTime<chrono::Utc>>,
            ) -> $crate::store::StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE jobs SET due_at = COALESCE($1, due_at), done_at = $2, outcome = $3, lease_until = NULL \
                     WHERE tenant_id = $4 AND id = $5 AND attempts = $6 AND done_at IS NULL",
                )
                .bind(due_at)
                .bind(done_at)
                .bind(outcome)
                .bind(claim.tenant.0)
                .bind(claim.id)
                .bind(claim.attempts as i32)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }

            /// Who a notice goes to, with their preferences (active accounts only).
            async fn notify_recipients(
                tx: &mut sqlx::Transaction<'static, $db>,
                tenant: askpanel_actors::domain::TenantId,
                notice: &$crate::notify::rules::Notice,
            ) -> $crate::store::StoreResult<Vec<(askpanel_actors::domain::UserId, $crate::notify::rules::Preferences)>> {
                use $crate::notify::rules::Recipients;
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
                    let prefs = stored.map(|s| $crate::notify::rules::Preferences::parse_stored(&s)).unwrap_or_default();
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
                notices: &[$crate::notify::rules::Notice],
                fan: &$crate::notify::rules::FanOut,
            ) -> $crate::store::StoreResult<Vec<$crate::notify::rules::Notification>> {
                let mut stored = Vec::new();
                for notice in notices {
                    let recipients = Self::notify_recipients(tx, tenant, notice).await?;
                    let (notifications, mails) = $crate::notify::rules::fan_out(tenant, notice, &recipients, fan);
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
                event: &$crate::webhooks::rules::WebhookEvent,
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
                .bind($crate::webhooks::rules::payload(tenant, event))
                .bind(now)
                .execute(&mut **tx)
                .await?;
                Ok(id)
            }

            async fn notify_endpoint(
                tx: &mut sqlx::Transaction<'static, $db>,
                tenant: askpanel_actors::domain::TenantId,
                id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Option<$crate::store::webhooks::EndpointRecord>> {
                let sql = format!(
                    "SELECT {} FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2",
                    $crate::store::webhooks::ENDPOINT_COLUMNS
                );
                let row = sqlx::query_as::<_, $crate::store::webhooks::EndpointRow>(sqlx::AssertSqlSafe(sql))
                    .bind(tenant.0)
                    .bind(id)
                    .fetch_optional(&mut **tx)
                    .await?;
                row.map($crate::store::webhooks::EndpointRecord::try_from).transpose()
            }

            async fn notify_delivery(
                tx: &mut sqlx::Transaction<'static, $db>,
                tenant: askpanel_actors::domain::TenantId,
                id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Option<$crate::store::webhooks::DeliveryRecord>> {
                let sql = format!(
                    "SELECT {} FROM webhook_deliveries WHERE tenant_id = $1 AND id = $2",
                    $crate::store::webhooks::DELIVERY_COLUMNS
                );
                let row = sqlx::query_as::<_, $crate::store::webhooks::DeliveryRow>(sqlx::AssertSqlSafe(sql))
                    .bind(tenant.0)
                    .bind(id)
                    .fetch_optional(&mut **tx)
                    .await?;
                row.map($crate::store::webhooks::DeliveryRecord::try_from).transpose()
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
                fan: &$crate::notify::rules::FanOut,
            ) -> $crate::store::StoreResult<Option<Vec<$crate::notify::rules::Notification>>> {
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
                        $crate::store::webhooks::ENDPOINT_COLUMNS
                    );
                    let rows = sqlx::query_as::<_, $crate::store::webhooks::EndpointRow>(sqlx::AssertSqlSafe(sql))
                        .bind(tenant.0)
                        .fetch_all(&mut *tx)
                        .await?;
                    let endpoints: Vec<$crate::store::webhooks::EndpointRecord> =
                        $crate::store::notify::collect(rows)?;
                    for event in &step.webhooks {
                        for endpoint in endpoints.iter().filter(|e| $crate::webhooks::rules::wants(&e.events, event.event_type)) {
                            Self::notify_insert_delivery(&mut tx, tenant, endpoint.id, event, fan.now).await?;
                        }
                    }
                }
                for (day, f) in &step.usage {
                    sqlx::query($crate::store::notify::USAGE_DAILY_UPSERT)
                    .bind(tenant.0)
                    .bind(day.to_string())
                    .bind(step.panel_type)
                    .bind(i64::try_from(f.panels_created).unwrap_or(i64::MAX / 1024))
                    .bind(i64::try_from(f.panels_completed).unwrap_or(i64::MAX / 1024))
                    .bind(i64::try_from(f.turns).unwrap_or(i64::MAX / 1024))
                    .bind(i64::try_from(f.tokens_in).unwrap_or(i64::MAX / 1024))
                    .bind(i64::try_from(f.tokens_out).unwrap_or(i64::MAX / 1024))
                    .bind(i64::try_from(f.duration_ms).unwrap_or(i64::MAX / 1024))
                    .execute(&mut *tx)
                    .await?;
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
                notices: &[$crate::notify::rules::Notice],
                fan: &$crate::notify::rules::FanOut,
            ) -> $crate::store::StoreResult<Vec<$crate::notify::rules::Notification>> {
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
            ) -> $crate::store::StoreResult<Vec<$crate::notify::rules::Notification>> {
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
            ) -> $crate::store::StoreResult<Option<$crate::notify::rules::Notification>> {
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
                row.map($crate::notify::rules::Notification::try_from).transpose()
            }

            async fn get_preferences(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                user: askpanel_actors::domain::UserId,
            ) -> $crate::store::StoreResult<$crate::notify::rules::Preferences> {
                let mut tx = self.$read(tenant).await?;
                let stored: Option<String> = sqlx::query_scalar(
                    "SELECT prefs FROM notification_preferences WHERE tenant_id = $1 AND user_id = $2",
                )
                .bind(tenant.0)
                .bind(user.0)
                .fetch_optional(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(stored.map(|s| $crate::notify::rules::Preferences::parse_stored(&s)).unwrap_or_default())
            }

            async fn set_preferences(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                user: askpanel_actors::domain::UserId,
                prefs: &$crate::notify::rules::Preferences,
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
                Self::notify_release_job(self.$write(claim.tenant).await?, claim, outcome, None, Some(now)).await
            }

            async fn retry_job(
                &self,
                claim: &$crate::store::notify::Claim,
                due_at: chrono::DateTime<chrono::Utc>,
                error: &str,
            ) -> $crate::store::StoreResult<bool> {
                Self::notify_release_job(self.$write(claim.tenant).await?, claim, error, Some(due_at), None).await
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
