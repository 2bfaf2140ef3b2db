//! The `folio` command: parse the command line, load settings, start logging, call `app`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use folio::config::{Settings, EXAMPLE};

#[derive(Parser)]
#[command(
    name = "folio",
    version,
    about = "Hospital-wide secure print release and document capture"
)]
struct Cli {
    /// TOML configuration file.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Data directory (SQLite database, spool, master key).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Database URL: a SQLite path, or postgres://… for PostgreSQL.
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Listen address (IPP, console, API, metrics).
        #[arg(long)]
        listen: Option<String>,
        /// Write a small demo directory (if there is none) and print its users and badges.
        #[arg(long)]
        demo: bool,
    },
    /// The staff directory: check the connection and mapping, look up badges and users.
    Directory {
        #[command(subcommand)]
        command: folio::cli::DirectoryCommand,
    },
    /// Copiers and printers: add, list, remove, rotate tokens, driver profiles.
    Device {
        #[command(subcommand)]
        command: folio::cli::DeviceCommand,
    },
    /// Badges registered in Folio, and PINs.
    Badge {
        #[command(subcommand)]
        command: folio::cli::BadgeCommand,
    },
    /// The archive: verify scan masters, sealed renditions and their time stamps.
    Archive {
        #[command(subcommand)]
        command: folio::cli::ArchiveCommand,
    },
    /// Scans: patient cover sheets to print, the classification plan.
    Scan {
        #[command(subcommand)]
        command: folio::cli::ScanCommand,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Configuration helpers.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// The audit trail: check its hash chain, export it.
    Audit {
        #[command(subcommand)]
        command: folio::cli::AuditCommand,
    },
    /// Spool tools.
    Spool {
        #[command(subcommand)]
        command: SpoolCommand,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print a commented example configuration.
    Example,
}

#[derive(Subcommand)]
enum SpoolCommand {
    /// Decrypt every held document and check it against the hash recorded at submission.
    Verify {
        /// Print one JSON object per document instead of a summary.
        #[arg(long)]
        json: bool,
    },
}

fn settings(cli: &Cli) -> anyhow::Result<Settings> {
    let mut settings = Settings::load_from_process(cli.config.as_deref())?;
    if let Some(d) = &cli.data_dir {
        settings.data_dir = d.clone();
    }
    if let Some(u) = &cli.database_url {
        settings.database_url = u.clone();
    }
    if let Command::Serve {
        listen: Some(l), ..
    } = &cli.command
    {
        settings.listen = l.clone();
    }
    init_logging(&settings.log_format);
    Ok(settings)
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("folio=info,warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn main() -> anyhow::Result<()> {
    // A sandboxed document reader started by the server: nothing else runs in it (no settings,
    // no logging), see `folio::sandbox`.
    if std::env::args().nth(1).as_deref() == Some(folio::sandbox::WORKER_COMMAND) {
        std::process::exit(folio::app::run_sandbox_worker(std::env::args().skip(2)));
    }
    let cli = Cli::parse();
    match &cli.command {
        Command::Config {
            command: ConfigCommand::Example,
        } => {
            print!("{EXAMPLE}");
            Ok(())
        }
        Command::Migrate => {
            let s = settings(&cli)?;
            std::fs::create_dir_all(&s.data_dir)?;
            let db = folio::db::Db::connect(&s.effective_database_url(), 1)?;
            println!(
                "database is up to date ({} migrations applied)",
                db.migrate()?
            );
            Ok(())
        }
        Command::Audit { command } => {
            let s = settings(&cli)?;
            let code = folio::cli::audit(&s, command)?;
            std::process::exit(code)
        }
        Command::Spool {
            command: SpoolCommand::Verify { json },
        } => {
            let s = settings(&cli)?;
            let db = folio::db::Db::connect(&s.effective_database_url(), 1)?;
            let master = folio::spool::crypto::MasterKey::load(&s.effective_master_key_file())?;
            let spool = folio::spool::Spool::open_offline(db, &s.data_dir, master)?;
            let checks = spool.verify_documents()?;
            let bad = checks.iter().filter(|c| !c.ok).count();
            if *json {
                println!("{}", serde_json::to_string_pretty(&checks)?);
            } else {
                for c in checks.iter().filter(|c| !c.ok) {
                    println!(
                        "job {} ({}): {}",
                        c.job_id,
                        c.file_name,
                        c.error.as_deref().unwrap_or("?")
                    );
                }
                println!("{} documents checked, {bad} damaged", checks.len());
            }
            if bad > 0 {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Directory { command } => {
            let s = settings(&cli)?;
            let code = folio::cli::directory(&s, command)?;
            std::process::exit(code)
        }
        Command::Device { command } => {
            let s = settings(&cli)?;
            let code = folio::cli::device(&s, command)?;
            std::process::exit(code)
        }
        Command::Archive { command } => {
            let s = settings(&cli)?;
            let code = folio::cli::archive(&s, command)?;
            std::process::exit(code)
        }
        Command::Scan { command } => {
            let s = settings(&cli)?;
            let code = folio::cli::scan(&s, command)?;
            std::process::exit(code)
        }
        Command::Badge { command } => {
            let s = settings(&cli)?;
            let code = folio::cli::badge(&s, command)?;
            std::process::exit(code)
        }
        Command::Serve { demo, .. } => {
            let s = settings(&cli)?;
            if *demo {
                if s.directory.kind != folio::config::DirectoryKind::File {
                    anyhow::bail!(
                        "--demo writes a file directory: directory.kind must be \"file\""
                    );
                }
                let file = s.effective_directory_file();
                std::fs::create_dir_all(&s.data_dir)?;
                let users = folio::directory::demo::ensure(&file)?;
                print!("{}", folio::directory::demo::describe(&users, &file));
            }
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let app = folio::app::App::build(&s)?;
                tracing::info!(address = app.address(), data_dir = %s.data_dir.display(), "Folio started");
                // Tests and scripts read this line to learn the bound port.
                println!("listening on {}", app.address());
                if let Some(tls) = app.tls_address() {
                    tracing::info!(address = tls, "TLS listener (HTTPS, IPPS) started");
                    println!("listening with TLS on {tls}");
                }
                if let Some(ftp) = app.ftp_address() {
                    tracing::info!(address = %ftp, "scan-to-FTP server started");
                    println!("listening for FTP scans on {ftp}");
                }
                app.run(Duration::from_secs(s.expiry_interval_secs.max(1))).await?;
                Ok(())
            })
        }
    }
}
