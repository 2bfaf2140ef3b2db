//! LDAP search filters (RFC 4515) evaluated over LDIF entries, so that the file directory
//! honours the same `user_filter` and `group_filter` an LDAP server would. Matching is
//! case-insensitive, as for the directory string attributes people and groups use.
//! Extensible matches (`:=`, AD bit masks) are refused with a clear error.

use super::ldif::Entry;

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Equal(String, String),
    Present(String),
    /// `initial*any*…*final`: the pieces between stars (empty ends mean a leading/trailing `*`).
    Substring(String, Vec<String>),
    GreaterOrEqual(String, String),
    LessOrEqual(String, String),
}

impl Filter {
    /// Parses a filter string; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Filter, String> {
        let text = text.trim();
        let (filter, rest) = parse_one(text)?;
        if !rest.trim().is_empty() {
            return Err(format!("unexpected `{rest}` after the filter"));
        }
        Ok(filter)
    }

    /// True when `entry` matches.
    pub fn matches(&self, entry: &Entry) -> bool {
        let lower = |s: &str| s.to_lowercase();
        match self {
            Filter::And(fs) => fs.iter().all(|f| f.matches(entry)),
            Filter::Or(fs) => fs.iter().any(|f| f.matches(entry)),
            Filter::Not(f) => !f.matches(entry),
            Filter::Present(a) => a.eq_ignore_ascii_case("objectClass") || !entry.get(a).is_empty(),
            Filter::Equal(a, v) => {
                let v = lower(v);
                entry.get(a).iter().any(|x| lower(x) == v)
            }
            Filter::GreaterOrEqual(a, v) => entry
                .get(a)
                .iter()
                .any(|x| order(x, v) != std::cmp::Ordering::Less),
            Filter::LessOrEqual(a, v) => entry
                .get(a)
                .iter()
                .any(|x| order(x, v) != std::cmp::Ordering::Greater),
            Filter::Substring(a, pieces) => entry.get(a).iter().any(|x| {
                let x = lower(x);
                let n = pieces.len();
                let mut at = 0usize;
                for (i, p) in pieces.iter().enumerate() {
                    let p = lower(p);
                    if i == 0 {
                        if !x.starts_with(&p) {
                            return false;
                        }
                        at = p.len();
                    } else if i == n - 1 {
                        return x.len() >= at + p.len() && x[at..].ends_with(&p);
                    } else {
                        match x[at..].find(&p) {
                            Some(pos) => at += pos + p.len(),
                            None => return false,
                        }
                    }
                }
                true
            }),
        }
    }
}

/// Integers compare as numbers (`uidNumber`), everything else as case-folded strings.
fn order(x: &str, v: &str) -> std::cmp::Ordering {
    match (x.trim().parse::<i64>(), v.trim().parse::<i64>()) {
        (Ok(a), Ok(b)) => a.cmp(&b),
        _ => x.to_lowercase().cmp(&v.to_lowercase()),
    }
}

fn parse_one(s: &str) -> Result<(Filter, &str), String> {
    let s = s.trim_start();
    let inner = s
        .strip_prefix('(')
        .ok_or_else(|| format!("a filter starts with `(`: `{s}`"))?
        .trim_start();
    let (filter, rest) = match inner.chars().next() {
        Some('&') => {
            let (fs, rest) = parse_list(&inner[1..])?;
            (Filter::And(fs), rest)
        }
        Some('|') => {
            let (fs, rest) = parse_list(&inner[1..])?;
            (Filter::Or(fs), rest)
        }
        Some('!') => {
            let (f, rest) = parse_one(&inner[1..])?;
            (Filter::Not(Box::new(f)), rest.trim_start())
        }
        Some(_) => {
            let end = inner.find(')').ok_or("missing `)`")?;
            (parse_item(&inner[..end])?, &inner[end..])
        }
        None => return Err("empty filter".into()),
    };
    let rest = rest.strip_prefix(')').ok_or("missing `)`")?;
    Ok((filter, rest))
}

