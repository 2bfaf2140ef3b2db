//! `folio-bench directory`: badge → user latency through [`DirectoryService`] (the path a
//! copier's badge tap takes), first uncached (each badge asks the directory), then cached; and
//! `--write-ldif` to make the synthetic directory the benchmarks use (`user00000`…, the users
//! `folio-bench intake` prints as; `testkit::directory`).

use std::sync::Arc;
use std::time::Instant;

use folio::config::Settings;
use folio::db::Db;
use folio::directory::{self, DirectoryService};
use testkit::directory::badge;

use crate::stats::percentile;

/// Options of `folio-bench directory`. Folio's settings (directory, database, data directory)
/// come from `--config` and the `FOLIO_*` environment, as the server reads them.
#[derive(Debug, Clone, clap::Args)]
pub struct DirectoryArgs {
    /// Users in the synthetic directory.
    #[arg(long, default_value_t = 10_000)]
    pub users: u32,
    /// Badge taps to time in each phase.
    #[arg(long, default_value_t = 2_000)]
    pub lookups: u32,
    /// Concurrent taps.
    #[arg(long, default_value_t = 8)]
    pub clients: u32,
    /// Write the synthetic directory as LDIF to this file (base `dc=bench,dc=test`) and exit.
    #[arg(long)]
    pub write_ldif: Option<std::path::PathBuf>,
}

async fn phase(svc: &DirectoryService, name: &str, args: &DirectoryArgs, badges: Arc<Vec<String>>) {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.clients.max(1) {
        let (svc, badges, next) = (svc.clone(), badges.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            let mut failed = 0u32;
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(b) = badges.get(n) else {
                    return (times, failed);
                };
                let t = Instant::now();
                match svc.resolve_badge(b, None).await {
                    Ok(_) => times.push(t.elapsed()),
                    Err(_) => failed += 1,
                }
            }
        }));
    }
    let mut all = Vec::new();
    let mut failed = 0;
    for t in tasks {
        if let Ok((times, f)) = t.await {
            all.extend(times);
            failed += f;
        }
    }
    let elapsed = started.elapsed();
    all.sort();
    println!(
        "{name}: taps={} ok={} failed={failed} clients={} rate={:.0}/s p50={:.2}ms p99={:.2}ms max={:.2}ms",
        badges.len(),
        all.len(),
        args.clients,
        all.len() as f64 / elapsed.as_secs_f64(),
        percentile(&all, 0.5).as_secs_f64() * 1000.0,
        percentile(&all, 0.99).as_secs_f64() * 1000.0,
        all.last().copied().unwrap_or_default().as_secs_f64() * 1000.0
    );
}

/// Runs the benchmark against the configured directory and database.
pub fn run(settings: &Settings, args: &DirectoryArgs) -> anyhow::Result<()> {
    if let Some(path) = &args.write_ldif {
        std::fs::write(path, testkit::directory::ldif(args.users))?;
        return Ok(());
    }
    std::fs::create_dir_all(&settings.data_dir)?;
    let db = Db::connect(&settings.effective_database_url(), 8)?;
    let d = directory::open(&settings.directory, &settings.effective_directory_file())?;
    // Directory lookups are measured, not PINs.
    let mut directory_settings = settings.directory.clone();
    directory_settings.badge_requires_pin = false;
    let svc = DirectoryService::new(d, db, &directory_settings, 300);
    // Distinct users spread over the directory, read as a decimal reader would for half of them.
    let step = (args.users / args.lookups.max(1)).max(1);
    let badges: Vec<String> = (0..args.lookups.min(args.users))
        .map(|k| {
            let i = k * step;
            if k % 2 == 0 {
                badge(i)
            } else {
                u64::from_str_radix(&badge(i), 16).unwrap_or(0).to_string()
            }
        })
        .collect();
    let badges = Arc::new(badges);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async {
            println!(
                "directory={} users={} (badge → user through the cache and the directory)",
                svc.directory().kind(),
                args.users
            );
            phase(&svc, "uncached", args, badges.clone()).await;
            phase(&svc, "cached  ", args, badges).await;
        });
    Ok(())
}
