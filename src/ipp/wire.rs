//! The IPP wire format (RFC 8010): Folio's own request decoder and response encoder, built on
//! the value types of the `ipp` crate.
//!
//! Folio does not use the crate's parser: it panics on some malformed textWithLanguage values,
//! keeps only the first value of a 1setOf inside a collection member and fails a whole request
//! when a name is longer than 255 bytes. This decoder never panics, keeps every value, and
//! truncates over-long names and texts while flagging the attribute so the operation can
//! report the substitution. The encoder writes each value of a 1setOf with its own tag.

use std::collections::BTreeMap;

use bytes::Bytes;
use ipp::model::ValueTag;
use ipp::value::{BoundedString, IppTextValue, IppValue};

/// Delimiter tags (RFC 8010 §3.5.1).
pub mod tag {
    pub const OPERATION: u8 = 0x01;
    pub const JOB: u8 = 0x02;
    pub const END: u8 = 0x03;
    pub const PRINTER: u8 = 0x04;
    pub const UNSUPPORTED: u8 = 0x05;
}

const BEG_COLLECTION: u8 = 0x34;
const END_COLLECTION: u8 = 0x37;
const MEMBER_ATTR_NAME: u8 = 0x4A;
const EXTENSION: u8 = 0x7F;
/// Deepest collection nesting accepted (media-col inside media-col-database is 2).
const MAX_DEPTH: usize = 8;

/// One attribute: a name and its values (more than one for a 1setOf).
#[derive(Debug, Clone, PartialEq)]
pub struct Attr {
    pub name: String,
    pub values: Vec<IppValue>,
    /// A value was longer than its syntax allows and was truncated.
    pub truncated: bool,
}

impl Attr {
    /// An attribute with one value.
    pub fn new(name: &str, value: IppValue) -> Attr {
        Attr {
            name: name.to_owned(),
            values: vec![value],
            truncated: false,
        }
    }

    /// An attribute with several values.
    pub fn set(name: &str, values: Vec<IppValue>) -> Attr {
        Attr {
            name: name.to_owned(),
            values,
            truncated: false,
        }
    }
}

/// An attribute group.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub tag: u8,
    pub attrs: Vec<Attr>,
}

impl Group {
    /// An empty group.
    pub fn new(tag: u8) -> Group {
        Group {
            tag,
            attrs: Vec::new(),
        }
    }

    /// The first attribute called `name`.
    pub fn get(&self, name: &str) -> Option<&Attr> {
        self.attrs.iter().find(|a| a.name == name)
    }
}

/// A decoded request (without its document data).
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub version: (u8, u8),
    pub operation: u16,
    pub request_id: i32,
    pub groups: Vec<Group>,
}

/// Why decoding stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// More bytes are needed (the attribute section is not complete yet).
    Incomplete,
    /// The bytes are not a valid IPP request; the text says why.
    Malformed(String),
}

fn malformed<T>(msg: impl Into<String>) -> Result<T, DecodeError> {
    Err(DecodeError::Malformed(msg.into()))
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::Incomplete)?;
        let slice = self.buf.get(self.pos..end).ok_or(DecodeError::Incomplete)?;
        self.pos = end;
        Ok(slice)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<usize, DecodeError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]) as usize)
    }

    fn peek(&self) -> Result<u8, DecodeError> {
        self.buf
            .get(self.pos)
            .copied()
            .ok_or(DecodeError::Incomplete)
    }
}

/// One raw attribute record: tag, name (empty for additional values), value bytes.
struct Record<'a> {
    tag: u8,
    name: &'a [u8],
    value: &'a [u8],
}

fn record<'a>(c: &mut Cursor<'a>) -> Result<Record<'a>, DecodeError> {
    let tag = c.u8()?;
    let name_len = c.u16()?;
    let name = c.take(name_len)?;
    let value_len = c.u16()?;
    let value = c.take(value_len)?;
    Ok(Record { tag, name, value })
}

