//! `folio audit …`: check the chain, export the trail.

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;

use crate::audit::export::{Format, Writer};
use crate::audit::{self, Verdict};
use crate::config::Settings;
use crate::db::models::audit_events;
use crate::db::Db;

/// `folio audit …`
#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain: every event's content, its link to the one before, no gap.
    /// Exits 1 when the chain is broken.
    Verify {
        /// The newest event's hash recorded earlier (from the syslog copy or a previous
        /// verify): the chain must still contain it, so events removed from the end show.
        #[arg(long, value_name = "SEQ:HASH")]
        anchor: Option<String>,
    },
    /// Write the trail, oldest first, as CSV or JSON.
    Export {
        #[arg(long, value_enum, default_value = "csv")]
        format: Format,
        /// From this day (YYYY-MM-DD, UTC), inclusive.
        #[arg(long)]
        from: Option<String>,
        /// Up to this day (YYYY-MM-DD, UTC), inclusive.
        #[arg(long)]
        until: Option<String>,
        /// Write here instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

fn day_ms(s: &str) -> anyhow::Result<i64> {
    let d = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| anyhow::anyhow!("`{s}` is not a date (YYYY-MM-DD)"))?;
    Ok(d.and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc()
        .timestamp_millis())
}

/// Runs an audit command; returns the exit code.
pub fn run(s: &Settings, command: &AuditCommand) -> anyhow::Result<i32> {
    let db = Db::connect(&s.effective_database_url(), 1)?;
    let mut conn = db.get()?;
    match command {
        AuditCommand::Verify { anchor } => match audit::verify(&mut conn)? {
            Verdict::Intact { events, head } => {
                if let Some(anchor) = anchor {
                    let (seq, hash) = anchor
                        .split_once(':')
                        .and_then(|(s, h)| Some((s.parse::<i64>().ok()?, h.to_owned())))
                        .ok_or_else(|| anyhow::anyhow!("--anchor takes SEQ:HASH"))?;
                    let found = audit_events::list_after(&mut conn, seq - 1, 1)?;
                    if found.first().map(|r| (r.seq, r.hash.as_str())) != Some((seq, &hash)) {
                        println!(
                            "audit trail BROKEN: event {seq} with hash {hash} is no longer there"
                        );
                        return Ok(1);
                    }
                }
                match head {
                    Some((seq, hash)) => {
                        println!("audit trail intact: {events} events; newest {seq}:{hash}")
                    }
                    None => println!("audit trail intact: no events yet"),
                }
                Ok(0)
            }
            Verdict::Broken { seq, reason } => {
                println!("audit trail BROKEN at event {seq}: {reason}");
                Ok(1)
            }
        },
        AuditCommand::Export {
            format,
            from,
            until,
            output,
        } => {
            let from = from.as_deref().map(day_ms).transpose()?;
            let until = until
                .as_deref()
                .map(|d| day_ms(d).map(|ms| ms + 86_400_000))
                .transpose()?;
            let out: Box<dyn Write> = match output {
                Some(path) => Box::new(std::fs::File::create(path)?),
                None => Box::new(std::io::stdout().lock()),
            };
            let mut writer = Writer::new(std::io::BufWriter::new(out), *format)?;
            let mut after = 0;
            loop {
                let page = audit_events::list_after(&mut conn, after, 1000)?;
                let Some(last) = page.last() else { break };
                after = last.seq;
                for row in &page {
                    let in_range =
                        from.is_none_or(|f| row.at >= f) && until.is_none_or(|u| row.at < u);
                    if in_range {
                        writer.write(row)?;
                    }
                }
            }
            let n = writer.finish()?;
            eprintln!("{n} events exported");
            Ok(0)
        }
    }
}
