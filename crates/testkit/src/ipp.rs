//! Raw IPP for tests: hand-built requests (including malformed ones, which a codec would
//! refuse to write) and a small response parser for assertions. Deliberately independent of
//! the server's own codec, so a bug there cannot hide itself.

use std::fmt::Write as _;

/// IPP delimiter and value tags (RFC 8010 section 3.5).
pub mod tag {
    pub const OPERATION_ATTRIBUTES: u8 = 0x01;
    pub const JOB_ATTRIBUTES: u8 = 0x02;
    pub const END_OF_ATTRIBUTES: u8 = 0x03;
    pub const PRINTER_ATTRIBUTES: u8 = 0x04;
    pub const UNSUPPORTED_ATTRIBUTES: u8 = 0x05;
    pub const UNSUPPORTED_VALUE: u8 = 0x10;
    pub const UNKNOWN: u8 = 0x12;
    pub const NO_VALUE: u8 = 0x13;
    pub const INTEGER: u8 = 0x21;
    pub const BOOLEAN: u8 = 0x22;
    pub const ENUM: u8 = 0x23;
    pub const OCTET_STRING: u8 = 0x30;
    pub const DATE_TIME: u8 = 0x31;
    pub const RESOLUTION: u8 = 0x32;
    pub const RANGE_OF_INTEGER: u8 = 0x33;
    pub const BEG_COLLECTION: u8 = 0x34;
    pub const TEXT_WITH_LANGUAGE: u8 = 0x35;
    pub const NAME_WITH_LANGUAGE: u8 = 0x36;
    pub const END_COLLECTION: u8 = 0x37;
    pub const TEXT_WITHOUT_LANGUAGE: u8 = 0x41;
    pub const NAME_WITHOUT_LANGUAGE: u8 = 0x42;
    pub const KEYWORD: u8 = 0x44;
    pub const URI: u8 = 0x45;
    pub const URI_SCHEME: u8 = 0x46;
    pub const CHARSET: u8 = 0x47;
    pub const NATURAL_LANGUAGE: u8 = 0x48;
    pub const MIME_MEDIA_TYPE: u8 = 0x49;
    pub const MEMBER_ATTR_NAME: u8 = 0x4A;
    pub const EXTENSION: u8 = 0x7F;
}

/// IPP operation ids.
pub mod op {
    pub const PRINT_JOB: u16 = 0x0002;
    pub const PRINT_URI: u16 = 0x0003;
    pub const VALIDATE_JOB: u16 = 0x0004;
    pub const CREATE_JOB: u16 = 0x0005;
    pub const SEND_DOCUMENT: u16 = 0x0006;
    pub const SEND_URI: u16 = 0x0007;
    pub const CANCEL_JOB: u16 = 0x0008;
    pub const GET_JOB_ATTRIBUTES: u16 = 0x0009;
    pub const GET_JOBS: u16 = 0x000A;
    pub const GET_PRINTER_ATTRIBUTES: u16 = 0x000B;
    pub const HOLD_JOB: u16 = 0x000C;
    pub const RELEASE_JOB: u16 = 0x000D;
    pub const RESTART_JOB: u16 = 0x000E;
    pub const PAUSE_PRINTER: u16 = 0x0010;
    pub const RESUME_PRINTER: u16 = 0x0011;
    pub const SET_JOB_ATTRIBUTES: u16 = 0x0014;
    pub const CANCEL_JOBS: u16 = 0x0038;
    pub const CANCEL_MY_JOBS: u16 = 0x0039;
    pub const CLOSE_JOB: u16 = 0x003B;
    pub const IDENTIFY_PRINTER: u16 = 0x003C;
    pub const VALIDATE_DOCUMENT: u16 = 0x003D;
}