/// Decodes the header and attribute section from the start of `buf`. Returns the request and
/// the number of bytes it used; document data starts there.
pub fn decode(buf: &[u8]) -> Result<(Request, usize), DecodeError> {
    let mut c = Cursor { buf, pos: 0 };
    let header = c.take(8)?;
    let version = (header[0], header[1]);
    let operation = u16::from_be_bytes([header[2], header[3]]);
    let request_id = i32::from_be_bytes([header[4], header[5], header[6], header[7]]);
    let mut groups: Vec<Group> = Vec::new();
    loop {
        let t = c.peek()?;
        if t == tag::END {
            c.pos += 1;
            return Ok((
                Request {
                    version,
                    operation,
                    request_id,
                    groups,
                },
                c.pos,
            ));
        }
        if t < 0x10 {
            c.pos += 1;
            if t == 0 {
                return malformed("reserved delimiter tag 0x00");
            }
            groups.push(Group::new(t));
            continue;
        }
        let Some(group) = groups.last_mut() else {
            return malformed("attribute before any attribute group");
        };
        let rec = record(&mut c)?;
        if rec.tag == END_COLLECTION || rec.tag == MEMBER_ATTR_NAME {
            return malformed("collection member outside a collection");
        }
        let mut truncated = false;
        let value = if rec.tag == BEG_COLLECTION {
            IppValue::Collection(collection(&mut c, 1, &mut truncated)?)
        } else {
            value(rec.tag, rec.value, &mut truncated)?
        };
        if rec.name.is_empty() {
            let Some(attr) = group.attrs.last_mut() else {
                return malformed("additional value without an attribute");
            };
            attr.values.push(value);
            attr.truncated |= truncated;
        } else {
            let Ok(name) = std::str::from_utf8(rec.name) else {
                return malformed("attribute name is not UTF-8");
            };
            group.attrs.push(Attr {
                name: name.to_owned(),
                values: vec![value],
                truncated,
            });
        }
    }
}

/// Reads collection members up to the matching endCollection (RFC 8010 §3.1.6). Several
/// values after one member name make a 1setOf member, kept as an `Array`.
fn collection(
    c: &mut Cursor<'_>,
    depth: usize,
    truncated: &mut bool,
) -> Result<BTreeMap<BoundedString<255>, IppValue>, DecodeError> {
    if depth > MAX_DEPTH {
        return malformed("collections nested too deeply");
    }
    let mut members: BTreeMap<BoundedString<255>, IppValue> = BTreeMap::new();
    let mut current: Option<(BoundedString<255>, Vec<IppValue>)> = None;
    loop {
        let rec = record(c)?;
        if !rec.name.is_empty() {
            return malformed("collection member with a name");
        }
        match rec.tag {
            END_COLLECTION => {
                if let Some((name, values)) = current.take() {
                    if values.is_empty() {
                        return malformed("collection member without a value");
                    }
                    members.insert(name, one_or_array(values));
                }
                return Ok(members);
            }
            MEMBER_ATTR_NAME => {
                if let Some((name, values)) = current.take() {
                    if values.is_empty() {
                        return malformed("collection member without a value");
                    }
                    members.insert(name, one_or_array(values));
                }
                let Ok(name) = std::str::from_utf8(rec.value) else {
                    return malformed("member name is not UTF-8");
                };
                if name.is_empty() || name.len() > 255 {
                    return malformed("invalid collection member name");
                }
                current = Some((BoundedString::new_truncated(name), Vec::new()));
            }
            t => {
                let Some((_, values)) = current.as_mut() else {
                    return malformed("collection value before a member name");
                };
                let v = if t == BEG_COLLECTION {
                    IppValue::Collection(collection(c, depth + 1, truncated)?)
                } else {
                    value(t, rec.value, truncated)?
                };
                values.push(v);
            }
        }
    }
}

fn one_or_array(mut values: Vec<IppValue>) -> IppValue {
    if values.len() == 1 {
        values.remove(0)
    } else {
        IppValue::Array(values)
    }
}

