//! A copy of the audit trail for the hospital's SIEM: every event, in order and at least once,
//! as an RFC 5424 syslog message over UDP or TCP (RFC 6587 octet counting). The cursor of what
//! was sent lives in the database (`audit_cursors`), so a restart resumes where it stopped and
//! several nodes share one copy; an event may be sent twice around a crash, never skipped (its
//! sequence number in the structured data lets the SIEM drop the second).

use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::db::models::audit_events::{self, AuditRow};
use crate::db::{Db, DbError};
use crate::metrics::METRICS;

/// The cursor's name in `audit_cursors`.
const CURSOR: &str = "syslog";
/// Events sent per round.
const BATCH: i64 = 500;
/// The SD-ID of Folio's structured data. 32473 is the enterprise number RFC 5612 reserves for
/// examples; a site with its own number can filter on the name part.
const SD_ID: &str = "folio@32473";
/// Longest message over UDP (RFC 5426: at least 480 octets must pass; 2048 is safe on LANs).
const UDP_MAX: usize = 2048;

/// A syslog facility.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facility(u8);

impl Facility {
    /// `auth`, `authpriv`, `daemon`, `local0` … `local7`.
    pub fn parse(name: &str) -> Option<Facility> {
        let code = match name.trim() {
            "auth" => 4,
            "daemon" => 3,
            "authpriv" => 10,
            other => {
                let n: u8 = other.strip_prefix("local")?.parse().ok()?;
                if n > 7 {
                    return None;
                }
                16 + n
            }
        };
        Some(Facility(code))
    }
}

/// Where the events go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Udp(String),
    Tcp(String),
}

impl Target {
    /// `udp://HOST:PORT` or `tcp://HOST:PORT`.
    pub fn parse(url: &str) -> Result<Target, String> {
        let (scheme, address) = url
            .split_once("://")
            .ok_or_else(|| format!("`{url}` is not udp://HOST:PORT or tcp://HOST:PORT"))?;
        if address
            .rsplit_once(':')
            .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err())
        {
            return Err(format!("`{url}` needs a host and a port"));
        }
        match scheme {
            "udp" => Ok(Target::Udp(address.to_owned())),
            "tcp" => Ok(Target::Tcp(address.to_owned())),
            _ => Err(format!("`{url}`: the scheme must be udp or tcp")),
        }
    }
}

/// Escapes a structured-data parameter value (RFC 5424 §6.3.3).
fn sd_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A header field: printable US-ASCII without spaces, at most `max` long, `-` when empty.
fn header_field(s: &str, max: usize) -> String {
    let clean: String = s
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if clean.is_empty() {
        "-".into()
    } else {
        clean
    }
}

/// One event as an RFC 5424 message: failures at `warning`, the rest at `notice`.
pub fn format(row: &AuditRow, facility: Facility, hostname: &str) -> String {
    let severity = if row.outcome == "success" { 5 } else { 4 };
    let pri = u16::from(facility.0) * 8 + severity;
    let time = super::export::utc(row.at);
    let params = [
        ("seq", row.seq.to_string()),
        ("actor", row.actor.clone()),
        ("action", row.action.clone()),
        ("object", row.object.clone()),
        ("device", row.device.clone()),
        ("outcome", row.outcome.clone()),
        ("hash", row.hash.clone()),
    ];
    let sd: String = params
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!(" {k}=\"{}\"", sd_value(v)))
        .collect();
    format!(
        "<{pri}>1 {time} {host} folio {pid} {msgid} [{SD_ID}{sd}] {actor} {action} {object}: {detail}",
        host = header_field(hostname, 255),
        pid = std::process::id(),
        msgid = header_field(&row.action, 32),
        actor = row.actor,
        action = row.action,
        object = row.object,
        detail = row.detail,
    )
}