/// IPP status codes.
pub mod status {
    pub const SUCCESSFUL_OK: u16 = 0x0000;
    pub const SUCCESSFUL_OK_IGNORED_OR_SUBSTITUTED_ATTRIBUTES: u16 = 0x0001;
    pub const CLIENT_ERROR_BAD_REQUEST: u16 = 0x0400;
    pub const CLIENT_ERROR_FORBIDDEN: u16 = 0x0401;
    pub const CLIENT_ERROR_NOT_AUTHENTICATED: u16 = 0x0402;
    pub const CLIENT_ERROR_NOT_AUTHORIZED: u16 = 0x0403;
    pub const CLIENT_ERROR_NOT_POSSIBLE: u16 = 0x0404;
    pub const CLIENT_ERROR_TIMEOUT: u16 = 0x0405;
    pub const CLIENT_ERROR_NOT_FOUND: u16 = 0x0406;
    pub const CLIENT_ERROR_GONE: u16 = 0x0407;
    pub const CLIENT_ERROR_REQUEST_ENTITY_TOO_LARGE: u16 = 0x0408;
    pub const CLIENT_ERROR_REQUEST_VALUE_TOO_LONG: u16 = 0x0409;
    pub const CLIENT_ERROR_DOCUMENT_FORMAT_NOT_SUPPORTED: u16 = 0x040A;
    pub const CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED: u16 = 0x040B;
    pub const CLIENT_ERROR_URI_SCHEME_NOT_SUPPORTED: u16 = 0x040C;
    pub const CLIENT_ERROR_CHARSET_NOT_SUPPORTED: u16 = 0x040D;
    pub const CLIENT_ERROR_CONFLICTING_ATTRIBUTES: u16 = 0x040E;
    pub const CLIENT_ERROR_COMPRESSION_NOT_SUPPORTED: u16 = 0x040F;
    pub const CLIENT_ERROR_COMPRESSION_ERROR: u16 = 0x0410;
    pub const CLIENT_ERROR_DOCUMENT_FORMAT_ERROR: u16 = 0x0411;
    pub const CLIENT_ERROR_DOCUMENT_ACCESS_ERROR: u16 = 0x0412;
    pub const SERVER_ERROR_INTERNAL_ERROR: u16 = 0x0500;
    pub const SERVER_ERROR_OPERATION_NOT_SUPPORTED: u16 = 0x0501;
    pub const SERVER_ERROR_SERVICE_UNAVAILABLE: u16 = 0x0502;
    pub const SERVER_ERROR_VERSION_NOT_SUPPORTED: u16 = 0x0503;
    pub const SERVER_ERROR_DEVICE_ERROR: u16 = 0x0504;
    pub const SERVER_ERROR_TEMPORARY_ERROR: u16 = 0x0505;
    pub const SERVER_ERROR_NOT_ACCEPTING_JOBS: u16 = 0x0506;
    pub const SERVER_ERROR_BUSY: u16 = 0x0507;
    pub const SERVER_ERROR_JOB_CANCELED: u16 = 0x0508;
    pub const SERVER_ERROR_MULTIPLE_DOCUMENT_JOBS_NOT_SUPPORTED: u16 = 0x0509;
}

/// A hand-built IPP request, for malformed-input tests; nothing is validated.
///
/// `RawIpp::new(op::GET_PRINTER_ATTRIBUTES).operation_prelude(&uri).build()` is a valid
/// request; [`RawIpp::raw`], [`RawIpp::version`] and [`RawIpp::without_end_tag`] break it.
#[derive(Clone, Debug)]
pub struct RawIpp {
    version: (u8, u8),
    operation: u16,
    request_id: u32,
    attributes: Vec<u8>,
    end_tag: bool,
    document: Vec<u8>,
}

impl RawIpp {
    /// An IPP/2.0 request for `operation` with request-id 1 and no attributes yet.
    pub fn new(operation: u16) -> RawIpp {
        RawIpp {
            version: (2, 0),
            operation,
            request_id: 1,
            attributes: Vec::new(),
            end_tag: true,
            document: Vec::new(),
        }
    }

    /// Sets the version-number bytes.
    pub fn version(mut self, major: u8, minor: u8) -> RawIpp {
        self.version = (major, minor);
        self
    }

    /// Sets the request-id.
    pub fn request_id(mut self, id: u32) -> RawIpp {
        self.request_id = id;
        self
    }

    /// Appends a delimiter tag starting an attribute group (see [`tag`]).
    pub fn group(mut self, delimiter: u8) -> RawIpp {
        self.attributes.push(delimiter);
        self
    }

