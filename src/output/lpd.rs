//! LPD (RFC 1179) for copiers that take nothing better: "receive a printer job" on the queue
//! named in the URI (`lpd://HOST[:PORT]/QUEUE`), a control file naming the user and the job,
//! then the data file: the PJL header with the ticket, the document, the PJL trailer. The data
//! file's length must be announced first, so the document's size must be known (Folio knows
//! it: the spool records it).
//!
//! Like raw 9100, LPD gives no news of the printing itself: "sent" is the best knowledge. A
//! failure before the first document byte left means nothing printed; after it, maybe.
//!
//! RFC 1179 asks clients to use source ports 721–731 (root only); copiers do not check it, and
//! Folio does not run as root, so it connects from an ordinary port.

use std::io::{Read, Write};
use std::net::TcpStream;

use super::{pjl, CountingReader, JobLabel, Limits, OutputError, Sent, Ticket};
use crate::domain::ColorMode;
use crate::drivers::{PjlOptions, Protocol};

/// The host name written in control files (RFC 1179 allows 31 characters).
const HOST: &str = "folio";

/// The queue of an `lpd://host/queue` URI (`lp` when none is named).
pub fn queue_of(uri: &str) -> String {
    let rest = uri.split_once("://").map(|(_, r)| r).unwrap_or(uri);
    let queue = rest
        .split_once('/')
        .map(|(_, q)| q)
        .unwrap_or_default()
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .trim_matches('/');
    if queue.is_empty() {
        "lp".into()
    } else {
        queue.into()
    }
}

/// Keeps what a control-file line may hold: printable ASCII, at most `max` characters.
fn field(s: &str, max: usize) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(max)
        .collect()
}

/// One LPD connection.
struct Conn {
    stream: TcpStream,
}

impl Conn {
    /// Sends a command or subcommand line and reads the one-byte acknowledgement.
    fn command(&mut self, line: &[u8]) -> std::io::Result<u8> {
        self.stream.write_all(line)?;
        self.ack()
    }

    fn ack(&mut self) -> std::io::Result<u8> {
        let mut b = [0u8; 1];
        self.stream.read_exact(&mut b)?;
        Ok(b[0])
    }
}

