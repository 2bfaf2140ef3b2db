//! Folio as an IPP client of a copier: Print-Job (or Create-Job + Send-Document) with the
//! enforced ticket, Get-Printer-Attributes for its state, Get-Job-Attributes to follow a job.
//! Requests are encoded and answers decoded with Folio's own IPP wire code; HTTP is ureq.

use std::io::Read;
use std::sync::Arc;

use super::{
    CountingReader, DeviceStatus, JobLabel, Limits, OutputError, RemoteOutcome, Sent, Ticket,
};
use crate::domain::ColorMode;
use crate::drivers::{DriverProfile, IppOptions};
use crate::ipp::values::{charset, integer, keyword, language, mime, name, uri};
use crate::ipp::wire::{self, tag, Attr, Group, Request, Response};
use crate::ipp::IppValue;

const PRINT_JOB: u16 = 0x0002;
const CREATE_JOB: u16 = 0x0005;
const SEND_DOCUMENT: u16 = 0x0006;
const GET_JOB_ATTRIBUTES: u16 = 0x0009;
const GET_PRINTER_ATTRIBUTES: u16 = 0x000B;
/// Largest answer read from a copier.
const MAX_RESPONSE: u64 = 1024 * 1024;

/// An IPP copier.
pub struct IppDevice<'a> {
    /// `ipp://HOST[:PORT]/PATH` or `ipps://…`.
    pub uri: &'a str,
    pub options: &'a IppOptions,
    pub limits: Limits,
    /// TLS for `ipps://` (the device's pin, or the trusted roots).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Send documents with a Content-Length instead of chunked (the profile's quirk).
    pub no_chunked_upload: bool,
}

