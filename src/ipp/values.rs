//! Short constructors for response values (the crate's constructors return `Result` for
//! lengths that Folio's own constants never exceed; these truncate instead).

use std::collections::BTreeMap;

use ipp::value::{BoundedString, IppDateTime, IppTextValue, IppValue};

pub fn keyword(s: &str) -> IppValue {
    IppValue::Keyword(BoundedString::new_truncated(s))
}

pub fn keywords(list: &[&str]) -> Vec<IppValue> {
    list.iter().map(|s| keyword(s)).collect()
}

pub fn text(s: &str) -> IppValue {
    let t = IppTextValue::new(s.to_owned())
        .unwrap_or_else(|_| IppTextValue::Long(BoundedString::new_truncated(s)));
    IppValue::TextWithoutLanguage(t)
}

pub fn name(s: &str) -> IppValue {
    IppValue::NameWithoutLanguage(BoundedString::new_truncated(s))
}

pub fn uri(s: &str) -> IppValue {
    IppValue::Uri(BoundedString::new_truncated(s))
}

pub fn mime(s: &str) -> IppValue {
    IppValue::MimeMediaType(BoundedString::new_truncated(s))
}

pub fn charset(s: &str) -> IppValue {
    IppValue::Charset(BoundedString::new_truncated(s))
}

pub fn language(s: &str) -> IppValue {
    IppValue::NaturalLanguage(BoundedString::new_truncated(s))
}

pub fn integer(i: i32) -> IppValue {
    IppValue::Integer(i)
}

pub fn enumeration(i: i32) -> IppValue {
    IppValue::Enum(i)
}

pub fn boolean(b: bool) -> IppValue {
    IppValue::Boolean(b)
}

pub fn range(min: i32, max: i32) -> IppValue {
    IppValue::RangeOfInteger { min, max }
}

pub fn dpi(res: i32) -> IppValue {
    IppValue::Resolution {
        cross_feed: res,
        feed: res,
        units: 3,
    }
}

pub fn collection(members: Vec<(&str, IppValue)>) -> IppValue {
    let map: BTreeMap<_, _> = members
        .into_iter()
        .map(|(k, v)| (BoundedString::new_truncated(k), v))
        .collect();
    IppValue::Collection(map)
}

/// An IPP dateTime in UTC from Unix milliseconds.
pub fn date_time(ms: i64) -> IppValue {
    use chrono::{Datelike, Timelike};
    let t = chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
    IppValue::DateTime(IppDateTime {
        year: t.year().clamp(0, u16::MAX as i32) as u16,
        month: t.month() as u8,
        day: t.day() as u8,
        hour: t.hour() as u8,
        minutes: t.minute() as u8,
        seconds: t.second() as u8,
        deci_seconds: (t.timestamp_subsec_millis() / 100) as u8,
        utc_dir: '+',
        utc_hours: 0,
        utc_mins: 0,
    })
}

/// The text of a text or name value.
pub fn as_text(v: &IppValue) -> Option<&str> {
    match v {
        IppValue::TextWithoutLanguage(t) | IppValue::TextWithLanguage { text: t, .. } => Some(t),
        IppValue::NameWithoutLanguage(n) | IppValue::NameWithLanguage { name: n, .. } => {
            Some(n.as_str())
        }
        _ => None,
    }
}

/// The string of a keyword value.
pub fn as_keyword(v: &IppValue) -> Option<&str> {
    match v {
        IppValue::Keyword(k) => Some(k.as_str()),
        _ => None,
    }
}
