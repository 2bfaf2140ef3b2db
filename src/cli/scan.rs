//! `folio scan …`: cover sheets to print, and the classification plan.

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;

use crate::archive::cover::CoverSheet;
use crate::archive::plan::Plan;
use crate::archive::sheet::cover_sheet_pdf;
use crate::config::Settings;

/// `folio scan …`
#[derive(Subcommand)]
pub enum ScanCommand {
    /// Write a patient cover sheet (PDF) to print and scan on top of the patient's pages.
    CoverSheet {
        /// The hospital's patient identifier (IPP).
        #[arg(long)]
        patient: String,
        /// The stay or visit (NDA).
        #[arg(long, default_value = "")]
        encounter: String,
        /// The category code of the classification plan (`folio scan categories`); without
        /// it a person classifies the pages after the scan.
        #[arg(long, default_value = "")]
        category: String,
        /// Write here instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// List the classification plan's categories.
    Categories {
        #[arg(long)]
        json: bool,
    },
}

/// Runs a scan command; returns the exit code.
pub fn run(s: &Settings, command: &ScanCommand) -> anyhow::Result<i32> {
    let plan = Plan::load(&s.archive.plan_file)?;
    match command {
        ScanCommand::CoverSheet {
            patient,
            encounter,
            category,
            output,
        } => {
            let sheet =
                CoverSheet::new(patient, encounter, category).map_err(anyhow::Error::msg)?;
            let label = if sheet.category.is_empty() {
                String::new()
            } else {
                match plan.get(&sheet.category) {
                    Some(c) => c.label.clone(),
                    None => anyhow::bail!(
                        "category {} is not in the classification plan (folio scan categories)",
                        sheet.category
                    ),
                }
            };
            let pdf = cover_sheet_pdf(&sheet, &label).map_err(anyhow::Error::msg)?;
            match output {
                Some(path) => std::fs::write(path, &pdf)?,
                None => std::io::stdout().lock().write_all(&pdf)?,
            }
            Ok(0)
        }
        ScanCommand::Categories { json } => {
            if *json {
                println!("{}", serde_json::to_string_pretty(&plan.categories)?);
            } else {
                for c in &plan.categories {
                    println!("{:<5} {}  [{}]", c.code, c.label, c.retention);
                }
            }
            Ok(0)
        }
    }
}