    /// Appends an attribute: value tag, name length and name, value length and value.
    pub fn attr(mut self, value_tag: u8, name: &str, value: &[u8]) -> RawIpp {
        self.attributes.push(value_tag);
        push_with_length(&mut self.attributes, name.as_bytes());
        push_with_length(&mut self.attributes, value);
        self
    }

    /// Appends an additional value of the previous attribute (name length 0).
    pub fn value(mut self, value_tag: u8, value: &[u8]) -> RawIpp {
        self.attributes.push(value_tag);
        push_with_length(&mut self.attributes, b"");
        push_with_length(&mut self.attributes, value);
        self
    }

    /// Appends a string-valued attribute (keyword, name, text, uri, charset, ...).
    pub fn attr_str(self, value_tag: u8, name: &str, value: &str) -> RawIpp {
        self.attr(value_tag, name, value.as_bytes())
    }

    /// Appends an integer or enum attribute.
    pub fn attr_i32(self, value_tag: u8, name: &str, value: i32) -> RawIpp {
        self.attr(value_tag, name, &value.to_be_bytes())
    }

    /// Appends a boolean attribute.
    pub fn attr_bool(self, name: &str, value: bool) -> RawIpp {
        self.attr(tag::BOOLEAN, name, &[u8::from(value)])
    }

    /// Starts the operation group with attributes-charset utf-8, attributes-natural-language en
    /// and printer-uri, in the required order.
    pub fn operation_prelude(self, printer_uri: &str) -> RawIpp {
        self.group(tag::OPERATION_ATTRIBUTES)
            .attr_str(tag::CHARSET, "attributes-charset", "utf-8")
            .attr_str(tag::NATURAL_LANGUAGE, "attributes-natural-language", "en")
            .attr_str(tag::URI, "printer-uri", printer_uri)
    }

    /// Appends arbitrary bytes to the attribute section.
    pub fn raw(mut self, bytes: &[u8]) -> RawIpp {
        self.attributes.extend_from_slice(bytes);
        self
    }

    /// Leaves out the end-of-attributes tag.
    pub fn without_end_tag(mut self) -> RawIpp {
        self.end_tag = false;
        self
    }

    /// Document data sent after the end-of-attributes tag.
    pub fn document(mut self, data: &[u8]) -> RawIpp {
        self.document = data.to_vec();
        self
    }

    /// The request bytes.
    pub fn build(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(9 + self.attributes.len() + self.document.len());
        out.push(self.version.0);
        out.push(self.version.1);
        out.extend_from_slice(&self.operation.to_be_bytes());
        out.extend_from_slice(&self.request_id.to_be_bytes());
        out.extend_from_slice(&self.attributes);
        if self.end_tag {
            out.push(tag::END_OF_ATTRIBUTES);
        }
        out.extend_from_slice(&self.document);
        out
    }
}

pub fn push_with_length(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u16::try_from(bytes.len()).unwrap_or_else(|_| {
        panic!(
            "an IPP name or value is at most 65535 bytes (got {}); use RawIpp::raw for odd lengths",
            bytes.len()
        )
    });
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

/// One attribute value of a parsed IPP response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IppValue {
    /// The delimiter tag of the group the value is in.
    pub group: u8,
    /// The value tag.
    pub value_tag: u8,
    /// The attribute name (repeated for additional values).
    pub name: String,
    /// The raw value bytes.
    pub value: Vec<u8>,
}

impl IppValue {
    /// The value as text; for textWithLanguage/nameWithLanguage, the text part.
    pub fn text(&self) -> String {
        if self.value_tag == tag::TEXT_WITH_LANGUAGE || self.value_tag == tag::NAME_WITH_LANGUAGE {
            if let Some(text) = with_language_text(&self.value) {
                return text;
            }
        }
        String::from_utf8_lossy(&self.value).into_owned()
    }

    /// The value as a big-endian i32 (integer, enum), if it is 4 bytes long.
    pub fn integer(&self) -> Option<i32> {
        <[u8; 4]>::try_from(self.value.as_slice())
            .ok()
            .map(i32::from_be_bytes)
    }
}

