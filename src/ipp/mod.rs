//! IPP: the one virtual queue at `/ipp/print`.
//!
//! Three tiers, as in PAPPL: [`handle`] reads the attribute section and checks the envelope
//! once (version, request-id, group order, charset and language first, a target), then
//! dispatches one function per operation in [`printer`] or [`job`]. Failures are IPP status
//! codes with a `status-message` in an HTTP 200; nothing here touches SQL.

pub mod auth;
mod body;
mod job;
mod job_attrs;
mod printer;
pub mod printer_attrs;
mod template;
pub mod values;
pub mod wire;

use std::time::Instant;

use actix_web::{web, HttpRequest, HttpResponse};
pub use ipp::value::IppValue;

use crate::metrics::METRICS;
use crate::spool::{Spool, SpoolError};
use body::Body;
use values::*;
use wire::{tag, Attr, Group, Request, Response};

/// Path of the virtual queue.
pub const QUEUE_PATH: &str = "/ipp/print";

/// IPP status codes Folio answers with (RFC 8011 §B, PWG 5100.x).
pub mod status {
    pub const OK: u16 = 0x0000;
    pub const OK_IGNORED_OR_SUBSTITUTED: u16 = 0x0001;
    pub const BAD_REQUEST: u16 = 0x0400;
    pub const NOT_AUTHENTICATED: u16 = 0x0402;
    pub const NOT_AUTHORIZED: u16 = 0x0403;
    pub const NOT_POSSIBLE: u16 = 0x0404;
    pub const NOT_FOUND: u16 = 0x0406;
    pub const REQUEST_ENTITY_TOO_LARGE: u16 = 0x0408;
    pub const DOCUMENT_FORMAT_NOT_SUPPORTED: u16 = 0x040A;
    pub const ATTRIBUTES_OR_VALUES_NOT_SUPPORTED: u16 = 0x040B;
    pub const CHARSET_NOT_SUPPORTED: u16 = 0x040D;
    pub const COMPRESSION_NOT_SUPPORTED: u16 = 0x040F;
    pub const COMPRESSION_ERROR: u16 = 0x0410;
    pub const DOCUMENT_FORMAT_ERROR: u16 = 0x0411;
    pub const INTERNAL_ERROR: u16 = 0x0500;
    pub const OPERATION_NOT_SUPPORTED: u16 = 0x0501;
    pub const SERVICE_UNAVAILABLE: u16 = 0x0502;
    pub const VERSION_NOT_SUPPORTED: u16 = 0x0503;
    pub const TEMPORARY_ERROR: u16 = 0x0505;
    pub const BUSY: u16 = 0x0507;
    pub const MULTIPLE_DOCUMENT_JOBS_NOT_SUPPORTED: u16 = 0x0509;

    /// The keyword of a status code, for metrics and logs.
    pub fn keyword(code: u16) -> &'static str {
        match code {
            OK => "successful-ok",
            OK_IGNORED_OR_SUBSTITUTED => "successful-ok-ignored-or-substituted-attributes",
            BAD_REQUEST => "client-error-bad-request",
            NOT_AUTHENTICATED => "client-error-not-authenticated",
            NOT_AUTHORIZED => "client-error-not-authorized",
            NOT_POSSIBLE => "client-error-not-possible",
            NOT_FOUND => "client-error-not-found",
            REQUEST_ENTITY_TOO_LARGE => "client-error-request-entity-too-large",
            DOCUMENT_FORMAT_NOT_SUPPORTED => "client-error-document-format-not-supported",
            ATTRIBUTES_OR_VALUES_NOT_SUPPORTED => "client-error-attributes-or-values-not-supported",
            CHARSET_NOT_SUPPORTED => "client-error-charset-not-supported",
            COMPRESSION_NOT_SUPPORTED => "client-error-compression-not-supported",
            COMPRESSION_ERROR => "client-error-compression-error",
            DOCUMENT_FORMAT_ERROR => "client-error-document-format-error",
            INTERNAL_ERROR => "server-error-internal-error",
            OPERATION_NOT_SUPPORTED => "server-error-operation-not-supported",
            SERVICE_UNAVAILABLE => "server-error-service-unavailable",
            VERSION_NOT_SUPPORTED => "server-error-version-not-supported",
            TEMPORARY_ERROR => "server-error-temporary-error",
            MULTIPLE_DOCUMENT_JOBS_NOT_SUPPORTED => {
                "server-error-multiple-document-jobs-not-supported"
            }
            _ => "other",
        }
    }
}

