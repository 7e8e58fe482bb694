//! `Application::build` wires everything: settings, the store (and its
//! migrations), the first-start bootstrap, the fan-out bus, the expert
//! model, the engine (recovering unfinished panels), and the HTTP server on
//! its listener. `run` serves until the shutdown signal, then stops
//! gracefully: refuse new work, close sockets with 1001, checkpoint panels.

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use askpanel_actors::domain::SimulationConfig;
use askpanel_actors::engine::{Engine, EngineSettings, PanelDeps};
use askpanel_actors::model::ExpertModel;
use askpanel_actors::model::simulated::SimulatedModel;
use tracing::Instrument;

use crate::auth::{AuthService, hash_key};
use crate::bus::Bus;
use crate::catalog::Catalog;
use crate::cluster::NodeHandles;
use crate::configuration::Settings;
use crate::limits::{FailureLimiter, RateLimiter, effective_limits, policy};
use crate::metrics::Metrics;
use crate::routes;
use crate::state::{AppState, ModelInfo};
use crate::store::event_log::StoreEventLog;
use crate::store::sqlite::SqliteStore;
use crate::store::{Store, Tier};
use crate::tenants::TenantChanges;
use crate::ws::registry::SessionRegistry;

/// Where the optional settings files and the catalog live.
#[derive(Clone, Debug)]
pub struct Paths {
    pub config_dir: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Self { config_dir: PathBuf::from("config") }
    }
}

pub struct Application {
    address: SocketAddr,
    server: Server,
    state: AppState,
    /// The job runner and the webhook sender, waited for at shutdown.
    workers: Vec<actix_web::rt::task::JoinHandle<()>>,
}

/// Opens the store named by the settings (running its migrations).
pub async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    let url = settings.database_url();
    if url.starts_with("sqlite:") {
        std::fs::create_dir_all(&settings.server.data_dir)
            .with_context(|| format!("failed to create the data directory {}", settings.server.data_dir.display()))?;
        let store = SqliteStore::open(&url, settings.database.max_connections)
            .await
            .context("failed to open the SQLite database")?;
        if settings.database.max_size_mb > 0 {
            store.limit_size(Some(settings.database.max_size_mb * 1024 * 1024)).await?;
        }
        Ok(Arc::new(store))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        if settings.database.migrate_on_start {
            let owner =
                if settings.database.migration_url.is_empty() { &url } else { &settings.database.migration_url };
            crate::store::postgres::migrate(owner)
                .await
                .context("failed to migrate PostgreSQL (migrations run as the owner: database.migration_url)")?;
        }
        let store = crate::store::postgres::PgStore::open(&url, settings.database.max_connections)
            .await
            .context("failed to connect to PostgreSQL")?;
        Ok(Arc::new(store))
    } else {
        anyhow::bail!("database.url must start with sqlite:// or postgres://")
    }
}

/// The platform catalog: `config/experts.toml` when present, else the built-in copy.
pub fn load_catalog(config_dir: &Path) -> anyhow::Result<Catalog> {
    let path = config_dir.join("experts.toml");
    if path.exists() { Catalog::load(&path) } else { Catalog::parse(crate::BUILTIN_CATALOG) }
}

/// The expert model the settings ask for. The API key comes from the
/// environment variable named by `llm.api_key_env` (none for local servers).
pub fn build_model(settings: &Settings, metrics: Arc<Metrics>) -> anyhow::Result<(Arc<dyn ExpertModel>, ModelInfo)> {
    match settings.llm.provider.as_str() {
        "simulated" => Ok((
            Arc::new(SimulatedModel::new()),
            ModelInfo { provider: "simulated".into(), model: "simulated".into(), simulated: true },
        )),
        "openai" => {
            let key = std::env::var(&settings.llm.api_key_env).ok().filter(|k| !k.is_empty());
            if key.is_none() {
                tracing::warn!(variable = %settings.llm.api_key_env, "no API key in the environment; calling the model server without one");
            }
            let model = crate::llm::OpenAiModel::new(&settings.llm, key, metrics)?;
            Ok((
                Arc::new(model),
                ModelInfo { provider: "openai".into(), model: settings.llm.model.clone(), simulated: false },
            ))
        }
        other => anyhow::bail!("llm.provider `{other}` is unknown (simulated | openai)"),
    }
}

/// What the first start prints once.
struct Bootstrap {
    admin_key: Option<String>,
    demo_key: Option<String>,
}