fn be_i32(b: &[u8]) -> i32 {
    i32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn text_value(
    data: &[u8],
    max: usize,
    truncated: &mut bool,
) -> Result<Option<String>, DecodeError> {
    let Ok(s) = std::str::from_utf8(data) else {
        return Ok(None);
    };
    if s.len() > max {
        *truncated = true;
    }
    Ok(Some(cut(s, max).to_owned()))
}

fn text(s: String) -> IppTextValue {
    IppTextValue::new(s.clone())
        .unwrap_or_else(|_| IppTextValue::Long(BoundedString::new_truncated(s)))
}

/// Decodes one value of syntax `t`.
fn value(t: u8, data: &[u8], truncated: &mut bool) -> Result<IppValue, DecodeError> {
    let fixed = |n: usize, what: &str| -> Result<(), DecodeError> {
        if data.len() == n {
            Ok(())
        } else {
            malformed(format!(
                "{what} value of {} bytes (expected {n})",
                data.len()
            ))
        }
    };
    let non_utf8 = |vt: ValueTag| IppValue::NonUtf8 {
        tag: vt,
        data: Bytes::copy_from_slice(data),
    };
    Ok(match t {
        0x10..=0x1F => {
            if !data.is_empty() {
                return malformed("out-of-band value with data");
            }
            if t == ValueTag::NoValue as u8 {
                IppValue::NoValue
            } else {
                IppValue::Other {
                    tag: t,
                    data: Bytes::new(),
                }
            }
        }
        0x21 => {
            fixed(4, "integer")?;
            IppValue::Integer(be_i32(data))
        }
        0x22 => {
            fixed(1, "boolean")?;
            if data[0] > 1 {
                return malformed("boolean value other than 0 or 1");
            }
            IppValue::Boolean(data[0] == 1)
        }
        0x23 => {
            fixed(4, "enum")?;
            IppValue::Enum(be_i32(data))
        }
        0x30 => IppValue::OctetString(Bytes::copy_from_slice(data)),
        0x31 => {
            fixed(11, "dateTime")?;
            IppValue::DateTime(ipp::value::IppDateTime {
                year: u16::from_be_bytes([data[0], data[1]]),
                month: data[2],
                day: data[3],
                hour: data[4],
                minutes: data[5],
                seconds: data[6],
                deci_seconds: data[7],
                utc_dir: data[8] as char,
                utc_hours: data[9],
                utc_mins: data[10],
            })
        }
        0x32 => {
            fixed(9, "resolution")?;
            IppValue::Resolution {
                cross_feed: be_i32(&data[0..4]),
                feed: be_i32(&data[4..8]),
                units: data[8] as i8,
            }
        }
        0x33 => {
            fixed(8, "rangeOfInteger")?;
            IppValue::RangeOfInteger {
                min: be_i32(&data[0..4]),
                max: be_i32(&data[4..8]),
            }
        }
        0x35 | 0x36 => {
            // textWithLanguage / nameWithLanguage: two length-prefixed strings that must fill
            // the value exactly.
            let mut c = Cursor { buf: data, pos: 0 };
            let lang_len = c.u16().or(malformed("truncated language in a value"))?;
            let lang = c
                .take(lang_len)
                .or(malformed("truncated language in a value"))?;
            let text_len = c.u16().or(malformed("truncated text in a value"))?;
            let body = c
                .take(text_len)
                .or(malformed("truncated text in a value"))?;
            if c.pos != data.len() {
                return malformed("extra bytes after a text-with-language value");
            }
            let Ok(lang) = std::str::from_utf8(lang) else {
                return malformed("language tag is not UTF-8");
            };
            if lang.len() > 63 {
                return malformed("language tag longer than 63 bytes");
            }
            let language = BoundedString::new_truncated(lang);
            let max = if t == 0x35 { 1023 } else { 255 };
            let Some(s) = text_value(body, max, truncated)? else {
                return Ok(non_utf8(if t == 0x35 {
                    ValueTag::TextWithLanguage
                } else {
                    ValueTag::NameWithLanguage
                }));
            };
            if t == 0x35 {
                IppValue::TextWithLanguage {
                    language,
                    text: text(s),
                }
            } else {
                IppValue::NameWithLanguage {
                    language,
                    name: BoundedString::new_truncated(s),
                }
            }
        }
        0x41 => match text_value(data, 1023, truncated)? {
            Some(s) => IppValue::TextWithoutLanguage(text(s)),
            None => non_utf8(ValueTag::TextWithoutLanguage),
        },
        0x42 => match text_value(data, 255, truncated)? {
            Some(s) => IppValue::NameWithoutLanguage(BoundedString::new_truncated(s)),
            None => non_utf8(ValueTag::NameWithoutLanguage),
        },
        0x44..=0x49 => {
            let (max, vt) = match t {
                0x44 => (255, ValueTag::Keyword),
                0x45 => (1023, ValueTag::Uri),
                0x46 => (63, ValueTag::UriScheme),
                0x47 => (63, ValueTag::Charset),
                0x48 => (63, ValueTag::NaturalLanguage),
                _ => (255, ValueTag::MimeMediaType),
            };
            if data.len() > max {
                return malformed(format!("{vt:?} value longer than {max} bytes"));
            }
            let Ok(s) = std::str::from_utf8(data) else {
                return Ok(non_utf8(vt));
            };
            match t {
                0x44 => IppValue::Keyword(BoundedString::new_truncated(s)),
                0x45 => IppValue::Uri(BoundedString::new_truncated(s)),
                0x46 => IppValue::UriScheme(BoundedString::new_truncated(s)),
                0x47 => IppValue::Charset(BoundedString::new_truncated(s)),
                0x48 => IppValue::NaturalLanguage(BoundedString::new_truncated(s)),
                _ => IppValue::MimeMediaType(BoundedString::new_truncated(s)),
            }
        }
        EXTENSION => {
            if data.len() < 4 {
                return malformed("extension tag without its type");
            }
            IppValue::Other {
                tag: t,
                data: Bytes::copy_from_slice(data),
            }
        }
        _ => IppValue::Other {
            tag: t,
            data: Bytes::copy_from_slice(data),
        },
    })
}

/// A response to encode (or decoded from a copier).
#[derive(Debug, Clone)]
pub struct Response {
    pub version: (u8, u8),
    pub status: u16,
    pub request_id: i32,
    pub groups: Vec<Group>,
}

/// Encodes a response. Values too long for the wire's 16-bit lengths are cut, never wrapped.
pub fn encode(r: &Response) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(&[r.version.0, r.version.1]);
    out.extend_from_slice(&r.status.to_be_bytes());
    out.extend_from_slice(&r.request_id.to_be_bytes());
    for g in &r.groups {
        out.push(g.tag);
        for a in &g.attrs {
            for (i, v) in a.values.iter().enumerate() {
                let name = if i == 0 { a.name.as_str() } else { "" };
                write_value(&mut out, name, v);
            }
        }
    }
    out.push(tag::END);
    out
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    let s = &s[..s.len().min(u16::MAX as usize)];
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s);
}

