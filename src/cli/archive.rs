//! `folio archive verify`: every scan master and sealed rendition re-hashed against what was
//! recorded, and every time stamp verified (signature and chain to `archive.tsa_ca_file`).

use clap::Subcommand;

use crate::archive::tsa;
use crate::capture::store;
use crate::config::Settings;
use crate::db::models::{scan_captures, scan_documents};
use crate::db::Db;
use crate::spool::crypto::MasterKey;

/// `folio archive …`
#[derive(Subcommand)]
pub enum ArchiveCommand {
    /// Re-hash masters and renditions and verify their time stamps; exits 1 on any failure.
    Verify {
        #[arg(long)]
        json: bool,
        /// PEM CA file the time stamps must chain to (default: archive.tsa_ca_file).
        #[arg(long)]
        tsa_ca_file: Option<std::path::PathBuf>,
    },
}

/// One finding.
#[derive(Debug, serde::Serialize)]
struct Finding {
    object: String,
    problem: String,
}

pub fn run(s: &Settings, command: &ArchiveCommand) -> anyhow::Result<i32> {
    let ArchiveCommand::Verify { json, tsa_ca_file } = command;
    let ca_file = tsa_ca_file
        .clone()
        .unwrap_or_else(|| s.archive.tsa_ca_file.clone());
    let db = Db::connect(&s.effective_database_url(), 1)?;
    let master = MasterKey::load(&s.effective_master_key_file())?;
    let dir = s.data_dir.join("captures");
    let anchors = tsa::anchors(&ca_file, "the TSA CA file")?;
    let mut conn = db.get()?;
    let mut findings = Vec::new();
    let (mut masters, mut seals) = (0u64, 0u64);
    let mut after = 0;
    loop {
        let page = scan_captures::after(&mut conn, after, 200)?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for c in &page {
            masters += 1;
            if let Err(e) =
                store::read_checked(&dir, &master, &c.master_file, &c.wrapped_key, &c.sha256)
            {
                findings.push(Finding {
                    object: format!("scan:{}", c.id),
                    problem: e.to_string(),
                });
            }
        }
    }
    let renditions = dir.join("renditions");
    let mut after = 0;
    loop {
        let page = scan_documents::seals_after(&mut conn, after, 200)?;
        let Some(last) = page.last() else { break };
        after = last.document_id;
        for seal in &page {
            seals += 1;
            let object = format!("scan-document:{}", seal.document_id);
            match store::read_checked(
                &renditions,
                &master,
                &seal.rendition_file,
                &seal.rendition_key,
                &seal.rendition_sha256,
            ) {
                Err(e) => findings.push(Finding {
                    object,
                    problem: e.to_string(),
                }),
                Ok(pdf) if anchors.is_empty() => drop(pdf),
                Ok(pdf) => {
                    let digest = crate::archive::seal::sha256(&pdf);
                    if let Err(e) = tsa::verify_token(&seal.tsa_token, &digest, &anchors, &[]) {
                        findings.push(Finding {
                            object,
                            problem: format!("the time stamp does not verify: {e}"),
                        });
                    }
                }
            }
        }
    }
    if *json {
        println!(
            "{}",
            serde_json::json!({ "masters": masters, "renditions": seals, "timestamps_checked": !anchors.is_empty(), "findings": findings })
        );
    } else {
        for f in &findings {
            println!("{}: {}", f.object, f.problem);
        }
        println!(
            "{masters} masters and {seals} sealed renditions checked{}; {} problems",
            if anchors.is_empty() {
                " (time stamps not checked: set archive.tsa_ca_file)"
            } else {
                ", time stamps verified"
            },
            findings.len()
        );
    }
    Ok(if findings.is_empty() { 0 } else { 1 })
}
