//! Badge numbers: one card, whatever reader read it.
//!
//! Readers differ: one sends the card UID in hex, another the same UID in decimal, a third
//! pads with zeros or wraps the number in track sentinels (`;…?`). The directory stores one
//! form. [`BadgeRules::canonical`] reduces a stored value to a comparable form, and
//! [`BadgeRules::candidates`] turns what a reader sent into every canonical form it may stand
//! for, each with the rules that produced it (shown by `folio directory lookup --badge`).

use crate::directory::settings::{BadgeFormat, BadgeSettings};

/// The most characters of a badge number kept; longer input is not a card.
pub const MAX_BADGE_LEN: usize = 64;

/// A canonical badge number a reader's input may stand for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Canonical form, comparable with [`BadgeRules::canonical`] of stored values.
    pub value: String,
    /// The rules applied, in order (`reader-prefix`, `strip-leading-zeros`, `decimal-to-hex`…).
    pub rules: Vec<&'static str>,
}

/// The normalisation rules of a site.
#[derive(Debug, Clone)]
pub struct BadgeRules {
    settings: BadgeSettings,
}

impl BadgeRules {
    pub fn new(settings: BadgeSettings) -> BadgeRules {
        BadgeRules { settings }
    }

    /// Cleans input: trims, removes reader prefixes/suffixes and separators (`04:A1:B2`),
    /// upper-cases. Returns the cleaned value and the rules applied.
    fn clean(&self, raw: &str) -> (String, Vec<&'static str>) {
        let mut rules = Vec::new();
        let mut s = raw.trim();
        for p in &self.settings.reader_prefixes {
            if !p.is_empty() {
                if let Some(rest) = s.strip_prefix(p.as_str()) {
                    s = rest;
                    rules.push("reader-prefix");
                    break;
                }
            }
        }
        for p in &self.settings.reader_suffixes {
            if !p.is_empty() {
                if let Some(rest) = s.strip_suffix(p.as_str()) {
                    s = rest;
                    rules.push("reader-suffix");
                    break;
                }
            }
        }
        let mut out: String = s
            .chars()
            .filter(|c| !matches!(c, ' ' | ':' | '-'))
            .flat_map(char::to_uppercase)
            .collect();
        if out.len() != s.len() && s.contains([' ', ':', '-']) {
            rules.push("separators");
        }
        if self.settings.format != BadgeFormat::Text && self.settings.strip_leading_zeros {
            let stripped = out.trim_start_matches('0');
            if stripped.len() != out.len() {
                // A card number of all zeros stays "0".
                out = if stripped.is_empty() {
                    "0".into()
                } else {
                    stripped.to_owned()
                };
                rules.push("strip-leading-zeros");
            }
        }
        (out, rules)
    }

    /// The canonical form of a value stored in the directory (or registered in Folio).
    pub fn canonical(&self, stored: &str) -> String {
        self.clean(stored).0
    }