/// An IPP failure: a status code, a message for the user, and attributes to report as
/// unsupported.
#[derive(Debug, Clone)]
pub struct IppError {
    pub status: u16,
    pub message: String,
    pub unsupported: Vec<Attr>,
}

impl IppError {
    pub fn new(status: u16, message: impl Into<String>) -> IppError {
        IppError {
            status,
            message: message.into(),
            unsupported: Vec::new(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> IppError {
        IppError::new(status::BAD_REQUEST, message)
    }
}

impl From<SpoolError> for IppError {
    fn from(e: SpoolError) -> IppError {
        use crate::document::DocumentError;
        let status = match &e {
            SpoolError::TooLarge { .. } => status::REQUEST_ENTITY_TOO_LARGE,
            SpoolError::Document(DocumentError::Unsupported(_)) => {
                status::DOCUMENT_FORMAT_NOT_SUPPORTED
            }
            SpoolError::Document(DocumentError::Malformed(_)) => status::DOCUMENT_FORMAT_ERROR,
            SpoolError::Document(DocumentError::Unavailable(_)) => status::TEMPORARY_ERROR,
            SpoolError::Compression(_) => status::COMPRESSION_ERROR,
            SpoolError::NotFound => status::NOT_FOUND,
            SpoolError::NotPossible(_) => status::NOT_POSSIBLE,
            SpoolError::SpaceLow { .. } => status::BUSY,
            _ if e.is_disk_full() => status::TEMPORARY_ERROR,
            SpoolError::ShuttingDown => status::TEMPORARY_ERROR,
            _ => status::INTERNAL_ERROR,
        };
        if status == status::INTERNAL_ERROR || status == status::TEMPORARY_ERROR {
            // The client gets a short message; the log gets the cause.
            tracing::error!(error = %e, "spool failure");
            let message = if e.is_disk_full() {
                "the spool is full; try again later"
            } else {
                "the job could not be stored; try again later"
            };
            return IppError::new(status, message);
        }
        IppError::new(status, e.to_string())
    }
}

/// Static facts about the queue.
#[derive(Debug, Clone)]
pub struct QueueInfo {
    pub name: String,
    pub location: String,
    pub max_job_bytes: u64,
    /// "multiple-operation-time-out": seconds a Create-Job waits for its document.
    pub incoming_timeout_secs: u64,
    pub started_ms: i64,
    pub uuid: String,
}

/// The IPP service: the queue's facts, the spool behind it, and who may use it.
#[derive(Clone)]
pub struct IppService {
    pub spool: Spool,
    pub info: std::sync::Arc<QueueInfo>,
    pub auth: std::sync::Arc<auth::IppAuth>,
    /// IT's print rules.
    pub policy: crate::policy::PolicyStore,
    /// Monthly page budgets.
    pub quotas: crate::policy::quota::Quotas,
    /// Where jobs a rule sends straight to a device go once held.
    pub lane: crate::release::ClinicalLane,
}

/// What every operation knows about the request it serves.
pub struct Ctx<'a> {
    pub svc: &'a IppService,
    pub req: &'a Request,
    /// The directory uid the request acts as (see [`auth`]), or `anonymous`.
    pub user: String,
    /// `ipp://host:port` as the client addressed us.
    pub base: String,
    pub peer: Option<String>,
    /// The client's `User-Agent` (the submitting application, for rules).
    pub user_agent: String,
}

impl Ctx<'_> {
    /// True when the caller owns `owner`'s jobs. Nobody owns the jobs of `anonymous`: a client
    /// that gives no name can submit, but never read the names of or cancel anonymous jobs.
    pub fn owns(&self, owner: &str) -> bool {
        self.user == owner && self.user != crate::domain::ANONYMOUS
    }

    /// The operation attributes group (present: the envelope check guarantees it).
    pub fn op(&self) -> &Group {
        &self.req.groups[0]
    }

    /// The first value of an operation attribute.
    pub fn op_value(&self, name: &str) -> Option<&IppValue> {
        self.op().get(name).and_then(|a| a.values.first())
    }

    /// The queue's URI as this client addresses it.
    pub fn printer_uri(&self) -> String {
        format!("{}{QUEUE_PATH}", self.base)
    }

    /// A job's URI.
    pub fn job_uri(&self, id: i64) -> String {
        format!("{}{QUEUE_PATH}/{id}", self.base)
    }

    /// The groups after the operation group with `tag`.
    pub fn groups_of(&self, t: u8) -> impl Iterator<Item = &Group> {
        self.req.groups.iter().filter(move |g| g.tag == t)
    }
}

/// What an operation answers on success.
pub struct Reply {
    pub status: u16,
    pub message: Option<String>,
    pub groups: Vec<Group>,
    pub unsupported: Vec<Attr>,
}

impl Reply {
    pub fn ok(groups: Vec<Group>) -> Reply {
        Reply {
            status: status::OK,
            message: None,
            groups,
            unsupported: Vec::new(),
        }
    }

