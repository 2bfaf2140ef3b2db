//! The audit trail as CSV or JSON, for auditors' tools (`folio audit export`, and the console's
//! export for what its filters select). Times are UTC (RFC 3339); every field that the hash
//! covers is there, so an export can be checked against the chain.

use std::io::Write;

use serde::Serialize;

use crate::db::models::audit_events::AuditRow;

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Csv,
    Json,
}

/// One event as exported.
#[derive(Debug, Serialize)]
pub struct Exported<'a> {
    pub seq: i64,
    pub at: String,
    pub actor: &'a str,
    pub action: &'a str,
    pub object: &'a str,
    pub device: &'a str,
    pub outcome: &'a str,
    /// The event's details, as the JSON they are.
    pub detail: serde_json::Value,
    pub prev_hash: &'a str,
    pub hash: &'a str,
}

/// `at` (Unix ms) as RFC 3339 UTC with milliseconds.
pub fn utc(at: i64) -> String {
    chrono::DateTime::from_timestamp_millis(at)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

impl<'a> Exported<'a> {
    pub fn of(row: &'a AuditRow) -> Exported<'a> {
        Exported {
            seq: row.seq,
            at: utc(row.at),
            actor: &row.actor,
            action: &row.action,
            object: &row.object,
            device: &row.device,
            outcome: &row.outcome,
            detail: serde_json::from_str(&row.detail)
                .unwrap_or_else(|_| serde_json::Value::String(row.detail.clone())),
            prev_hash: &row.prev_hash,
            hash: &row.hash,
        }
    }
}

/// The CSV header line.
pub const CSV_HEADER: &str = "seq,at,actor,action,object,device,outcome,detail,prev_hash,hash\r\n";

/// One CSV field: quoted when needed, and defused for spreadsheets (a leading `=`, `+`, `-`,
/// `@` would be read as a formula).
pub fn csv_field(s: &str) -> String {
    let defused = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

/// One event as a CSV line (CRLF-terminated).
pub fn csv_line(row: &AuditRow) -> String {
    let fields = [
        row.seq.to_string(),
        utc(row.at),
        row.actor.clone(),
        row.action.clone(),
        row.object.clone(),
        row.device.clone(),
        row.outcome.clone(),
        row.detail.clone(),
        row.prev_hash.clone(),
        row.hash.clone(),
    ];
    let mut line = fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

/// Writes events as they come: CSV lines, or the items of one JSON array. Call
/// [`Writer::finish`] at the end.
pub struct Writer<W: Write> {
    out: W,
    format: Format,
    written: u64,
}

impl<W: Write> Writer<W> {
    pub fn new(mut out: W, format: Format) -> std::io::Result<Writer<W>> {
        match format {
            Format::Csv => out.write_all(CSV_HEADER.as_bytes())?,
            Format::Json => out.write_all(b"[")?,
        }
        Ok(Writer {
            out,
            format,
            written: 0,
        })
    }

    pub fn write(&mut self, row: &AuditRow) -> std::io::Result<()> {
        match self.format {
            Format::Csv => self.out.write_all(csv_line(row).as_bytes())?,
            Format::Json => {
                if self.written > 0 {
                    self.out.write_all(b",")?;
                }
                self.out.write_all(b"\n")?;
                serde_json::to_writer(&mut self.out, &Exported::of(row))?;
            }
        }
        self.written += 1;
        Ok(())
    }

    /// Closes the JSON array; returns how many events were written.
    pub fn finish(mut self) -> std::io::Result<u64> {
        if self.format == Format::Json {
            self.out.write_all(b"\n]\n")?;
        }
        self.out.flush()?;
        Ok(self.written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> AuditRow {
        AuditRow {
            id: 1,
            at: 0,
            actor: "=cmd".into(),
            action: "job.state".into(),
            object: "job:1".into(),
            detail: "{\"to\":\"completed\"}".into(),
            prev_hash: "00".into(),
            hash: "ab".into(),
            seq: 1,
            device: "copier, 2".into(),
            outcome: "success".into(),
        }
    }

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-2"), "'-2");
    }

    #[test]
    fn both_formats_carry_every_hashed_field() {
        let mut csv = Vec::new();
        let mut w = Writer::new(&mut csv, Format::Csv).unwrap();
        w.write(&row()).unwrap();
        assert_eq!(w.finish().unwrap(), 1);
        let csv = String::from_utf8(csv).unwrap();
        assert!(
            csv.ends_with(
                "1,1970-01-01T00:00:00.000Z,'=cmd,job.state,job:1,\"copier, 2\",success,\
             \"{\"\"to\"\":\"\"completed\"\"}\",00,ab\r\n"
            ),
            "{csv}"
        );
        let mut json = Vec::new();
        let mut w = Writer::new(&mut json, Format::Json).unwrap();
        w.write(&row()).unwrap();
        w.write(&row()).unwrap();
        w.finish().unwrap();
        let parsed: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(parsed[1]["detail"]["to"], "completed");
        assert_eq!(parsed[0]["device"], "copier, 2");
        assert_eq!(parsed.as_array().unwrap().len(), 2);
    }
}