fn parse_list(mut s: &str) -> Result<(Vec<Filter>, &str), String> {
    let mut out = Vec::new();
    loop {
        s = s.trim_start();
        if s.starts_with(')') || s.is_empty() {
            return Ok((out, s));
        }
        let (f, rest) = parse_one(s)?;
        out.push(f);
        s = rest;
    }
}

fn parse_item(item: &str) -> Result<Filter, String> {
    let eq = item
        .find('=')
        .ok_or_else(|| format!("`{item}` has no `=`"))?;
    let (mut attr, value) = (&item[..eq], &item[eq + 1..]);
    if attr.contains(':') {
        return Err(format!(
            "extensible match `{item}` is not supported by the file directory"
        ));
    }
    let kind = attr.chars().last();
    if matches!(kind, Some('>' | '<' | '~')) {
        attr = &attr[..attr.len() - 1];
    }
    if attr.is_empty()
        || !attr
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        return Err(format!("`{attr}` is not an attribute name"));
    }
    let attr = attr.to_owned();
    match kind {
        Some('>') => Ok(Filter::GreaterOrEqual(attr, unescape(value)?)),
        Some('<') => Ok(Filter::LessOrEqual(attr, unescape(value)?)),
        Some('~') => Ok(Filter::Equal(attr, unescape(value)?)),
        _ if value == "*" => Ok(Filter::Present(attr)),
        _ if value.contains('*') => Ok(Filter::Substring(
            attr,
            value.split('*').map(unescape).collect::<Result<_, _>>()?,
        )),
        _ => Ok(Filter::Equal(attr, unescape(value)?)),
    }
}

/// Decodes `\XX` escapes (RFC 4515 §3).
fn unescape(v: &str) -> Result<String, String> {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            let hex = v
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad escape in `{v}`"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("`{v}` is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> Entry {
        let mut e = Entry {
            dn: "uid=alice,ou=people,dc=h".into(),
            attrs: vec![],
        };
        e.push("objectClass", "inetOrgPerson".into());
        e.push("uid", "alice".into());
        e.push("cn", "Alice Martin".into());
        e.push("employeeType", "doctor".into());
        e.push("uidNumber", "999".into());
        e
    }

    fn m(filter: &str) -> bool {
        Filter::parse(filter).unwrap().matches(&alice())
    }

    #[test]
    fn filters_match_like_a_directory_server() {
        assert!(m("(objectClass=inetOrgPerson)"));
        assert!(m("(OBJECTCLASS=INETORGPERSON)"));
        assert!(m("(&(objectClass=inetOrgPerson)(uid=alice))"));
        assert!(!m("(&(objectClass=inetOrgPerson)(uid=bob))"));
        assert!(m("(|(uid=bob)(uid=alice))"));
        assert!(m("(!(uid=bob))"));
        assert!(m("(cn=*)"));
        assert!(!m("(mail=*)"));
        assert!(m("(cn=Al*)"));
        assert!(m("(cn=*Martin)"));
        assert!(m("(cn=A*ce*tin)"));
        assert!(!m("(cn=*Durand*)"));
        assert!(m("(uid>=a)"));
        assert!(!m("(uidNumber>=1000)"), "numbers compare as numbers");
        assert!(m("(uidNumber<=1000)"));
        assert!(m("( & (uid=alice) (cn=alice martin) )"));
    }

    #[test]
    fn escaped_values_are_decoded_so_injection_stays_literal() {
        // `*)(uid=*` escaped as ldap3::ldap_escape does: a literal, not a wildcard.
        assert!(!m("(uid=\\2a\\29\\28uid=\\2a)"));
        assert!(Filter::parse("(uid=\\zz)").is_err());
    }

    #[test]
    fn unsupported_or_malformed_filters_are_refused() {
        for bad in [
            "uid=alice",
            "(uid=alice",
            "(uidalice)",
            "(userAccountControl:1.2.840.113556.1.4.803:=2)",
            "(&(uid=a)",
            "(uid=a) trailing",
            "()",
        ] {
            assert!(Filter::parse(bad).is_err(), "{bad}");
        }
    }
}
