//! `folio-bench`: the benchmark clients behind BENCHMARKS.md, kept out of the server binary.
//! Each subcommand measures one road against a running Folio (intake, release) or Folio's
//! library in this process (directory lookups, scan pipeline).

use clap::{Parser, Subcommand};

mod directory;
mod intake;
mod release;
mod scan;
mod stats;

#[derive(Parser)]
#[command(
    name = "folio-bench",
    about = "Folio's benchmark clients (see BENCHMARKS.md)"
)]
struct Cli {
    /// Folio's configuration file, for the subcommands that open Folio's directory and
    /// database (`directory`); `FOLIO_*` variables apply as for the server.
    #[arg(long, global = true)]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Intake throughput and latency: held Print-Job requests from concurrent clients.
    Intake(intake::IntakeArgs),
    /// Badge session start and release to a copier (this tool plays the copier).
    Release(release::ReleaseArgs),
    /// Badge → user latency, uncached then cached; or write the synthetic directory.
    Directory(directory::DirectoryArgs),
    /// Pages per second through validate + split + seal.
    Scan(scan::ScanArgs),
}

fn main() -> anyhow::Result<()> {
    // `scan --sandboxed` starts Folio's sandboxed readers from this executable, as the server
    // does from its own (`/proc/self/exe sandbox-worker`).
    if std::env::args().nth(1).as_deref() == Some(folio::sandbox::WORKER_COMMAND) {
        std::process::exit(folio::app::run_sandbox_worker(std::env::args().skip(2)));
    }
    let cli = Cli::parse();
    match &cli.command {
        Command::Intake(args) => intake::run(args),
        Command::Release(args) => release::run(args),
        Command::Scan(args) => scan::run(args),
        Command::Directory(args) => {
            let settings = folio::config::Settings::load_from_process(cli.config.as_deref())?;
            directory::run(&settings, args)
        }
    }
}