    /// Reports attributes that were ignored or substituted (status 0x0001 when any).
    pub fn with_unsupported(mut self, unsupported: Vec<Attr>) -> Reply {
        if !unsupported.is_empty() && self.status == status::OK {
            self.status = status::OK_IGNORED_OR_SUBSTITUTED;
        }
        self.unsupported.extend(unsupported);
        self
    }
}

/// The most bytes of attributes accepted before the document data.
pub const MAX_ATTRIBUTE_BYTES: usize = 256 * 1024;

/// The actix handler for POST /ipp/print (and /ipp/print/{job}).
pub async fn handle(
    svc: web::Data<IppService>,
    http: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let started = Instant::now();
    // IPP travels as application/ipp (RFC 8010): anything else is not a print client, and
    // could be another site's page posting a form with the browser's saved password.
    let is_ipp = http
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/ipp"));
    if !is_ipp {
        return HttpResponse::UnsupportedMediaType()
            .content_type("text/plain; charset=utf-8")
            .body("IPP requests are sent as application/ipp\n");
    }
    let mut body = Body::new(payload);
    // A declared length beyond the largest job is refused after the attribute section only
    // (to answer in IPP), never read to the end; the connection is then closed.
    let max_body = svc
        .info
        .max_job_bytes
        .saturating_add(MAX_ATTRIBUTE_BYTES as u64);
    let oversized = http
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n > max_body);
    let (version, request_id, op, result) = match body.read_request(MAX_ATTRIBUTE_BYTES).await {
        Ok(req) if oversized => {
            let max_mb = svc.info.max_job_bytes / (1024 * 1024);
            tracing::warn!(max_mb, "IPP request larger than allowed: refused unread");
            let e = IppError::new(
                status::REQUEST_ENTITY_TOO_LARGE,
                format!("the document is larger than the {max_mb} MB allowed"),
            );
            (req.version, req.request_id, req.operation, Err(e))
        }
        Ok(req) => {
            let version = if matches!(req.version.0, 1 | 2) {
                req.version
            } else {
                (1, 1)
            };
            let (rid, op) = (req.request_id, req.operation);
            let result = process(&svc, &http, &req, &mut body).await;
            (version, rid, op, result)
        }
        Err((header, e)) => {
            let (version, rid, op) = header.unwrap_or(((1, 1), 0, 0));
            let version = if matches!(version.0, 1 | 2) {
                version
            } else {
                (1, 1)
            };
            (version, rid, op, Err(e))
        }
    };
    // Whatever the outcome, the rest of the body is read so the connection stays usable. A
    // declared oversized body is not waited for: the answer goes now, the connection closes,
    // and what the client is still sending is discarded for a few seconds behind the answer so
    // that a client writing its whole body before reading still gets it.
    if oversized {
        actix_web::rt::spawn(async move {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), body.drain()).await;
        });
    } else {
        body.drain().await;
    }
    let challenge = matches!(&result, Err(e) if e.status == status::NOT_AUTHENTICATED);
    let response = match result {
        Ok(reply) => build_response(
            version,
            request_id,
            reply.status,
            reply.message.as_deref(),
            reply.unsupported,
            reply.groups,
        ),
        Err(e) => {
            tracing::debug!(status = status::keyword(e.status), message = %e.message, "IPP request refused");
            build_response(
                version,
                request_id,
                e.status,
                Some(&e.message),
                e.unsupported,
                Vec::new(),
            )
        }
    };
    let op_name = operation_name(op);
    METRICS
        .ipp_requests
        .with_label_values(&[
            op_name,
            status::keyword(u16::from_be_bytes([response[2], response[3]])),
        ])
        .inc();
    METRICS
        .ipp_duration
        .with_label_values(&[op_name])
        .observe(started.elapsed().as_secs_f64());
    if challenge {
        // HTTP 401 is what makes CUPS, macOS and Windows ask for a password.
        return HttpResponse::Unauthorized()
            .insert_header((
                actix_web::http::header::WWW_AUTHENTICATE,
                "Basic realm=\"Folio\", charset=\"UTF-8\"",
            ))
            .content_type("application/ipp")
            .body(response);
    }
    let mut ok = HttpResponse::Ok();
    if oversized {
        ok.insert_header((actix_web::http::header::CONNECTION, "close"));
    }
    ok.content_type("application/ipp").body(response)
}