/// The HTTP URL of an IPP URI (both default to port 631).
pub fn http_url(ipp_uri: &str) -> Result<String, OutputError> {
    let (scheme, rest) = ipp_uri
        .split_once("://")
        .ok_or_else(|| OutputError::Unsupported(format!("`{ipp_uri}` is not an IPP URI")))?;
    let http = match scheme.to_ascii_lowercase().as_str() {
        "ipp" => "http",
        "ipps" => "https",
        other => return Err(OutputError::Unsupported(format!("`{other}` is not IPP"))),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let has_port = authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        && !authority.ends_with(']');
    let authority = if has_port {
        authority.to_owned()
    } else {
        format!("{authority}:631")
    };
    Ok(format!("{http}://{authority}{path}"))
}

fn operation_group(device_uri: &str, user: &str) -> Group {
    let mut g = Group::new(tag::OPERATION);
    g.attrs
        .push(Attr::new("attributes-charset", charset("utf-8")));
    g.attrs
        .push(Attr::new("attributes-natural-language", language("en")));
    g.attrs.push(Attr::new("printer-uri", uri(device_uri)));
    g.attrs.push(Attr::new("requesting-user-name", name(user)));
    g
}

fn status_message(r: &Response) -> String {
    r.groups
        .iter()
        .find(|g| g.tag == tag::OPERATION)
        .and_then(|g| g.get("status-message"))
        .and_then(|a| a.values.first())
        .and_then(|v| match v {
            IppValue::TextWithoutLanguage(t) => Some(t.to_string()),
            _ => None,
        })
        .unwrap_or_else(|| crate::ipp::status::keyword(r.status).to_owned())
}

fn first_int(r: &Response, group: u8, attr: &str) -> Option<i32> {
    r.groups
        .iter()
        .filter(|g| g.tag == group)
        .find_map(|g| g.get(attr))
        .and_then(|a| a.values.first())
        .and_then(|v| match v {
            IppValue::Integer(i) | IppValue::Enum(i) => Some(*i),
            _ => None,
        })
}

fn keywords_of(r: &Response, group: u8, attr: &str) -> Vec<String> {
    r.groups
        .iter()
        .filter(|g| g.tag == group)
        .find_map(|g| g.get(attr))
        .map(|a| {
            a.values
                .iter()
                .filter_map(|v| match v {
                    IppValue::Keyword(k) => Some(k.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

impl<'a> IppDevice<'a> {
    /// The device at `uri` driven by `profile`.
    pub fn new(
        uri: &'a str,
        profile: &'a DriverProfile,
        limits: Limits,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> IppDevice<'a> {
        IppDevice {
            uri,
            options: &profile.ipp,
            limits,
            tls,
            no_chunked_upload: profile.quirks.no_chunked_upload,
        }
    }

    fn agent(&self) -> ureq::Agent {
        // Every connection (redirects are not followed) only to the copier networks IT allows.
        let mut builder = ureq::AgentBuilder::new()
            .resolver(self.limits.egress.resolver())
            .redirects(0)
            .timeout_connect(self.limits.connect)
            .timeout_read(self.limits.io)
            .timeout_write(self.limits.io);
        if let Some(tls) = &self.tls {
            builder = builder.tls_config(tls.clone());
        }
        builder.build()
    }

    /// Posts `head` (an encoded request) followed by `document`; `probe` counts document bytes
    /// taken from the spool (so a failure can tell whether any left).
    fn post(
        &self,
        head: Vec<u8>,
        document: Option<(Box<dyn Read + Send + '_>, Option<u64>)>,
        probe: Option<&super::ReadProbe>,
    ) -> Result<Response, OutputError> {
        let url = http_url(self.uri)?;
        let mut request = self
            .agent()
            .post(&url)
            .set("Content-Type", "application/ipp");
        // Some copiers' web servers refuse chunked uploads: tell them the length up front.
        if let Some((_, Some(length))) = &document {
            if self.no_chunked_upload {
                let total = head.len() as u64 + length;
                request = request.set("Content-Length", &total.to_string());
            }
        }
        let document = document.map(|(d, _)| d);
        let result = match document {
            Some(doc) => request.send(std::io::Cursor::new(head).chain(doc)),
            None => request.send_bytes(&head),
        };
        let sent_document = probe.is_some_and(|p| p.bytes() > 0);
        let response = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(code, r)) => {
                return Err(match code {
                    503 => OutputError::Busy,
                    401 | 403 => OutputError::Refused(format!(
                        "the copier asks for authentication (HTTP {code})"
                    )),
                    _ => OutputError::Refused(format!("HTTP {code} {}", r.status_text())),
                })
            }
            Err(ureq::Error::Transport(t)) => {
                if let Some(e) = probe.and_then(|p| p.document_error()) {
                    return Err(OutputError::Document(e));
                }
                let why = t.to_string();
                return Err(if sent_document {
                    OutputError::Ambiguous(why)
                } else {
                    OutputError::Unreachable(why)
                });
            }
        };
        let mut body = Vec::new();
        if let Err(e) = response
            .into_reader()
            .take(MAX_RESPONSE)
            .read_to_end(&mut body)
        {
            return Err(if sent_document {
                OutputError::Ambiguous(e.to_string())
            } else {
                OutputError::Unreachable(e.to_string())
            });
        }
        wire::decode_response(&body).map_err(|e| {
            let why = format!("unreadable IPP answer: {e:?}");
            if sent_document {
                OutputError::Ambiguous(why)
            } else {
                OutputError::Refused(why)
            }
        })
    }

    fn request(&self, operation: u16, id: i32, groups: Vec<Group>) -> Vec<u8> {
        wire::encode_request(&Request {
            version: (2, 0),
            operation,
            request_id: id,
            groups,
        })
    }

    /// The device's state: can it print now, and if not, why (in words for the user).
    pub fn status(&self) -> DeviceStatus {
        let mut op = operation_group(self.uri, "folio");
        op.attrs.push(Attr::set(
            "requested-attributes",
            vec![
                keyword("printer-state"),
                keyword("printer-state-reasons"),
                keyword("printer-is-accepting-jobs"),
            ],
        ));
        let r = match self.post(
            self.request(GET_PRINTER_ATTRIBUTES, 1, vec![op]),
            None,
            None,
        ) {
            Ok(r) => r,
            Err(e) => return DeviceStatus::unreachable(&e.to_string()),
        };
        let state = first_int(&r, tag::PRINTER, "printer-state").unwrap_or(3);
        let accepting = r
            .groups
            .iter()
            .filter(|g| g.tag == tag::PRINTER)
            .find_map(|g| g.get("printer-is-accepting-jobs"))
            .and_then(|a| a.values.first())
            .map(|v| !matches!(v, IppValue::Boolean(false)))
            .unwrap_or(true);
        let reasons: Vec<String> = keywords_of(&r, tag::PRINTER, "printer-state-reasons")
            .into_iter()
            .filter(|k| k != "none")
            .collect();
        status_of(state, accepting, reasons)
    }

    /// What the device says it can do: `(color, duplex, media)`, or `None` when it does not
    /// answer.
    pub fn capabilities(&self) -> Option<(bool, bool, Vec<String>)> {
        let mut op = operation_group(self.uri, "folio");
        op.attrs.push(Attr::set(
            "requested-attributes",
            vec![
                keyword("sides-supported"),
                keyword("print-color-mode-supported"),
                keyword("color-supported"),
                keyword("media-supported"),
            ],
        ));
        let r = self
            .post(
                self.request(GET_PRINTER_ATTRIBUTES, 1, vec![op]),
                None,
                None,
            )
            .ok()?;
        if r.status >= 0x0400 {
            return None;
        }
        let modes = keywords_of(&r, tag::PRINTER, "print-color-mode-supported");
        let color_supported = r
            .groups
            .iter()
            .filter(|g| g.tag == tag::PRINTER)
            .find_map(|g| g.get("color-supported"))
            .and_then(|a| a.values.first())
            .is_some_and(|v| matches!(v, IppValue::Boolean(true)));
        let color = color_supported || modes.iter().any(|m| m == "color");
        let duplex = keywords_of(&r, tag::PRINTER, "sides-supported")
            .iter()
            .any(|s| s.starts_with("two-sided"));
        let media = keywords_of(&r, tag::PRINTER, "media-supported");
        Some((color, duplex, media))
    }

    fn job_groups(
        &self,
        label: &JobLabel,
        ticket: &Ticket,
        format: &str,
        with_format: bool,
    ) -> Vec<Group> {
        let mut op = operation_group(self.uri, &label.user);
        op.attrs.push(Attr::new("job-name", name(&label.name)));
        if with_format {
            op.attrs.push(Attr::new("document-format", mime(format)));
        }
        let mut job = Group::new(tag::JOB);
        job.attrs.push(Attr::new(
            "copies",
            integer(ticket.copies.clamp(1, 999) as i32),
        ));
        job.attrs
            .push(Attr::new("sides", keyword(ticket.sides.keyword())));
        if self.options.print_color_mode {
            job.attrs.push(Attr::new(
                "print-color-mode",
                keyword(ticket.color.keyword()),
            ));
        }
        if let Some(m) = &ticket.media {
            job.attrs.push(Attr::new("media", keyword(m)));
        }
        vec![op, job]
    }

    /// Sends the document with the ticket. Blocks until the device has answered.
    /// `length`: the document's size, when known (needed by copiers that refuse chunked
    /// uploads).
    pub fn print<R: Read + Send>(
        &self,
        label: &JobLabel,
        ticket: &Ticket,
        format: &str,
        document: R,
        length: Option<u64>,
    ) -> Result<Sent, OutputError> {
        if !self.options.print_color_mode && ticket.color == ColorMode::Color {
            return Err(OutputError::Unsupported(
                "this copier's profile cannot ask for colour".into(),
            ));
        }
        let counting = CountingReader::new(document);
        let probe = counting.probe();
        if !self.options.create_job {
            let head = self.request(PRINT_JOB, 1, self.job_groups(label, ticket, format, true));
            let r = self.post(head, Some((Box::new(counting), length)), Some(&probe))?;
            return accepted(&r, probe.bytes()).map(|id| Sent {
                remote_job_id: id,
                bytes: probe.bytes(),
            });
        }
        // Create-Job, then the document in Send-Document.
        let head = self.request(CREATE_JOB, 1, self.job_groups(label, ticket, format, false));
        let created = self.post(head, None, None)?;
        let Some(id) = accepted(&created, 0)? else {
            return Err(OutputError::Refused("the copier gave no job-id".into()));
        };
        let mut op = operation_group(self.uri, &label.user);
        op.attrs.push(Attr::new("job-id", integer(id)));
        op.attrs.push(Attr::new("document-format", mime(format)));
        op.attrs
            .push(Attr::new("last-document", IppValue::Boolean(true)));
        let head = self.request(SEND_DOCUMENT, 2, vec![op]);
        let r = self.post(head, Some((Box::new(counting), length)), Some(&probe))?;
        accepted(&r, probe.bytes())?;
        Ok(Sent {
            remote_job_id: Some(id),
            bytes: probe.bytes(),
        })
    }

    /// The state of the device's job `id`: `(job-state, job-impressions-completed)`.
    pub fn job_state(&self, id: i32, user: &str) -> Result<(i32, Option<i32>), OutputError> {
        let mut op = operation_group(self.uri, user);
        op.attrs.push(Attr::new("job-id", integer(id)));
        op.attrs.push(Attr::set(
            "requested-attributes",
            vec![
                keyword("job-state"),
                keyword("job-state-reasons"),
                keyword("job-impressions-completed"),
            ],
        ));
        let r = self.post(self.request(GET_JOB_ATTRIBUTES, 3, vec![op]), None, None)?;
        if r.status >= 0x0400 {
            return Err(OutputError::Refused(status_message(&r)));
        }
        let state = first_int(&r, tag::JOB, "job-state")
            .ok_or_else(|| OutputError::Refused("no job-state in the answer".into()))?;
        Ok((state, first_int(&r, tag::JOB, "job-impressions-completed")))
    }

    /// Polls job `id` until it ends or `deadline` passes (`None`).
    pub fn follow(
        &self,
        id: i32,
        user: &str,
        every: std::time::Duration,
        deadline: std::time::Instant,
    ) -> Option<RemoteOutcome> {
        loop {
            if let Ok((state, impressions)) = self.job_state(id, user) {
                match state {
                    9 => return Some(RemoteOutcome::Completed { impressions }),
                    8 => {
                        return Some(RemoteOutcome::Aborted {
                            reason: "the copier aborted the job".into(),
                        })
                    }
                    7 => return Some(RemoteOutcome::Canceled),
                    _ => {}
                }
            }
            if std::time::Instant::now() + every > deadline {
                return None;
            }
            std::thread::sleep(every);
        }
    }
}

/// The job id of an accepted job, or why it was not accepted.
fn accepted(r: &Response, document_bytes: u64) -> Result<Option<i32>, OutputError> {
    match r.status {
        0x0000..=0x00FF => Ok(first_int(r, tag::JOB, "job-id")),
        // server-error-service-unavailable, -temporary-error, -busy: the job was not taken.
        0x0502 | 0x0505 | 0x0507 => Err(OutputError::Busy),
        _ if document_bytes > 0 && r.status >= 0x0500 => {
            Err(OutputError::Ambiguous(status_message(r)))
        }
        _ => Err(OutputError::Refused(status_message(r))),
    }
}

/// Reasons that stop a copier from printing, in words.
fn blocking_reason(reason: &str) -> Option<&'static str> {
    let base = reason
        .strip_suffix("-error")
        .or_else(|| reason.strip_suffix("-warning").map(|_| ""))
        .or_else(|| reason.strip_suffix("-report").map(|_| ""))
        .unwrap_or(reason);
    Some(match base {
        "media-empty" | "media-needed" => "out of paper",
        "media-jam" => "paper jam",
        "toner-empty" | "marker-supply-empty" => "out of toner",
        "door-open" | "cover-open" | "interlock-open" => "a door is open",
        "offline" | "shutdown" | "paused" | "moving-to-paused" => "offline",
        "output-area-full" => "output tray full",
        _ => return None,
    })
}

fn status_of(state: i32, accepting: bool, reasons: Vec<String>) -> DeviceStatus {
    let blocking: Vec<&str> = reasons.iter().filter_map(|r| blocking_reason(r)).collect();
    let state_name = match state {
        4 => "processing",
        5 => "stopped",
        _ => "idle",
    };
    let ready = state != 5 && accepting && blocking.is_empty();
    let message = if ready {
        "ready".into()
    } else if let Some(b) = blocking.first() {
        format!("this copier cannot print now: {b}")
    } else if !accepting {
        "this copier is not accepting jobs now".into()
    } else {
        "this copier is stopped".into()
    };
    DeviceStatus {
        ready,
        state: state_name.into(),
        reasons,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipp_uris_become_http_urls_on_631() {
        assert_eq!(
            http_url("ipp://copier/ipp/print").unwrap(),
            "http://copier:631/ipp/print"
        );
        assert_eq!(
            http_url("ipps://copier:8443/ipp").unwrap(),
            "https://copier:8443/ipp"
        );
        assert_eq!(http_url("IPP://10.0.0.1").unwrap(), "http://10.0.0.1:631/");
        assert_eq!(
            http_url("ipp://[::1]/ipp/print").unwrap(),
            "http://[::1]:631/ipp/print"
        );
        assert!(http_url("socket://h:9100").is_err());
    }

    #[test]
    fn device_states_become_sentences() {
        let s = status_of(3, true, vec![]);
        assert!(s.ready);
        let s = status_of(5, true, vec!["media-empty-error".into()]);
        assert!(!s.ready);
        assert!(s.message.contains("out of paper"), "{}", s.message);
        let s = status_of(
            3,
            true,
            vec!["media-low-warning".into(), "toner-low-report".into()],
        );
        assert!(s.ready, "warnings do not stop printing");
        let s = status_of(3, true, vec!["media-jam".into()]);
        assert!(s.message.contains("paper jam"));
        assert!(!status_of(3, false, vec![]).ready);
    }
}
