//! `folio-bench scan`: pages per second through validate + split + seal for a scanned batch
//! made in memory (300-dpi gray pages, a cover sheet before every `--pages-per-document`
//! pages) or read from `--master` (a site's own scan: PDF, TIFF or JPEG), on `--threads`
//! threads as the pipeline's workers would. The time stamp is left
//! out (it is the TSA's time, not Folio's); everything else of sealing is in: the rendition
//! with its metadata and its SHA-256.

use std::time::Instant;

use folio::archive::split;
use folio::archive::untrusted::{Failure, Readers};
use folio::archive::{seal, validate};
use testkit::scan::{scanned_pdf, CoverSheet, ScanPage};

/// Options of `folio-bench scan`.
#[derive(Debug, Clone, clap::Args)]
pub struct ScanArgs {
    /// Batches to run (each one upload).
    #[arg(long, default_value_t = 4)]
    pub batches: usize,
    /// Documents per batch.
    #[arg(long, default_value_t = 5)]
    pub documents: usize,
    /// Content pages per document (after its cover sheet).
    #[arg(long, default_value_t = 3)]
    pub pages_per_document: usize,
    /// Scan resolution.
    #[arg(long, default_value_t = 300.0)]
    pub dpi: f64,
    /// Batches worked on at once.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// A scanned batch to use instead of the one made in memory (PDF, TIFF or JPEG, with
    /// Folio cover sheets).
    #[arg(long)]
    pub master: Option<std::path::PathBuf>,
    /// Read the batch in sandboxed workers, as the server does (the master crosses a pipe at
    /// each step), rather than in this process.
    #[arg(long)]
    pub sandboxed: bool,
}

/// Validates, splits and seals one batch, in this process or in `readers`; returns its page
/// count.
fn one_batch(master: &[u8], readers: Option<&Readers>) -> Result<usize, String> {
    let failed = |f: Failure| match f {
        Failure::Scan(e) | Failure::Passing(e) => e,
    };
    let m = match readers {
        Some(r) => r.measure(master).map_err(failed)?,
        None => validate::measure(master)?,
    };
    let kinds = match readers {
        Some(r) => r.kinds(master, m.format).map_err(failed)?,
        None => split::kinds_of_master(master, m.format)?,
    };
    let (parts, _) = split::cut(&kinds);
    for (n, part) in parts.iter().enumerate() {
        let sheet = part.cover.as_ref().map_err(|e| e.clone())?;
        let meta = seal::Meta {
            document: format!("bench-{n}"),
            patient: sheet.patient.clone(),
            encounter: sheet.encounter.clone(),
            category: sheet.category.clone(),
            category_label: String::new(),
            operator: "bench".into(),
            device: "bench".into(),
            captured_at: "2026-11-22T00:00:00.000Z".into(),
            master_sha256: String::new(),
            page_map: part.pages.iter().map(|p| p + 1).collect(),
        };
        let rendition = match readers {
            Some(r) => r
                .rendition(master, m.format, &part.pages, &meta)
                .map_err(failed)?,
            None => seal::rendition(master, m.format, &part.pages, &meta)?,
        };
        std::hint::black_box(seal::sha256(&rendition));
    }
    Ok(m.pages as usize)
}

pub fn run(args: &ScanArgs) -> anyhow::Result<()> {
    let master = match &args.master {
        Some(path) => {
            let bytes = std::fs::read(path)
                .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
            let m = validate::measure(&bytes).map_err(anyhow::Error::msg)?;
            println!(
                "batch: {} ({}), {} pages at {} dpi, {:.1} MB",
                path.display(),
                m.format,
                m.pages,
                m.dpi.map_or("unknown".into(), |d| d.to_string()),
                bytes.len() as f64 / 1e6
            );
            bytes
        }
        None => made_batch(args)?,
    };
    let readers = args.sandboxed.then(|| {
        let settings = folio::sandbox::SandboxSettings {
            scan_workers: args.threads.max(1),
            ..Default::default()
        };
        Readers(folio::sandbox::Sandbox::start(
            folio::sandbox::Lane::Scan,
            &settings,
        ))
    });
    let started = Instant::now();
    let total: usize = std::thread::scope(|scope| {
        let per_thread = args.batches.div_ceil(args.threads.max(1));
        let handles: Vec<_> = (0..args.threads.max(1))
            .map(|t| {
                let (master, readers) = (&master, readers.as_ref());
                let n = per_thread.min(args.batches.saturating_sub(t * per_thread));
                scope.spawn(move || {
                    (0..n)
                        .map(|_| one_batch(master, readers))
                        .sum::<Result<usize, String>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a bench thread panicked".into()))
            })
            .sum::<Result<usize, String>>()
    })
    .map_err(anyhow::Error::msg)?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "validate + split + seal{}: {total} pages in {secs:.2} s on {} threads = {:.1} pages/s",
        if args.sandboxed { " (sandboxed)" } else { "" },
        args.threads,
        total as f64 / secs
    );
    Ok(())
}

/// The batch made in memory: `--documents` cover sheets, each followed by its pages.
fn made_batch(args: &ScanArgs) -> anyhow::Result<Vec<u8>> {
    let mut batch = Vec::new();
    for d in 0..args.documents {
        batch.push(ScanPage::Cover(
            CoverSheet::new(&format!("8000{d:05}"), "NDA-1", "CRH").map_err(anyhow::Error::msg)?,
        ));
        for p in 0..args.pages_per_document {
            batch.push(ScanPage::Text((d * 100 + p) as u32));
        }
    }
    let made = Instant::now();
    let pdf = scanned_pdf(&batch, args.dpi).map_err(anyhow::Error::msg)?;
    println!(
        "batch: {} pages at {} dpi, {:.1} MB, made in {:.1} s",
        batch.len(),
        args.dpi,
        pdf.len() as f64 / 1e6,
        made.elapsed().as_secs_f64()
    );
    Ok(pdf)
}