fn build_response(
    version: (u8, u8),
    request_id: i32,
    code: u16,
    message: Option<&str>,
    unsupported: Vec<Attr>,
    groups: Vec<Group>,
) -> Vec<u8> {
    let mut op = Group::new(tag::OPERATION);
    op.attrs
        .push(Attr::new("attributes-charset", charset("utf-8")));
    op.attrs
        .push(Attr::new("attributes-natural-language", language("en")));
    if let Some(m) = message {
        op.attrs
            .push(Attr::new("status-message", text(wire::cut(m, 255))));
    }
    let mut all = vec![op];
    if !unsupported.is_empty() {
        all.push(Group {
            tag: tag::UNSUPPORTED,
            attrs: unsupported,
        });
    }
    all.extend(groups);
    wire::encode(&Response {
        version,
        status: code,
        request_id,
        groups: all,
    })
}

/// Checks the envelope (RFC 8011 §4.1), then dispatches the operation.
async fn process(
    svc: &IppService,
    http: &HttpRequest,
    req: &Request,
    body: &mut Body,
) -> Result<Reply, IppError> {
    if !matches!(req.version.0, 1 | 2) {
        return Err(IppError::new(
            status::VERSION_NOT_SUPPORTED,
            format!(
                "IPP version {}.{} is not supported (1.1 and 2.0 are)",
                req.version.0, req.version.1
            ),
        ));
    }
    if req.request_id <= 0 {
        return Err(IppError::bad_request(
            "request-id must be between 1 and 2147483647",
        ));
    }
    check_groups(req)?;
    let op = &req.groups[0];
    match op.attrs.first() {
        Some(a) if a.name == "attributes-charset" => match a.values.as_slice() {
            [IppValue::Charset(c)] => {
                if !matches!(
                    c.as_str().to_ascii_lowercase().as_str(),
                    "utf-8" | "us-ascii"
                ) {
                    return Err(IppError::new(
                        status::CHARSET_NOT_SUPPORTED,
                        format!("charset {} is not supported", c.as_str()),
                    ));
                }
            }
            _ => {
                return Err(IppError::bad_request(
                    "attributes-charset must be one charset value",
                ))
            }
        },
        _ => {
            return Err(IppError::bad_request(
                "the first attribute must be attributes-charset",
            ))
        }
    }
    match op.attrs.get(1) {
        Some(a) if a.name == "attributes-natural-language" => {
            if !matches!(a.values.as_slice(), [IppValue::NaturalLanguage(_)]) {
                return Err(IppError::bad_request(
                    "attributes-natural-language must be one naturalLanguage value",
                ));
            }
        }
        _ => {
            return Err(IppError::bad_request(
                "the second attribute must be attributes-natural-language",
            ))
        }
    }
    for name in [
        "attributes-charset",
        "attributes-natural-language",
        "printer-uri",
        "job-uri",
        "job-id",
        "requesting-user-name",
    ] {
        if op.attrs.iter().filter(|a| a.name == name).count() > 1 {
            return Err(IppError::bad_request(format!(
                "{name} appears more than once"
            )));
        }
    }
    let target = target(req)?;
    let user = svc.auth.identify(http, op, req.operation).await?;
    let ctx = Ctx {
        svc,
        req,
        user,
        base: base_uri(op, http),
        peer: http.peer_addr().map(|a| a.ip().to_string()),
        user_agent: http
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect(),
    };
    crate::web::guard::record("user", &ctx.user);
    if let Target::Job(id) = target {
        crate::web::guard::record("job_id", &id);
    }
    crate::web::guard::record("operation", &operation_name(req.operation));
    dispatch(&ctx, target, body).await
}

