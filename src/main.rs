//! The `askpanel` command line: `serve` (the default), `migrate`, `ask`,
//! `tenant create|list`, `key create`.

#![deny(unsafe_code)]

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use askpanel::ask::{self, AskArgs};
use askpanel::configuration::{LimitOverrides, Settings};
use askpanel::eval::{self, EvalArgs};
use askpanel::startup::{self, Application, Paths};
use askpanel::store::{KeyRecord, Role, Tier};
use askpanel_actors::domain::KeyId;
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "askpanel",
    version,
    about = "A real-time deliberation engine: panels of AI experts (and humans) deliberate and reach a recommendation"
)]
struct Cli {
    /// Folder with default.toml, {ASKPANEL_ENV}.toml and experts.toml.
    #[arg(long, global = true, default_value = "config")]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<Commands>,
}

#[derive(Subcommand)]
enum Commands {
    /// Serve the API, the WebSocket and the web page (the default).
    Serve(ServeArgs),
    /// Create or upgrade the database schema.
    Migrate(ServeArgs),
    /// Run one panel in the terminal and print it live.
    Ask(AskArgs),
    /// Run a question set over formats and models; write a report.
    Eval(EvalArgs),
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Internal: read a PDF from stdin in a process of its own (the server runs it).
    #[command(hide = true)]
    ExtractPdf {
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        max_pages: u32,
        #[arg(long)]
        memory_mb: u64,
        #[arg(long)]
        cpu_s: u64,
    },
}

#[derive(Args, Default, Clone)]
struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long)]
    bind: Option<String>,
    /// Folder for the SQLite database.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant and print its first admin key.
    Create {
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "starter")]
        tier: String,
        #[command(flatten)]
        server: ServeArgs,
    },
    /// List tenants.
    List {
        #[command(flatten)]
        server: ServeArgs,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create an API key for a tenant and print it (once).
    Create {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value = "member")]
        role: String,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        server: ServeArgs,
    },
}