/// The text part of a textWithLanguage value: lang length, lang, text length, text.
pub fn with_language_text(value: &[u8]) -> Option<String> {
    let lang_len = usize::from(u16::from_be_bytes([*value.first()?, *value.get(1)?]));
    let rest = value.get(2 + lang_len..)?;
    let text_len = usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?]));
    let text = rest.get(2..2 + text_len)?;
    Some(String::from_utf8_lossy(text).into_owned())
}

/// A parsed IPP response (collections are not interpreted: their member values are listed
/// flat, as they come).
#[derive(Clone, Debug)]
pub struct IppResponse {
    pub version: (u8, u8),
    pub status: u16,
    pub request_id: u32,
    pub values: Vec<IppValue>,
}

impl IppResponse {
    /// All values of attribute `name`.
    pub fn all(&self, name: &str) -> Vec<&IppValue> {
        self.values.iter().filter(|v| v.name == name).collect()
    }

    /// The first value of attribute `name`.
    pub fn first(&self, name: &str) -> Option<&IppValue> {
        self.values.iter().find(|v| v.name == name)
    }

    /// The first value of `name` as text.
    pub fn text(&self, name: &str) -> Option<String> {
        self.first(name).map(IppValue::text)
    }

    /// The first value of `name` as an integer or enum.
    pub fn integer(&self, name: &str) -> Option<i32> {
        self.first(name).and_then(IppValue::integer)
    }

    /// Whether any group has delimiter `group` (e.g. [`tag::UNSUPPORTED_ATTRIBUTES`]).
    pub fn has_group(&self, group: u8) -> bool {
        self.values.iter().any(|v| v.group == group)
    }
}

/// Parses an IPP response; `Err` describes where the bytes stop making sense.
pub fn parse_response(body: &[u8]) -> Result<IppResponse, String> {
    if body.len() < 8 {
        return Err(format!(
            "an IPP response has at least 8 bytes, got {}: {}",
            body.len(),
            hex(body)
        ));
    }
    let mut response = IppResponse {
        version: (body[0], body[1]),
        status: u16::from_be_bytes([body[2], body[3]]),
        request_id: u32::from_be_bytes([body[4], body[5], body[6], body[7]]),
        values: Vec::new(),
    };
    let mut pos = 8;
    let mut group = 0u8;
    let mut name = String::new();
    loop {
        let Some(&value_tag) = body.get(pos) else {
            return Err(format!("no end-of-attributes tag (ran out at byte {pos})"));
        };
        pos += 1;
        if value_tag == tag::END_OF_ATTRIBUTES {
            return Ok(response);
        }
        if value_tag < 0x10 {
            group = value_tag;
            continue;
        }
        let name_bytes = read_with_length(body, &mut pos)
            .ok_or_else(|| format!("truncated attribute name at byte {pos}"))?;
        if !name_bytes.is_empty() {
            name = String::from_utf8_lossy(name_bytes).into_owned();
        }
        let value = read_with_length(body, &mut pos)
            .ok_or_else(|| format!("truncated value of {name:?} at byte {pos}"))?;
        response.values.push(IppValue {
            group,
            value_tag,
            name: name.clone(),
            value: value.to_vec(),
        });
    }
}

pub fn read_with_length<'a>(body: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let len = usize::from(u16::from_be_bytes([*body.get(*pos)?, *body.get(*pos + 1)?]));
    let bytes = body.get(*pos + 2..*pos + 2 + len)?;
    *pos += 2 + len;
    Some(bytes)
}

/// The status code (bytes 2..4) and `status-message` of an IPP response; panics on bodies
/// shorter than 8 bytes. A malformed attribute section just yields no message.
pub fn parse_status(body: &[u8]) -> (u16, Option<String>) {
    assert!(
        body.len() >= 8,
        "not an IPP response ({} bytes): {}",
        body.len(),
        hex(body)
    );
    let status = u16::from_be_bytes([body[2], body[3]]);
    let message = parse_response(body)
        .ok()
        .and_then(|response| response.text("status-message"));
    (status, message)
}

/// Lower-case hex of at most the first 256 bytes.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(2 * bytes.len().min(256) + 3);
    for byte in bytes.iter().take(256) {
        let _ = write!(out, "{byte:02x}");
    }
    if bytes.len() > 256 {
        out.push_str("...");
    }
    out
}