/// Sends `document` (`length` bytes) as LPD job `job_id`. The daemon knows a job by its
/// three-digit number and the host part of its file names; both come from the job id, so two
/// jobs sent at once never share file names.
#[allow(clippy::too_many_arguments)]
pub fn send<R: Read>(
    uri: &str,
    pjl_options: &PjlOptions,
    color_capable: bool,
    label: &JobLabel,
    ticket: &Ticket,
    document: R,
    length: u64,
    job_id: i64,
    limits: Limits,
) -> Result<Sent, OutputError> {
    if ticket.color == ColorMode::Color && !color_capable {
        return Err(OutputError::Unsupported(
            "colour was asked of a device that prints mono only".into(),
        ));
    }
    let address = Protocol::Lpd.address_of(uri);
    let queue = field(&queue_of(uri), 100);
    // Only to the copier networks IT allows (devices.allowed_networks, allowed_ports).
    let addr = limits
        .egress
        .connect_address(&address)
        .map_err(|e| OutputError::Unreachable(format!("{address}: {e}")))?;
    let stream = TcpStream::connect_timeout(&addr, limits.connect)
        .map_err(|e| OutputError::Unreachable(format!("{address}: {e}")))?;
    stream
        .set_write_timeout(Some(limits.io))
        .and_then(|_| stream.set_read_timeout(Some(limits.io)))
        .map_err(|e| OutputError::Unreachable(e.to_string()))?;
    let mut conn = Conn { stream };
    let unreachable = |e: std::io::Error| OutputError::Unreachable(e.to_string());

    // Receive a printer job.
    let ack = conn
        .command(format!("\x02{queue}\n").as_bytes())
        .map_err(unreachable)?;
    if ack != 0 {
        return Err(OutputError::Refused(format!(
            "the device refused the LPD queue `{queue}` (answer {ack})"
        )));
    }
    let (number, rest) = (job_id.rem_euclid(1000), job_id.div_euclid(1000));
    let file = |kind: &str| format!("{kind}A{number:03}{HOST}{rest}");
    let (control_name, data_name) = (file("cf"), file("df"));

    // The control file first (as CUPS sends it): who, what, and "print the data file raw".
    let control = format!(
        "H{HOST}\nP{}\nJ{}\nN{}\nl{data_name}\nU{data_name}\n",
        field(&label.user, 31),
        field(&label.name, 99),
        field(&label.name, 131),
    );
    let ack = conn
        .command(format!("\x02{} {control_name}\n", control.len()).as_bytes())
        .map_err(unreachable)?;
    if ack != 0 {
        return Err(OutputError::Refused(format!(
            "the device refused the control file (answer {ack})"
        )));
    }
    conn.stream
        .write_all(control.as_bytes())
        .and_then(|_| conn.stream.write_all(&[0]))
        .map_err(unreachable)?;
    let ack = conn.ack().map_err(unreachable)?;
    if ack != 0 {
        return Err(OutputError::Refused(format!(
            "the device refused the control file (answer {ack})"
        )));
    }

    // The data file: its length is announced, then exactly that many bytes.
    let header = pjl::header(pjl_options, label, ticket);
    let trailer = pjl::trailer(pjl_options);
    let total = header.len() as u64 + length + trailer.len() as u64;
    let ack = conn
        .command(format!("\x03{total} {data_name}\n").as_bytes())
        .map_err(unreachable)?;
    if ack != 0 {
        return Err(OutputError::Refused(format!(
            "the device refused a data file of {total} bytes (answer {ack})"
        )));
    }
    conn.stream.write_all(&header).map_err(unreachable)?;
    let mut doc = CountingReader::new(document.take(length));
    let probe = doc.probe();
    let copied = std::io::copy(&mut doc, &mut conn.stream).map_err(|e| {
        match (probe.bytes(), probe.document_error()) {
            (0, Some(d)) => OutputError::Document(d),
            (0, None) => OutputError::Unreachable(e.to_string()),
            // Some devices print while the data file still arrives: past the first byte,
            // nothing can be promised either way.
            (_, Some(d)) => OutputError::Ambiguous(format!("the document could not be read: {d}")),
            (_, None) => {
                OutputError::Ambiguous(format!("the connection failed while sending: {e}"))
            }
        }
    })?;
    if copied != length {
        // The device waits for bytes that will not come; it drops the job when we hang up.
        return Err(OutputError::Ambiguous(format!(
            "the document was {copied} bytes, not the {length} announced"
        )));
    }
    let ambiguous = |e: std::io::Error| OutputError::Ambiguous(e.to_string());
    conn.stream
        .write_all(&trailer)
        .and_then(|_| conn.stream.write_all(&[0]))
        .and_then(|_| conn.stream.flush())
        .map_err(ambiguous)?;
    match conn.ack() {
        Ok(0) => {}
        // Refused after the whole data file went out: it may have started printing.
        Ok(n) => {
            return Err(OutputError::Ambiguous(format!(
                "the device refused the data file after receiving it (answer {n})"
            )))
        }
        Err(e) => return Err(ambiguous(e)),
    }
    let _ = conn.stream.shutdown(std::net::Shutdown::Both);
    Ok(Sent {
        remote_job_id: None,
        bytes: probe.bytes(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_comes_from_the_path() {
        assert_eq!(queue_of("lpd://copier.chu.fr/print"), "print");
        assert_eq!(queue_of("lpd://copier.chu.fr:515/BINARY_P1/"), "BINARY_P1");
        assert_eq!(queue_of("lpd://copier.chu.fr"), "lp");
        assert_eq!(queue_of("lpd://copier.chu.fr/?x=1"), "lp");
    }

    #[test]
    fn control_fields_keep_printable_ascii_only() {
        assert_eq!(field("Dr Émile\n\u{1b}P", 31), "Dr mileP");
        assert_eq!(field(&"x".repeat(50), 31).len(), 31);
    }
}