/// `scheme://host:port` as the client addressed the queue: from its printer-uri or job-uri
/// (what it will compare our URIs with), else from the Host header.
fn base_uri(op: &Group, http: &HttpRequest) -> String {
    for name in ["printer-uri", "job-uri"] {
        if let Some(IppValue::Uri(u)) = op.get(name).and_then(|a| a.values.first()) {
            if let Some(base) = authority_prefix(u.as_str()) {
                return base.to_owned();
            }
        }
    }
    format!("ipp://{}", http.connection_info().host())
}

/// `scheme://authority` of a URI, when it has a non-empty authority.
fn authority_prefix(uri: &str) -> Option<&str> {
    let start = uri.find("://")? + 3;
    let end = uri[start..].find('/').map_or(uri.len(), |i| start + i);
    (end > start).then(|| &uri[..end])
}

/// Groups must start with the operation group, appear in ascending order, and the operation
/// group only once.
fn check_groups(req: &Request) -> Result<(), IppError> {
    let Some(first) = req.groups.first() else {
        return Err(IppError::bad_request(
            "the request has no operation attributes",
        ));
    };
    if first.tag != tag::OPERATION {
        return Err(IppError::bad_request(
            "the first attribute group must be operation-attributes",
        ));
    }
    let mut previous = tag::OPERATION;
    for g in &req.groups[1..] {
        if g.tag == tag::OPERATION || g.tag < previous {
            return Err(IppError::bad_request("attribute groups are out of order"));
        }
        previous = g.tag;
    }
    Ok(())
}

/// What a request is addressed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Printer,
    Job(i64),
}

fn path_of(uri: &str) -> Option<&str> {
    let rest = uri
        .strip_prefix("ipp://")
        .or_else(|| uri.strip_prefix("ipps://"))
        .or_else(|| uri.strip_prefix("http://"))
        .or_else(|| uri.strip_prefix("https://"))?;
    Some(rest.find('/').map(|i| &rest[i..]).unwrap_or("/"))
}

/// Resolves `printer-uri` (+ `job-id`) or `job-uri` into a target.
fn target(req: &Request) -> Result<Target, IppError> {
    let op = &req.groups[0];
    let uri_of = |name: &str| -> Result<Option<String>, IppError> {
        match op.get(name).map(|a| a.values.as_slice()) {
            None => Ok(None),
            Some([IppValue::Uri(u)]) => Ok(Some(u.as_str().to_owned())),
            Some(_) => Err(IppError::bad_request(format!(
                "{name} must be one uri value"
            ))),
        }
    };
    if let Some(uri) = uri_of("job-uri")? {
        let path =
            path_of(&uri).ok_or_else(|| IppError::bad_request("job-uri is not an ipp URI"))?;
        let id = path
            .strip_prefix(QUEUE_PATH)
            .and_then(|p| p.strip_prefix('/'))
            .and_then(|p| p.parse::<i64>().ok())
            .filter(|id| *id > 0)
            .ok_or_else(|| IppError::new(status::NOT_FOUND, "no such job"))?;
        return Ok(Target::Job(id));
    }
    let Some(uri) = uri_of("printer-uri")? else {
        return Err(IppError::bad_request("missing printer-uri or job-uri"));
    };
    let path =
        path_of(&uri).ok_or_else(|| IppError::bad_request("printer-uri is not an ipp URI"))?;
    if path.trim_end_matches('/') != QUEUE_PATH {
        return Err(IppError::new(
            status::NOT_FOUND,
            format!("no printer at {path}; print to {QUEUE_PATH}"),
        ));
    }
    match op.get("job-id").map(|a| a.values.as_slice()) {
        None => Ok(Target::Printer),
        Some([IppValue::Integer(id)]) if *id > 0 => Ok(Target::Job(*id as i64)),
        Some(_) => Err(IppError::bad_request("job-id must be one positive integer")),
    }
}

