//! LDIF (RFC 2849) content records: the interchange format of every LDAP server, and the
//! storage of Folio's embedded directory. An export of OpenLDAP or AD (`ldapsearch -LLL`,
//! `ldifde`) loads as is; the demo directory is written in it.

use base64::Engine;

/// One entry: its DN and attributes (names as written; looked up case-insensitively, options
/// such as `;binary` ignored).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Entry {
    pub dn: String,
    pub attrs: Vec<(String, Vec<String>)>,
}

impl Entry {
    /// Every value of attribute `name`.
    pub fn get(&self, name: &str) -> &[String] {
        self.attrs
            .iter()
            .find(|(n, _)| base_name(n).eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
            .unwrap_or(&[])
    }

    /// The first value of attribute `name`.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.get(name).first().map(String::as_str)
    }

    /// Adds a value to `name`.
    pub fn push(&mut self, name: &str, value: String) {
        match self
            .attrs
            .iter_mut()
            .find(|(n, _)| base_name(n).eq_ignore_ascii_case(base_name(name)))
        {
            Some((_, values)) => values.push(value),
            None => self.attrs.push((base_name(name).to_owned(), vec![value])),
        }
    }
}

fn base_name(name: &str) -> &str {
    name.split(';').next().unwrap_or(name)
}

/// A malformed LDIF file: where and why.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("line {line}: {message}")]
pub struct LdifError {
    pub line: usize,
    pub message: String,
}

/// Parses LDIF content records. Change records other than `changetype: add` are refused;
/// values that are not UTF-8 (photos, certificates) are skipped.
pub fn parse(text: &str) -> Result<Vec<Entry>, LdifError> {
    let mut entries = Vec::new();
    let mut current: Option<Entry> = None;
    // Continuation lines (starting with one space) are joined to the logical line before them;
    // a logical line is handled when the next one starts, so the file is read in one pass.
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().chain(std::iter::once("")).enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(rest) = raw.strip_prefix(' ') {
            match pending.as_mut() {
                Some((_, line)) => line.push_str(rest),
                None => {
                    return Err(LdifError {
                        line: i + 1,
                        message: "continuation line without a line to continue".into(),
                    })
                }
            }
            continue;
        }
        if let Some((line, logical)) = pending.take() {
            handle_line(line, &logical, &mut current)?;
        }
        if raw.trim().is_empty() {
            if let Some(e) = current.take() {
                entries.push(e);
            }
        } else {
            pending = Some((i + 1, raw.to_owned()));
        }
    }
    if let Some(e) = current.take() {
        entries.push(e);
    }
    Ok(entries)
}

fn handle_line(line: usize, text: &str, current: &mut Option<Entry>) -> Result<(), LdifError> {
    let err = |message: String| LdifError { line, message };
    if text.starts_with('#') {
        return Ok(());
    }
    let (name, value) = split_line(text).map_err(err)?;
    let Some(value) = value else { return Ok(()) };
    match current.as_mut() {
        None if name.eq_ignore_ascii_case("version") => {}
        None if name.eq_ignore_ascii_case("dn") => {
            *current = Some(Entry {
                dn: value,
                attrs: Vec::new(),
            })
        }
        None => return Err(err(format!("expected `dn:`, found `{name}:`"))),
        Some(_) if name.eq_ignore_ascii_case("changetype") => {
            if !value.eq_ignore_ascii_case("add") {
                return Err(err(format!(
                    "`changetype: {value}` records are not supported (export entries, \
                     not changes)"
                )));
            }
        }
        Some(_) if name.eq_ignore_ascii_case("dn") => {
            return Err(err("`dn:` inside an entry (missing blank line?)".into()))
        }
        Some(entry) => entry.push(&name, value),
    }
    Ok(())
}

