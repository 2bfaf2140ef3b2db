//! Raw TCP (port 9100, "AppSocket/JetDirect") with a PJL header: the ticket as the profile's
//! `@PJL SET` lines, the document, and the closing UEL. There is no answer on this protocol:
//! once the last byte is written and the connection closed cleanly, "sent" is all Folio knows.

use std::io::{Read, Write};
use std::net::TcpStream;

use super::{CountingReader, JobLabel, Limits, OutputError, Sent, Ticket};
use crate::domain::{ColorMode, Sides};
use crate::drivers::PjlOptions;

/// The Universal Exit Language sequence that starts and ends a PJL job.
pub const UEL: &[u8] = b"\x1b%-12345X";

/// The PJL header for `ticket` (without the document).
pub fn header(pjl: &PjlOptions, label: &JobLabel, ticket: &Ticket) -> Vec<u8> {
    let mut lines: Vec<String> = Vec::new();
    // PJL strings are quoted and end at a line: keep only printable ASCII without quotes.
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_graphic() || *c == ' ')
            .filter(|c| *c != '"')
            .take(80)
            .collect()
    };
    if pjl.job_wrapper {
        lines.push(format!("@PJL JOB NAME=\"{}\"", clean(&label.name)));
    }
    lines.push(format!("@PJL SET USERNAME=\"{}\"", clean(&label.user)));
    let duplex = match ticket.sides {
        Sides::OneSided => &pjl.duplex_off,
        Sides::TwoSidedLongEdge | Sides::TwoSidedShortEdge => &pjl.duplex_on,
    };
    lines.extend(duplex.iter().cloned());
    if ticket.sides == Sides::TwoSidedShortEdge {
        lines.retain(|l| !l.contains("BINDING="));
        lines.push("@PJL SET BINDING=SHORTEDGE".into());
    }
    let color = match ticket.color {
        ColorMode::Color => &pjl.color,
        _ => &pjl.mono,
    };
    lines.extend(color.iter().cloned());
    lines.push(
        pjl.copies
            .replace("{copies}", &ticket.copies.clamp(1, 999).to_string()),
    );
    lines.push(format!("@PJL ENTER LANGUAGE = {}", pjl.language));
    let mut out = UEL.to_vec();
    for l in lines {
        out.extend_from_slice(l.as_bytes());
        out.push(b'\n');
    }
    out
}

/// The PJL trailer.
pub fn trailer(pjl: &PjlOptions) -> Vec<u8> {
    let mut out = UEL.to_vec();
    if pjl.job_wrapper {
        out.extend_from_slice(b"@PJL EOJ\n");
        out.extend_from_slice(UEL);
    }
    out
}

/// Sends the job to `host:port`. Colour is sent only if the profile can ask for it.
pub fn send<R: Read>(
    address: &str,
    pjl: &PjlOptions,
    color_capable: bool,
    label: &JobLabel,
    ticket: &Ticket,
    document: R,
    limits: Limits,
) -> Result<Sent, OutputError> {
    if ticket.color == ColorMode::Color && !color_capable {
        return Err(OutputError::Unsupported(
            "colour was asked of a device that prints mono only".into(),
        ));
    }
    // Only to the copier networks IT allows (devices.allowed_networks, allowed_ports).
    let addr = limits
        .egress
        .connect_address(address)
        .map_err(|e| OutputError::Unreachable(format!("{address}: {e}")))?;
    let mut stream = TcpStream::connect_timeout(&addr, limits.connect)
        .map_err(|e| OutputError::Unreachable(format!("{address}: {e}")))?;
    stream
        .set_write_timeout(Some(limits.io))
        .and_then(|_| stream.set_nodelay(true))
        .map_err(|e| OutputError::Unreachable(e.to_string()))?;
    let mut doc = CountingReader::new(document);
    let probe = doc.probe();
    // Until the first document byte is written, a failure printed nothing.
    stream
        .write_all(&header(pjl, label, ticket))
        .map_err(|e| OutputError::Unreachable(e.to_string()))?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = doc.read(&mut buf).map_err(|e| {
            if probe.bytes() == 0 {
                OutputError::Document(e.to_string())
            } else {
                // Half a document may print as garbage pages: say so, never resend blindly.
                OutputError::Ambiguous(format!("the document could not be read: {e}"))
            }
        })?;
        if n == 0 {
            break;
        }
        stream.write_all(&buf[..n]).map_err(|e| {
            OutputError::Ambiguous(format!("the connection failed while sending: {e}"))
        })?;
    }
    stream
        .write_all(&trailer(pjl))
        .and_then(|_| stream.flush())
        .map_err(|e| OutputError::Ambiguous(e.to_string()))?;
    // A clean close: the device has every byte it will get.
    let _ = stream.shutdown(std::net::Shutdown::Write);
    Ok(Sent {
        remote_job_id: None,
        bytes: probe.bytes(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pjl() -> PjlOptions {
        crate::drivers::Drivers::load(None)
            .unwrap()
            .get("hp-laserjet-enterprise")
            .unwrap()
            .pjl
            .clone()
            .unwrap()
    }

    #[test]
    fn the_header_carries_the_ticket() {
        let label = JobLabel {
            user: "alice".into(),
            name: "Folio job \"7\"\n@PJL".into(),
        };
        let ticket = Ticket {
            sides: Sides::TwoSidedLongEdge,
            color: ColorMode::Monochrome,
            copies: 2,
            media: None,
        };
        let h = String::from_utf8(header(&pjl(), &label, &ticket)).unwrap();
        assert!(
            h.starts_with("\x1b%-12345X@PJL JOB NAME=\"Folio job 7@PJL\"\n"),
            "{h:?}"
        );
        assert!(h.contains("@PJL SET DUPLEX=ON\n@PJL SET BINDING=LONGEDGE\n"));
        assert!(h.contains("@PJL SET PLANESINUSE=1\n"));
        assert!(h.contains("@PJL SET COPIES=2\n"));
        assert!(h.ends_with("@PJL ENTER LANGUAGE = PDF\n"));
        assert_eq!(
            h.matches('\n').count(),
            h.lines().count(),
            "one command per line"
        );
        let t = trailer(&pjl());
        assert_eq!(t, b"\x1b%-12345X@PJL EOJ\n\x1b%-12345X");
    }

    #[test]
    fn colour_is_never_sent_to_a_mono_device() {
        let label = JobLabel {
            user: "a".into(),
            name: "j".into(),
        };
        let ticket = Ticket {
            sides: Sides::OneSided,
            color: ColorMode::Color,
            copies: 1,
            media: None,
        };
        let e = send(
            "127.0.0.1:9",
            &pjl(),
            false,
            &label,
            &ticket,
            &b""[..],
            Limits::default(),
        )
        .unwrap_err();
        assert!(matches!(e, OutputError::Unsupported(_)));
    }
}