/// Sends the trail to `target` until the task is dropped.
pub fn spawn(
    db: Db,
    target: Target,
    facility: Facility,
    hostname: String,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut sender = Sender::new(target);
        loop {
            match forward_once(&db, &mut sender, facility, &hostname).await {
                // More may be waiting: go on at once.
                Ok(n) if n as i64 == BATCH => continue,
                Ok(_) => {}
                Err(e) => {
                    METRICS.audit_forwarded.with_label_values(&["failed"]).inc();
                    tracing::warn!(error = %e, "cannot copy the audit trail to syslog; retrying");
                    sender.reset();
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
}

/// Sends the events after the cursor, then moves it. Returns how many were sent.
async fn forward_once(
    db: &Db,
    sender: &mut Sender,
    facility: Facility,
    hostname: &str,
) -> anyhow::Result<usize> {
    let (from, rows) = db
        .run(|conn| {
            let from = audit_events::cursor(conn, CURSOR)?;
            let rows = audit_events::list_after(conn, from, BATCH)?;
            Ok::<_, DbError>((from, rows))
        })
        .await?;
    let Some(last) = rows.last().map(|r| r.seq) else {
        return Ok(0);
    };
    for row in &rows {
        sender.send(&format(row, facility, hostname)).await?;
    }
    let moved = db
        .run(move |conn| Ok::<_, DbError>(audit_events::advance_cursor(conn, CURSOR, from, last)?))
        .await?;
    if !moved {
        tracing::debug!("another node copied these audit events too");
    }
    METRICS
        .audit_forwarded
        .with_label_values(&["sent"])
        .inc_by(rows.len() as u64);
    Ok(rows.len())
}

/// A connection to the collector, opened when needed.
struct Sender {
    target: Target,
    tcp: Option<tokio::net::TcpStream>,
    udp: Option<tokio::net::UdpSocket>,
}

impl Sender {
    fn new(target: Target) -> Sender {
        Sender {
            target,
            tcp: None,
            udp: None,
        }
    }

    fn reset(&mut self) {
        self.tcp = None;
        self.udp = None;
    }

    async fn send(&mut self, message: &str) -> std::io::Result<()> {
        let timeout = Duration::from_secs(5);
        let timed =
            |e: tokio::time::error::Elapsed| std::io::Error::new(std::io::ErrorKind::TimedOut, e);
        match &self.target {
            Target::Tcp(address) => {
                if self.tcp.is_none() {
                    let stream =
                        tokio::time::timeout(timeout, tokio::net::TcpStream::connect(address))
                            .await
                            .map_err(timed)??;
                    self.tcp = Some(stream);
                }
                let frame = format!("{} {message}", message.len());
                let stream = self.tcp.as_mut().ok_or(std::io::ErrorKind::NotConnected)?;
                tokio::time::timeout(timeout, stream.write_all(frame.as_bytes()))
                    .await
                    .map_err(timed)?
            }
            Target::Udp(address) => {
                if self.udp.is_none() {
                    let bind = if address.starts_with('[') {
                        "[::]:0"
                    } else {
                        "0.0.0.0:0"
                    };
                    let socket = tokio::net::UdpSocket::bind(bind).await?;
                    socket.connect(address).await?;
                    self.udp = Some(socket);
                }
                let socket = self.udp.as_ref().ok_or(std::io::ErrorKind::NotConnected)?;
                let mut end = message.len().min(UDP_MAX);
                while !message.is_char_boundary(end) {
                    end -= 1;
                }
                socket.send(&message.as_bytes()[..end]).await.map(|_| ())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facilities_and_targets_parse() {
        assert_eq!(Facility::parse("authpriv"), Some(Facility(10)));
        assert_eq!(Facility::parse("local7"), Some(Facility(23)));
        assert_eq!(Facility::parse("local8"), None);
        assert_eq!(Facility::parse("kern"), None);
        assert_eq!(
            Target::parse("tcp://siem:601"),
            Ok(Target::Tcp("siem:601".into()))
        );
        assert!(Target::parse("udp://siem").is_err());
        assert!(Target::parse("http://siem:80").is_err());
    }

    #[test]
    fn an_event_becomes_an_rfc5424_message() {
        let row = AuditRow {
            id: 7,
            at: 1_795_000_000_123,
            actor: "alice".into(),
            action: "console.login".into(),
            object: "user:alice".into(),
            detail: "{}".into(),
            prev_hash: String::new(),
            hash: "ab".into(),
            seq: 7,
            device: "copier \"B\"]".into(),
            outcome: "failure".into(),
        };
        let m = format(&row, Facility(10), "folio-1");
        assert!(m.starts_with("<84>1 2026-"), "{m}");
        assert!(m.contains(" folio-1 folio "), "{m}");
        assert!(m.contains("[folio@32473 seq=\"7\" actor=\"alice\""), "{m}");
        assert!(m.contains("device=\"copier \\\"B\\\"\\]\""), "{m}");
        assert!(m.ends_with("alice console.login user:alice: {}"), "{m}");
    }
}
