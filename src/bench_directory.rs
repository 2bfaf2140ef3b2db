//! `folio bench-directory`: badge → user latency through [`DirectoryService`] (the path a
//! copier's badge tap takes), first uncached (each badge asks the directory), then cached; and
//! `--write-ldif` to make the synthetic directory the benchmarks use (`user00000`…, the users
//! `folio bench` prints as).

use std::sync::Arc;
use std::time::Instant;

use crate::bench::percentile;

use crate::config::Settings;
use crate::db::Db;
use crate::directory::{self, DirectoryService};

/// Options of `folio bench-directory`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchDirectoryArgs {
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

/// The user name of synthetic user `i` (what `folio bench` prints as).
pub fn user_name(i: u32) -> String {
    format!("user{i:05}")
}

/// The card number of synthetic user `i`, as stored (hex with a leading zero).
pub fn badge(i: u32) -> String {
    format!("04{:06X}", 0xB0_0000 + i)
}

/// Writes `users` synthetic staff as LDIF (no passwords: badge and IPP-name tests only).
pub fn write_ldif(path: &std::path::Path, users: u32) -> anyhow::Result<()> {
    use std::fmt::Write as _;
    let base = "dc=bench,dc=test";
    let mut out = format!(
        "dn: {base}\nobjectClass: dcObject\nobjectClass: organization\no: Bench\ndc: bench\n\n\
         dn: ou=people,{base}\nobjectClass: organizationalUnit\nou: people\n\n"
    );
    let departments = [
        "Cardiology",
        "Radiology",
        "Emergency",
        "Oncology",
        "Pharmacy",
    ];
    for i in 0..users {
        let u = user_name(i);
        let _ = write!(
            out,
            "dn: uid={u},ou=people,{base}\nobjectClass: inetOrgPerson\nuid: {u}\ncn: Bench {u}\nsn: {u}\n\
             departmentNumber: {}\nemployeeNumber: {}\n\n",
            departments[(i % 5) as usize],
            badge(i)
        );
    }
    std::fs::write(path, out)?;
    Ok(())
}

async fn phase(
    svc: &DirectoryService,
    name: &str,
    args: &BenchDirectoryArgs,
    badges: Arc<Vec<String>>,
) {
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
pub fn run(settings: &Settings, args: &BenchDirectoryArgs) -> anyhow::Result<()> {
    if let Some(path) = &args.write_ldif {
        return write_ldif(path, args.users);
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