    /// Every canonical value a reader's input may stand for, most literal first. Empty when
    /// the input cannot be a card number.
    pub fn candidates(&self, raw: &str) -> Vec<Candidate> {
        if raw.len() > MAX_BADGE_LEN || raw.chars().any(char::is_control) {
            return Vec::new();
        }
        let (value, rules) = self.clean(raw);
        if value.is_empty() || !value.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Vec::new();
        }
        let mut out = Vec::new();
        let fits = match self.settings.format {
            BadgeFormat::Hex => value.chars().all(|c| c.is_ascii_hexdigit()),
            BadgeFormat::Decimal => value.chars().all(|c| c.is_ascii_digit()),
            BadgeFormat::Text => true,
        };
        if fits {
            out.push(Candidate {
                value: value.clone(),
                rules: if rules.is_empty() {
                    vec!["as-read"]
                } else {
                    rules.clone()
                },
            });
        }
        if self.settings.convert_base {
            let converted = match self.settings.format {
                BadgeFormat::Hex if value.chars().all(|c| c.is_ascii_digit()) => value
                    .parse::<u128>()
                    .ok()
                    .map(|n| (format!("{n:X}"), "decimal-to-hex")),
                BadgeFormat::Decimal if value.chars().all(|c| c.is_ascii_hexdigit()) => {
                    u128::from_str_radix(&value, 16)
                        .ok()
                        .map(|n| (n.to_string(), "hex-to-decimal"))
                }
                _ => None,
            };
            if let Some((v, rule)) = converted {
                let v = self.canonical(&v);
                if !out.iter().any(|c| c.value == v) {
                    let mut rules = rules;
                    rules.push(rule);
                    out.push(Candidate { value: v, rules });
                }
            }
        }
        out
    }

    /// Values to ask an LDAP server for: each candidate, and each with the leading zeros a
    /// stored value may carry (the server compares strings; it cannot strip them).
    pub fn search_values(&self, candidates: &[Candidate]) -> Vec<String> {
        let mut out = Vec::new();
        for c in candidates {
            out.push(c.value.clone());
            if self.settings.format != BadgeFormat::Text && self.settings.strip_leading_zeros {
                for zeros in 1..=self.settings.max_stored_leading_zeros {
                    out.push(format!("{}{}", "0".repeat(zeros), c.value));
                }
            }
        }
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> BadgeRules {
        BadgeRules::new(BadgeSettings::default())
    }

    fn values(raw: &str) -> Vec<String> {
        rules()
            .candidates(raw)
            .into_iter()
            .map(|c| c.value)
            .collect()
    }

    #[test]
    fn the_same_card_from_every_reader_has_one_canonical_form() {
        let r = rules();
        let stored = r.canonical("04A1B2C3");
        assert_eq!(stored, "4A1B2C3");
        for read in [
            "04a1b2c3",
            "0004A1B2C3",
            ";04A1B2C3?",
            " 04:A1:B2:C3 ",
            "%4A1B2C3",
        ] {
            assert!(
                values(read).contains(&stored),
                "{read} -> {:?}",
                values(read)
            );
        }
        // 0x04A1B2C3 = 77705923 read by a decimal reader, with and without padding.
        assert!(values("77705923").contains(&stored));
        assert!(values("0077705923").contains(&stored));
    }

    #[test]
    fn candidates_name_the_rules_that_produced_them() {
        let c = rules().candidates(";0077705923?");
        assert_eq!(c.len(), 2, "{c:?}");
        assert_eq!(
            c[0].rules,
            ["reader-prefix", "reader-suffix", "strip-leading-zeros"]
        );
        assert_eq!(c[1].value, "4A1B2C3");
        assert!(c[1].rules.contains(&"decimal-to-hex"));
        assert_eq!(rules().candidates("4A1B2C3")[0].rules, ["as-read"]);
    }

    #[test]
    fn a_decimal_directory_converts_hex_readers() {
        let r = BadgeRules::new(BadgeSettings {
            format: BadgeFormat::Decimal,
            ..BadgeSettings::default()
        });
        let c: Vec<String> = r
            .candidates("04A1B2C3")
            .into_iter()
            .map(|c| c.value)
            .collect();
        assert_eq!(c, ["77705923"]);
        assert_eq!(r.canonical("0077705923"), "77705923");
    }

    #[test]
    fn rules_can_be_turned_off() {
        let r = BadgeRules::new(BadgeSettings {
            format: BadgeFormat::Text,
            convert_base: false,
            strip_leading_zeros: false,
            reader_prefixes: vec![],
            reader_suffixes: vec![],
            max_stored_leading_zeros: 0,
        });
        let c: Vec<String> = r.candidates("007x").into_iter().map(|c| c.value).collect();
        assert_eq!(c, ["007X"]);
        assert_eq!(r.search_values(&r.candidates("007x")), ["007X"]);
    }

    #[test]
    fn garbage_is_not_a_badge() {
        for raw in ["", "   ", ";?", "12\n34", "ab/cd", &"1".repeat(65)] {
            assert!(values(raw).is_empty(), "{raw:?}");
        }
        assert_eq!(values("0000"), ["0"]);
    }

    #[test]
    fn ldap_searches_include_padded_forms() {
        let r = rules();
        let v = r.search_values(&r.candidates("4A1B2C3"));
        assert!(v.contains(&"4A1B2C3".to_string()));
        assert!(v.contains(&"04A1B2C3".to_string()));
        assert!(v.contains(&"00004A1B2C3".to_string()));
        assert!(!v.contains(&"000004A1B2C3".to_string()));
    }
}