/// Writes one value with its own tag; an `Array` is written as additional values.
fn write_value(out: &mut Vec<u8>, name: &str, v: &IppValue) {
    match v {
        IppValue::Array(values) => {
            for (i, inner) in values.iter().enumerate() {
                write_value(out, if i == 0 { name } else { "" }, inner);
            }
        }
        IppValue::Collection(members) => {
            out.push(BEG_COLLECTION);
            put_str(out, name.as_bytes());
            put_str(out, b"");
            for (member, value) in members {
                out.push(MEMBER_ATTR_NAME);
                put_str(out, b"");
                put_str(out, member.as_str().as_bytes());
                write_value(out, "", value);
            }
            out.push(END_COLLECTION);
            put_str(out, b"");
            put_str(out, b"");
        }
        other => {
            out.push(other.to_tag());
            put_str(out, name.as_bytes());
            // The crate writes the length prefix itself for scalar values.
            out.extend_from_slice(&other.to_bytes());
        }
    }
}

/// Encodes a request (Folio as a client, to copiers): the same layout as a response, with the
/// operation in place of the status.
pub fn encode_request(r: &Request) -> Vec<u8> {
    encode(&Response {
        version: r.version,
        status: r.operation,
        request_id: r.request_id,
        groups: r.groups.clone(),
    })
}

/// Decodes a response from a copier: the same layout as a request, with the status in place of
/// the operation.
pub fn decode_response(buf: &[u8]) -> Result<Response, DecodeError> {
    let (r, _) = decode(buf)?;
    Ok(Response {
        version: r.version,
        status: r.operation,
        request_id: r.request_id,
        groups: r.groups,
    })
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