fn requesting_user(op: &Group) -> Result<String, IppError> {
    match op.get("requesting-user-name").map(|a| a.values.as_slice()) {
        None => Ok(crate::domain::ANONYMOUS.to_owned()),
        Some([v @ (IppValue::NameWithoutLanguage(_) | IppValue::NameWithLanguage { .. })]) => {
            as_text(v)
                .and_then(crate::domain::UserName::parse)
                .map(|u| u.as_str().to_owned())
                .ok_or_else(|| {
                    IppError::bad_request("requesting-user-name is not a valid user name")
                })
        }
        Some(_) => Err(IppError::bad_request(
            "requesting-user-name must be one name value",
        )),
    }
}

/// The operation's name, for metrics and logs.
pub fn operation_name(op: u16) -> &'static str {
    match op {
        0x02 => "Print-Job",
        0x04 => "Validate-Job",
        0x05 => "Create-Job",
        0x06 => "Send-Document",
        0x08 => "Cancel-Job",
        0x09 => "Get-Job-Attributes",
        0x0A => "Get-Jobs",
        0x0B => "Get-Printer-Attributes",
        0x0C => "Hold-Job",
        0x0D => "Release-Job",
        0x39 => "Cancel-My-Jobs",
        0x3B => "Close-Job",
        _ => "other",
    }
}

async fn dispatch(ctx: &Ctx<'_>, target: Target, body: &mut Body) -> Result<Reply, IppError> {
    let op = ctx.req.operation;
    let needs_job = matches!(op, 0x06 | 0x08 | 0x09 | 0x0C | 0x0D | 0x3B);
    if needs_job && target == Target::Printer {
        return Err(IppError::bad_request(
            "this operation needs a job-id or job-uri",
        ));
    }
    match (op, target) {
        (0x02, _) => printer::print_job(ctx, body).await,
        (0x04, _) => printer::validate_job(ctx).await,
        (0x05, _) => printer::create_job(ctx).await,
        (0x0A, _) => printer::get_jobs(ctx).await,
        (0x0B, _) => printer::get_printer_attributes(ctx).await,
        (0x39, _) => printer::cancel_my_jobs(ctx).await,
        (0x06, Target::Job(id)) => job::send_document(ctx, id, body).await,
        (0x08, Target::Job(id)) => job::cancel_job(ctx, id).await,
        (0x09, Target::Job(id)) => job::get_job_attributes(ctx, id).await,
        (0x0C, Target::Job(id)) => job::hold_job(ctx, id).await,
        (0x0D, Target::Job(id)) => job::release_job(ctx, id).await,
        (0x3B, Target::Job(id)) => job::close_job(ctx, id).await,
        _ => Err(IppError::new(
            status::OPERATION_NOT_SUPPORTED,
            format!("operation 0x{op:04x} is not supported by this queue"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authority_of_odd_uris_never_panics() {
        assert_eq!(
            authority_prefix("ipp://host:631/ipp/print"),
            Some("ipp://host:631")
        );
        assert_eq!(authority_prefix("ipp://host:631"), Some("ipp://host:631"));
        assert_eq!(authority_prefix("ipp://"), None);
        assert_eq!(authority_prefix("ipp:///x"), None);
        assert_eq!(authority_prefix("ipp://hé"), Some("ipp://hé"));
        assert_eq!(authority_prefix("nothing"), None);
    }

    #[test]
    fn a_uri_path_is_found_or_defaults_to_root() {
        assert_eq!(path_of("ipp://h/ipp/print"), Some("/ipp/print"));
        assert_eq!(path_of("ipp://"), Some("/"));
        assert_eq!(path_of("ftp://h/x"), None);
    }
}