/// Splits `name: value`, `name:: base64` or `name:< url`. `Ok((name, None))` for a value that
/// is not UTF-8.
fn split_line(text: &str) -> Result<(String, Option<String>), String> {
    let colon = text
        .find(':')
        .ok_or_else(|| format!("expected `attribute: value`, found `{}`", cut(text)))?;
    let name = text[..colon].trim().to_owned();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ';' || c == '.')
    {
        return Err(format!("`{}` is not an attribute name", cut(&name)));
    }
    let rest = &text[colon + 1..];
    if let Some(b64) = rest.strip_prefix(':') {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| format!("bad base64 value of {name}: {e}"))?;
        return Ok((name, String::from_utf8(bytes).ok()));
    }
    if rest.starts_with('<') {
        return Err(format!("{name}: values from URLs (`:<`) are not supported"));
    }
    Ok((name, Some(rest.trim_start_matches(' ').to_owned())))
}

fn cut(s: &str) -> &str {
    match s.char_indices().nth(40) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Appends `entry` to `out` as LDIF, base64-encoding values that are not safe strings.
pub fn write_entry(out: &mut String, entry: &Entry) {
    write_line(out, "dn", &entry.dn);
    for (name, values) in &entry.attrs {
        for v in values {
            write_line(out, name, v);
        }
    }
    out.push('\n');
}

fn write_line(out: &mut String, name: &str, value: &str) {
    let safe = !value.starts_with([' ', ':', '<'])
        && !value.ends_with(' ')
        && value.chars().all(|c| c.is_ascii() && !c.is_ascii_control());
    if safe {
        out.push_str(&format!("{name}: {value}\n"));
    } else {
        let b64 = base64::engine::general_purpose::STANDARD.encode(value);
        out.push_str(&format!("{name}:: {b64}\n"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "version: 1\n\
        # a comment\n\
        dn: uid=alice,ou=people,dc=hospital,dc=test\n\
        objectClass: inetOrgPerson\n\
        uid: alice\n\
        cn:: w4lsb2RpZSBNYXJ0aW4=\n\
        description: a long\n  folded line\n\
        sn:    Martin\n\
        employeeNumber: 04A1B2C3\n\
        employeeNumber: 0099\n\
        jpegPhoto:: /9j/\n\
        \n\
        dn: cn=staff,ou=groups,dc=hospital,dc=test\n\
        changetype: add\n\
        member: uid=alice,ou=people,dc=hospital,dc=test\n";

    #[test]
    fn entries_with_folding_base64_and_several_values_parse() {
        let e = parse(SAMPLE).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].first("UID"), Some("alice"));
        assert_eq!(e[0].first("cn"), Some("Élodie Martin"));
        assert_eq!(e[0].first("description"), Some("a long folded line"));
        assert_eq!(
            e[0].first("sn"),
            Some("Martin"),
            "spaces after the colon are not the value"
        );
        assert_eq!(e[0].get("employeenumber"), ["04A1B2C3", "0099"]);
        assert!(
            e[0].get("jpegPhoto").is_empty(),
            "binary values are skipped"
        );
        assert_eq!(e[1].get("member").len(), 1);
    }

    #[test]
    fn written_entries_read_back() {
        let entries = parse(SAMPLE).unwrap();
        let mut out = String::new();
        for e in &entries {
            write_entry(&mut out, e);
        }
        assert_eq!(parse(&out).unwrap(), entries);
    }

    #[test]
    fn bad_files_say_where() {
        let e = parse("dn: a=b\nnot a line\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse("uid: x\n").unwrap_err();
        assert!(e.message.contains("dn"), "{e}");
        let e = parse("dn: a=b\nchangetype: modify\n").unwrap_err();
        assert!(e.message.contains("modify"), "{e}");
        let e = parse("dn: a=b\ncn:: !!!\n").unwrap_err();
        assert!(e.message.contains("base64"), "{e}");
        assert!(parse(" x\n").is_err());
        assert!(parse("dn: a=b\nphoto:< file:///etc/passwd\n").is_err());
    }
}