/// Secrets and the demo tenant, created on the first start.
async fn bootstrap(
    settings: &Settings,
    store: &dyn Store,
    state_auth: &mut Option<AuthService>,
) -> anyhow::Result<Bootstrap> {
    let mut printed_admin = None;
    let admin_key_hash = if settings.auth.admin_key.is_empty() {
        match store.get_setting("admin_key_hash").await? {
            Some(hash) => hash,
            None => {
                let key = crate::auth::generate_key();
                let stored = store.init_setting("admin_key_hash", &hash_key(&key)).await?;
                if stored == hash_key(&key) {
                    printed_admin = Some(key);
                }
                stored
            }
        }
    } else {
        hash_key(&settings.auth.admin_key)
    };
    let secret = if settings.auth.token_secret.is_empty() {
        let fresh: String = crate::auth::random_bytes::<32>().iter().map(|b| format!("{b:02x}")).collect();
        store.init_setting("token_secret", &fresh).await?
    } else {
        settings.auth.token_secret.clone()
    };
    *state_auth = Some(AuthService::new(admin_key_hash, secret.into_bytes()));
    Ok(Bootstrap { admin_key: printed_admin, demo_key: None })
}

/// CORS for the HTTP API: pages of the server's own origin and of
/// `server.allowed_origins` may call it; preflights from others are refused.
fn cors(allowed: &[String]) -> actix_cors::Cors {
    let allowed = allowed.to_vec();
    actix_cors::Cors::default()
        .allowed_origin_fn(move |origin, head| {
            let host = head.headers.get(actix_web::http::header::HOST).and_then(|h| h.to_str().ok());
            origin.to_str().is_ok_and(|origin| crate::origins::allowed(origin, host, &allowed))
        })
        .allowed_methods(["GET", "POST", "PATCH", "DELETE"])
        .allowed_headers([
            "authorization",
            "content-type",
            "accept",
            "idempotency-key",
            "x-tenant-id",
            "last-event-id",
            "x-csrf-token",
        ])
        .expose_headers(["retry-after"])
        .max_age(600)
}

async fn request_span(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let method = crate::metrics::method_label(req.method());
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let span = tracing::info_span!("http", %method, %route, tenant_id = tracing::field::Empty, panel_id = tracing::field::Empty, status = tracing::field::Empty);
    let started = Instant::now();
    let response = next.call(req).instrument(span.clone()).await?;
    let status = response.status().as_u16();
    span.record("status", status);
    if let Some(state) = state {
        state.metrics.http_requests.with_label_values(&[method, &route, &status.to_string()]).inc();
        state.metrics.http_duration.with_label_values(&[method, &route]).observe(started.elapsed().as_secs_f64());
        if status >= 500 {
            state.metrics.errors.with_label_values(&["http_5xx"]).inc();
        }
    }
    Ok(response)
}