fn settings(config: &std::path::Path, args: &ServeArgs) -> anyhow::Result<Settings> {
    let mut settings = Settings::load(config)?;
    if let Some(bind) = &args.bind {
        settings.server.bind = bind.clone();
    }
    if let Some(dir) = &args.data_dir {
        settings.server.data_dir = dir.clone();
    }
    Ok(settings)
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    actix_web::rt::System::new().block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let paths = Paths { config_dir: cli.config.clone() };
    match cli.command.unwrap_or(Commands::Serve(ServeArgs::default())) {
        Commands::ExtractPdf { out, max_pages, memory_mb, cpu_s } => {
            askpanel::documents::pdf::child_main(&out, max_pages, memory_mb, cpu_s)
        }
        Commands::Serve(args) => {
            let settings = settings(&cli.config, &args)?;
            askpanel::telemetry::init(&settings.log.format, &settings.log.level);
            let app = Application::build(settings, paths).await?;
            app.run(startup::shutdown_signal()).await
        }
        Commands::Migrate(args) => {
            let mut settings = settings(&cli.config, &args)?;
            settings.database.migrate_on_start = true;
            startup::open_store(&settings).await?;
            println!("database is up to date: {}", redact(&settings.database_url()));
            Ok(())
        }
        Commands::Ask(args) => {
            let settings = Settings::load(&cli.config)?;
            // Warnings only beside the live transcript (RUST_LOG overrides).
            askpanel::telemetry::init(&settings.log.format, "warn,async_openai=error");
            let catalog = startup::load_catalog(&paths.config_dir)?;
            let (model, _) = startup::build_model(&settings, Arc::new(askpanel::metrics::Metrics::new()))?;
            ask::run(args, &catalog, model).await
        }
        Commands::Eval(args) => {
            let settings = Settings::load(&cli.config)?;
            askpanel::telemetry::init(&settings.log.format, "warn,async_openai=error");
            let catalog = startup::load_catalog(&paths.config_dir)?;
            let metrics = Arc::new(askpanel::metrics::Metrics::new());
            let figures = eval::run(&args, &catalog, |name| {
                let mut settings = settings.clone();
                if name == "simulated" {
                    settings.llm.provider = "simulated".into();
                } else {
                    settings.llm.provider = "openai".into();
                    settings.llm.model = name.to_string();
                }
                Ok(startup::build_model(&settings, metrics.clone())?.0)
            })
            .await?;
            eval::write_report(&figures, &args)?;
            println!("{}", eval::markdown(&figures, &args));
            let failed: usize = figures.iter().map(|f| f.panels - f.completed).sum();
            anyhow::ensure!(failed == 0, "{failed} panels did not complete (report in {})", args.out.display());
            Ok(())
        }
        Commands::Tenant(TenantCommand::Create { slug, name, tier, server }) => {
            let settings = settings(&cli.config, &server)?;
            let store = startup::open_store(&settings).await?;
            let tier: Tier = tier.parse().map_err(|e: String| anyhow::anyhow!(e))?;
            anyhow::ensure!(
                askpanel::routes::admin::valid_slug(&slug),
                "the slug must be 2 to 63 lowercase letters, digits or hyphens"
            );
            let now = chrono::Utc::now();
            let tenant = askpanel::store::TenantRecord {
                id: askpanel_actors::domain::TenantId::new(),
                slug: slug.clone(),
                name: name.clone(),
                tier,
                status: askpanel::store::TenantStatus::Active,
                limits: LimitOverrides::default(),
                branding: askpanel::store::Branding {
                    display_name: name.clone(),
                    primary_color: "#2f5bea".into(),
                    secondary_color: None,
                    logo_url: None,
                },
                created_at: now,
            };
            let plain = askpanel::auth::generate_key();
            let key = KeyRecord {
                id: KeyId::new(),
                tenant_id: tenant.id,
                role: Role::Admin,
                name: "admin".into(),
                prefix: askpanel::auth::key_prefix(&plain),
                created_at: now,
                revoked_at: None,
                last_used_at: None,
            };
            store
                .create_tenant(&tenant, &key, &askpanel::auth::hash_key(&plain))
                .await
                .context("failed to create the tenant")?;
            println!("tenant {slug} ({}) created; admin key (shown once): {plain}", tenant.id);
            Ok(())
        }
        Commands::Tenant(TenantCommand::List { server }) => {
            let settings = settings(&cli.config, &server)?;
            let store = startup::open_store(&settings).await?;
            for t in store.list_tenants().await? {
                println!("{}\t{}\t{}\t{}\t{}", t.id, t.slug, t.tier.as_str(), t.status.as_str(), t.name);
            }
            Ok(())
        }
        Commands::Key(KeyCommand::Create { tenant, role, name, server }) => {
            let settings = settings(&cli.config, &server)?;
            let store: Arc<dyn askpanel::store::Store> = startup::open_store(&settings).await?;
            let tenant =
                store.get_tenant_by_slug(&tenant).await?.with_context(|| format!("no tenant with slug {tenant}"))?;
            let role: Role = role.parse().map_err(|e: String| anyhow::anyhow!(e))?;
            let plain = askpanel::auth::generate_key();
            let key = KeyRecord {
                id: KeyId::new(),
                tenant_id: tenant.id,
                role,
                name,
                prefix: askpanel::auth::key_prefix(&plain),
                created_at: chrono::Utc::now(),
                revoked_at: None,
                last_used_at: None,
            };
            store.create_key(tenant.id, &key, &askpanel::auth::hash_key(&plain)).await?;
            println!("key {} ({}) for {}: {plain}", key.id, role.as_str(), tenant.slug);
            Ok(())
        }
    }
}

/// A database URL without its password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://***{}", &url[..scheme], &url[at..]),
        _ => url.to_string(),
    }
}