impl Application {
    /// Builds the application on `settings.server.bind` (port 0 picks a free port).
    pub async fn build(settings: Settings, paths: Paths) -> anyhow::Result<Application> {
        let settings = Arc::new(settings);
        let store = open_store(&settings).await?;
        let mut auth = None;
        let mut printed = bootstrap(&settings, store.as_ref(), &mut auth).await?;
        let auth = Arc::new(auth.context("auth was not initialised")?);
        let catalog = Arc::new(load_catalog(&paths.config_dir)?);
        let metrics = Arc::new(Metrics::new());
        let bus = Arc::new(Bus::new(settings.ws.panel_buffer, metrics.clone()));
        let (model, model_info) = build_model(&settings, metrics.clone())?;
        let engine_settings = EngineSettings {
            arbiters: if settings.engine.arbiters == 0 {
                std::thread::available_parallelism().map_or(2, |n| n.get())
            } else {
                settings.engine.arbiters
            },
            panel_mailbox: settings.engine.panel_mailbox.max(16),
            max_restarts: settings.engine.max_restarts,
            restart_backoff: Duration::from_millis(settings.engine.restart_backoff_ms.max(1)),
            default_simulation: SimulationConfig::default(),
            ..EngineSettings::default()
        };
        let epochs = Arc::new(crate::store::event_log::Epochs::new());
        let cluster = if settings.redis.url.is_empty() {
            None
        } else {
            anyhow::ensure!(
                !settings.database_url().starts_with("sqlite:"),
                "several nodes (redis.url) need a shared PostgreSQL database.url"
            );
            let (cluster, inbox) = crate::cluster::Cluster::connect(&settings.redis, bus.clone(), epochs.clone())
                .await
                .context("failed to connect to Redis")?;
            tracing::info!(node = %cluster.node_id, "joined the cluster");
            Some((cluster, inbox))
        };
        let leases = cluster.as_ref().map(|(c, _)| c.clone() as Arc<dyn crate::store::event_log::Leases>);
        let engine = Engine::new(PanelDeps {
            log: Arc::new(StoreEventLog::new(store.clone(), epochs.clone(), leases)),
            publisher: bus.clone(),
            model,
            evidence: Arc::new(crate::documents::StoreEvidence::new(store.clone())),
            settings: engine_settings,
        });
        let extractor = if settings.documents.extractor.is_empty() {
            std::env::current_exe().context("the path of this program (for the PDF extractor)")?
        } else {
            std::path::PathBuf::from(&settings.documents.extractor)
        };
        let library =
            crate::documents::Library::new(store.clone(), settings.documents.clone(), extractor, metrics.clone());
        let sessions = Arc::new(SessionRegistry::new());
        let tenants =
            TenantChanges::new(settings.clone(), store.clone(), engine.clone(), auth.clone(), sessions.clone());
        let presence = crate::presence::PresenceTracker::start(bus.clone());
        if let Some((cluster, _)) = &cluster {
            presence.set_shared(cluster.clone());
        }
        let state = AppState {
            settings: settings.clone(),
            store: store.clone(),
            engine: engine.clone(),
            catalog,
            bus,
            auth,
            limiter: Arc::new(RateLimiter::new()),
            auth_failures: Arc::new(FailureLimiter::new()),
            signin_failures: Arc::new(FailureLimiter::new()),
            reset_requests: Arc::new(FailureLimiter::new()),
            mailer: Arc::new(crate::mail::Mailer::new(&settings.mail, metrics.clone())?),
            passwords: crate::accounts::passwords::Hasher::new(&settings.accounts),
            oidc: crate::accounts::oidc::Oidc::new(&settings.accounts)?,
            metrics,
            sessions,
            presence,
            model: model_info,
            shutting_down: Arc::new(AtomicBool::new(false)),
            tenants,
            notify_wake: Arc::new(crate::notify::Wake::default()),
            cluster: cluster.as_ref().map(|(c, _)| c.clone()),
            library: library.clone(),
        };
        {
            // Extractors read waiting documents (this node's uploads, other
            // nodes', and any a crash left behind) with the tenant's page limit.
            let store = store.clone();
            let settings = settings.clone();
            library.start(move |tenant| {
                let (store, settings) = (store.clone(), settings.clone());
                Box::pin(async move {
                    match store.get_tenant(tenant).await {
                        Ok(Some(t)) => Some(effective_limits(&settings, &t).max_document_pages),
                        // A tenant that is gone reads no more pages.
                        Ok(None) => Some(0),
                        Err(error) => {
                            tracing::warn!(%error, "a tenant's page limit could not be read; the document waits");
                            None
                        }
                    }
                })
            });
        }
        if store.count_tenants().await? == 0 {
            let (_, _, key) = routes::admin::create(&state, "demo", "Demo", Tier::Professional, Default::default())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            printed.demo_key = Some(key);
        }
        // Panels left unfinished by the last run continue: here at once on a
        // single node; in a cluster, through the lease scanner (one owner each).
        if let Some((cluster, inbox)) = cluster {
            let node = NodeHandles {
                engine: engine.clone(),
                store: store.clone(),
                bus: state.bus.clone(),
                tenants: state.tenants.clone(),
                shutting_down: state.shutting_down.clone(),
            };
            actix_web::rt::spawn(crate::cluster::run(
                node,
                cluster,
                inbox,
                Duration::from_millis(settings.redis.scan_every_ms.max(100)),
            ));
        } else {
            let tenants = store.list_tenants().await?;
            let recovered = engine
                .recover_all(|id| tenants.iter().find(|t| t.id == id).map(|t| policy(&settings, t)).unwrap_or_default())
                .await
                .map_err(|e| anyhow::anyhow!("recovery failed: {e}"))?;
            if recovered > 0 {
                tracing::info!(recovered, "resuming unfinished panels");
            }
        }

        let listener = TcpListener::bind(&settings.server.bind)
            .with_context(|| format!("failed to bind {}", settings.server.bind))?;
        let address = listener.local_addr()?;
        let data = web::Data::new(state.clone());
        let body = routes::BodyRules {
            max_bytes: settings.server.max_body_bytes,
            timeout: Duration::from_secs(settings.server.body_timeout_s.max(1)),
        };
        let workers = settings.server.http_workers(std::thread::available_parallelism().map_or(1, |n| n.get()));
        let origins = settings.server.allowed_origins.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .wrap(cors(&origins))
                .wrap(from_fn(request_span))
                .configure(|cfg| routes::configure(cfg, body))
                .default_service(web::to(routes::fallback))
        })
        .listen(listener)?
        .workers(workers)
        .backlog(4096)
        .max_connections(100_000)
        .disable_signals()
        .shutdown_timeout(settings.server.shutdown_grace_s)
        .run();
        // The audit trail keeps each tenant's entries for its tier's retention.
        actix_web::rt::spawn(crate::audit::retain(state.clone(), Duration::from_secs(3600)));
        actix_web::rt::spawn(crate::records::index::run(
            state.clone(),
            Duration::from_millis(settings.records.index_interval_ms.max(50)),
        ));
        // Notifications and webhooks: the announcer, the job runner (emails,
        // reminders) and the webhook sender; the last two finish what they
        // hold when the shutdown begins.
        actix_web::rt::spawn(crate::notify::announce::run(
            state.clone(),
            Duration::from_millis(settings.notifications.announce_interval_ms.max(20)),
        ));
        actix_web::rt::spawn(crate::notify::jobs::retain(state.clone(), Duration::from_secs(3600)));
        let jobs = actix_web::rt::spawn(crate::notify::jobs::run(
            state.clone(),
            Duration::from_millis(settings.notifications.jobs_interval_ms.max(20)),
        ));
        let sender = actix_web::rt::spawn(crate::webhooks::sender::run(
            state.clone(),
            crate::webhooks::sender::client(&settings.webhooks)?,
        ));
        // What finished panels freed goes back to the system.
        actix_web::rt::spawn(crate::memory::trim_while_busy(state.metrics.clone()));
        actix_web::rt::spawn(crate::budget::watch(
            state.clone(),
            Duration::from_secs(settings.engine.budget_check_s.max(1)),
        ));
        if settings.server.announce {
            announce(address, &printed);
        }
        Ok(Application { address, server, state, workers: vec![jobs, sender] })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then shuts down gracefully.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
        let handle: ServerHandle = self.server.handle();
        let state = self.state.clone();
        let server = actix_web::rt::spawn(self.server);
        shutdown.await;
        tracing::info!("shutting down");
        state.shutting_down.store(true, Ordering::SeqCst);
        // No new connections from now on; requests on open ones that would
        // start work answer 503 while the panels checkpoint.
        handle.pause().await;
        let closed = state.sessions.close_all(1001, "server shutting down");
        tracing::info!(closed, "closed websocket sessions");
        let grace = Duration::from_secs(state.settings.server.shutdown_grace_s.max(1));
        state.engine.shutdown(grace).await;
        if let Some(cluster) = &state.cluster {
            // Panels stopped here can be taken over at once by the other nodes.
            for panel in cluster.epochs.iter().map(|e| *e.key()).collect::<Vec<_>>() {
                crate::store::event_log::Leases::release(cluster.as_ref(), panel);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // Deliveries and emails in flight finish (each has its time limit).
        state.notify_wake.jobs.notify_one();
        state.notify_wake.deliveries.notify_one();
        let in_flight = Duration::from_secs(
            state.settings.webhooks.timeout_s.max(u64::from(crate::notify::jobs::lease_s(&state.settings)) - 30) + 5,
        );
        let _ = tokio::time::timeout(in_flight, futures::future::join_all(self.workers)).await;
        handle.stop(true).await;
        let _ = server.await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// What a person starting the server needs: where it listens and, on the first start, the keys.
fn announce(address: SocketAddr, printed: &Bootstrap) {
    // These lines are the server's user interface on its first start (and
    // scripts read `listening on`), so they go to stdout, not to the log.
    let mut out = std::io::stdout().lock();
    if let Some(key) = &printed.admin_key {
        let _ = writeln!(out, "platform admin key (shown once, keep it safe): {key}");
    }
    if let Some(key) = &printed.demo_key {
        let _ = writeln!(out, "demo tenant admin key (shown once): {key}");
        let _ = writeln!(out, "sign in: http://{address}/#key={key}");
    }
    let _ = writeln!(out, "listening on http://{address}");
    let _ = out.flush();
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return interrupt.await.unwrap_or(()),
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
