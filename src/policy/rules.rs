//! IT's print rules: ordered, each a set of conditions and a set of actions. For every setting
//! of a job (sides, colour, copies, refusal, where it may be released, …) the **first** rule in
//! order that matches the job and says something about that setting decides it; a setting no
//! rule decides keeps the hospital default (duplex, black & white, held at most `hold_hours`).
//! Every decision names the rule that made it, so a ticket can always be explained.
//!
//! Pure: the facts of a job come in, a [`Decision`] comes out (table-tested below).

use serde::{Deserialize, Serialize};

use super::{Requested, Ticket, MAX_COPIES};
use crate::domain::{ColorMode, Sides};

/// When a rule applies. Every condition given must hold; a list holds when any of its values
/// matches (names compared ignoring case). An empty rule matches every job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Conditions {
    /// Directory groups (the user is in one of them).
    pub groups: Vec<String>,
    /// Login names.
    pub users: Vec<String>,
    pub departments: Vec<String>,
    pub cost_centres: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_pages: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_pages: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_sheets: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_sheets: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_copies: Option<u32>,
    /// The client asked for colour.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color_requested: Option<bool>,
    /// The document has colour on it (when it could be told; unknown never matches).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color_used: Option<bool>,
    /// Document name patterns, `*` for any run of characters (`*ordonnance*`).
    pub document_names: Vec<String>,
    /// Submitting application patterns (the client's User-Agent), e.g. `*Dxcare*`.
    pub applications: Vec<String>,
    /// Local time of day, `HH:MM-HH:MM` (may wrap past midnight: `20:00-07:00`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hours: Option<String>,
    /// Days of the week: `mon` … `sun`.
    pub days: Vec<String>,
    /// At release only: device names, or the device's site.
    pub devices: Vec<String>,
    pub sites: Vec<String>,
}

/// Sides a rule may decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SidesAction {
    /// Two-sided (the default).
    ForceDuplex,
    /// What the client asked for.
    Allow,
}

/// Colour a rule may decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ColorAction {
    /// Black & white (the default).
    ForceMono,
    /// What the client asked for.
    Allow,
}

/// What a rule decides. Each field is one setting; absent fields leave the setting to the next
/// rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Actions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sides: Option<SidesAction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<ColorAction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_copies: Option<u32>,
    /// Refuse the job with this message (shown to the user by their print dialog).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refuse: Option<String>,
    /// Release only at devices of these sites.
    pub release_sites: Vec<String>,
    /// Print at once on this device, without holding (the clinical lane).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route_to_device: Option<String>,
    /// Hours before an unreleased job expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold_hours: Option<u32>,
    /// A line stamped on every page (`{owner}`, `{date}` replaced).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watermark: Option<String>,
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub id: i64,
    pub name: String,
    pub enabled: bool,
    pub when: Conditions,
    pub then: Actions,
}

/// What is known of a job when rules are evaluated.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub user: String,
    pub groups: Vec<String>,
    pub department: String,
    pub cost_centre: String,
    pub requested: Requested,
    /// Unknown for a Create-Job whose document has not arrived.
    pub pages: Option<u32>,
    pub color_used: Option<bool>,
    pub document_name: String,
    pub application: String,
    /// Local time: minutes since midnight and the day (0 = Monday).
    pub minute_of_day: u32,
    pub weekday: u8,
    /// At release.
    pub device: Option<String>,
    pub site: Option<String>,
}

/// Which rule decided a setting (`None`: the hospital default).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecidedBy {
    pub rule_id: Option<i64>,
    pub rule: String,
}

impl DecidedBy {
    fn default_policy() -> DecidedBy {
        DecidedBy {
            rule_id: None,
            rule: "hospital default".into(),
        }
    }

    fn rule(r: &Rule) -> DecidedBy {
        DecidedBy {
            rule_id: Some(r.id),
            rule: r.name.clone(),
        }
    }
}

/// The outcome for one job, each setting with the rule that decided it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    #[serde(skip)]
    pub ticket: Ticket,
    #[serde(serialize_with = "sides_keyword")]
    pub sides: Sides,
    #[serde(serialize_with = "color_keyword")]
    pub color_mode: ColorMode,
    pub copies: u32,
    pub refuse: Option<String>,
    pub release_sites: Vec<String>,
    pub route_to_device: Option<String>,
    pub hold_hours: Option<u32>,
    pub watermark: Option<String>,
    /// Setting name → the rule that decided it.
    pub decided_by: std::collections::BTreeMap<&'static str, DecidedBy>,
}

fn sides_keyword<S: serde::Serializer>(v: &Sides, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.keyword())
}

fn color_keyword<S: serde::Serializer>(v: &ColorMode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.keyword())
}

fn any_eq(list: &[String], value: &str) -> bool {
    list.iter()
        .any(|v| v.trim().eq_ignore_ascii_case(value.trim()))
}

/// `*` matches any run of characters; comparison ignores case.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (
        pattern.to_lowercase().chars().collect(),
        text.to_lowercase().chars().collect(),
    );
    // Iterative matcher with one backtrack point (linear for `*` patterns).
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] != '*' && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// `HH:MM-HH:MM` to minutes `(from, to)`.
pub fn parse_hours(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.split_once('-')?;
    let minutes = |x: &str| -> Option<u32> {
        let (h, m) = x.trim().split_once(':')?;
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h <= 24 && m < 60 && h * 60 + m <= 24 * 60).then_some(h * 60 + m)
    };
    Some((minutes(a)?, minutes(b)?))
}

pub const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Conditions {
    /// Whether the conditions hold for `facts`. Conditions on what is not known (pages of a
    /// job without its document, the device before release) do not hold.
    pub fn matches(&self, f: &Facts) -> bool {
        let ticket_now = super::ticket_for(f.requested);
        let list = |l: &[String], v: &str| l.is_empty() || any_eq(l, v);
        let known = |cond: Option<u32>, value: Option<u32>, ok: fn(u32, u32) -> bool| match cond {
            None => true,
            Some(c) => value.is_some_and(|v| ok(v, c)),
        };
        let sheets = f.pages.map(|p| super::sheets(p, &ticket_now));
        list(&self.users, &f.user)
            && (self.groups.is_empty() || f.groups.iter().any(|g| any_eq(&self.groups, g)))
            && list(&self.departments, &f.department)
            && list(&self.cost_centres, &f.cost_centre)
            && known(self.min_pages, f.pages, |v, c| v >= c)
            && known(self.max_pages, f.pages, |v, c| v <= c)
            && known(self.min_sheets, sheets, |v, c| v >= c)
            && known(self.max_sheets, sheets, |v, c| v <= c)
            && known(
                self.min_copies,
                Some(f.requested.copies.unwrap_or(1)),
                |v, c| v >= c,
            )
            && self
                .color_requested
                .is_none_or(|want| want == (f.requested.color_mode == Some(ColorMode::Color)))
            && self
                .color_used
                .is_none_or(|want| f.color_used == Some(want))
            && (self.document_names.is_empty()
                || self
                    .document_names
                    .iter()
                    .any(|p| glob(p, &f.document_name)))
            && (self.applications.is_empty()
                || self.applications.iter().any(|p| glob(p, &f.application)))
            && self.hours.as_deref().is_none_or(|h| match parse_hours(h) {
                Some((from, to)) if from <= to => (from..to).contains(&f.minute_of_day),
                Some((from, to)) => f.minute_of_day >= from || f.minute_of_day < to,
                None => false,
            })
            && (self.days.is_empty()
                || DAYS
                    .get(f.weekday as usize)
                    .is_some_and(|d| any_eq(&self.days, d)))
            && (self.devices.is_empty()
                || f.device
                    .as_deref()
                    .is_some_and(|d| any_eq(&self.devices, d)))
            && (self.sites.is_empty() || f.site.as_deref().is_some_and(|s| any_eq(&self.sites, s)))
    }

    /// Problems that would make the rule never match, or match by accident.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(h) = &self.hours {
            if parse_hours(h).is_none() {
                out.push(format!("hours `{h}` is not HH:MM-HH:MM"));
            }
        }
        for d in &self.days {
            if !DAYS.contains(&d.to_lowercase().as_str()) {
                out.push(format!("day `{d}` is not one of {}", DAYS.join(", ")));
            }
        }
        if let (Some(a), Some(b)) = (self.min_pages, self.max_pages) {
            if a > b {
                out.push("min_pages is above max_pages".into());
            }
        }
        if let (Some(a), Some(b)) = (self.min_sheets, self.max_sheets) {
            if a > b {
                out.push("min_sheets is above max_sheets".into());
            }
        }
        out
    }
}

impl Actions {
    /// Problems with the actions themselves.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.max_copies == Some(0) {
            out.push("max_copies must be at least 1".into());
        }
        if self.refuse.as_deref().is_some_and(|m| m.trim().is_empty()) {
            out.push("refuse needs a message for the user".into());
        }
        if self.hold_hours == Some(0) {
            out.push("hold_hours must be at least 1".into());
        }
        if *self == Actions::default() {
            out.push("the rule does nothing: give it at least one action".into());
        }
        out
    }
}

/// Evaluates `rules` (in order) for `facts`.
pub fn evaluate(rules: &[Rule], facts: &Facts) -> Decision {
    let matching: Vec<&Rule> = rules
        .iter()
        .filter(|r| r.enabled && r.when.matches(facts))
        .collect();
    let mut decided_by = std::collections::BTreeMap::new();
    // The first matching rule that has something to say about a setting decides it.
    macro_rules! first {
        ($setting:literal, $field:ident) => {{
            match matching
                .iter()
                .find_map(|r| r.then.$field.clone().map(|v| (v, *r)))
            {
                Some((v, r)) => {
                    decided_by.insert($setting, DecidedBy::rule(r));
                    Some(v)
                }
                None => {
                    decided_by.insert($setting, DecidedBy::default_policy());
                    None
                }
            }
        }};
    }
    let default = super::ticket_for(facts.requested);
    let sides = match first!("sides", sides) {
        Some(SidesAction::Allow) => facts.requested.sides.unwrap_or(default.sides),
        _ => default.sides,
    };
    let color_mode = match first!("color", color) {
        // "auto" lets the copier print colour where the document has it: allowed, that is colour.
        Some(ColorAction::Allow) => match facts.requested.color_mode {
            Some(ColorMode::Auto) => ColorMode::Color,
            Some(asked) => asked,
            None => default.color_mode,
        },
        _ => default.color_mode,
    };
    let copies = match first!("copies", max_copies) {
        Some(cap) => default.copies.min(cap.max(1)),
        None => default.copies.min(MAX_COPIES),
    };
    let refuse = first!("refuse", refuse);
    let release_sites = matching
        .iter()
        .find(|r| !r.then.release_sites.is_empty())
        .map(|r| {
            decided_by.insert("release_sites", DecidedBy::rule(r));
            r.then.release_sites.clone()
        })
        .unwrap_or_else(|| {
            decided_by.insert("release_sites", DecidedBy::default_policy());
            Vec::new()
        });
    let route_to_device = first!("route_to_device", route_to_device);
    let hold_hours = first!("hold_hours", hold_hours);
    let watermark = first!("watermark", watermark);
    let ticket = Ticket {
        sides,
        color_mode,
        copies,
    };
    Decision {
        ticket,
        sides,
        color_mode,
        copies,
        refuse,
        release_sites,
        route_to_device,
        hold_hours,
        watermark,
        decided_by,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: i64, when: Conditions, then: Actions) -> Rule {
        Rule {
            id,
            name: format!("rule {id}"),
            enabled: true,
            when,
            then,
        }
    }

    fn colour_request(user: &str, groups: &[&str]) -> Facts {
        Facts {
            user: user.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            department: "Radiologie".into(),
            requested: Requested {
                sides: Some(Sides::OneSided),
                color_mode: Some(ColorMode::Color),
                copies: Some(3),
            },
            pages: Some(10),
            document_name: "IRM genou Dupont.pdf".into(),
            application: "Microsoft Office Word".into(),
            minute_of_day: 10 * 60,
            weekday: 1,
            ..Facts::default()
        }
    }

    fn allow_colour() -> Actions {
        Actions {
            color: Some(ColorAction::Allow),
            ..Actions::default()
        }
    }

    #[test]
    fn without_rules_the_hospital_default_applies() {
        let d = evaluate(&[], &colour_request("alice", &[]));
        assert_eq!(d.sides, Sides::TwoSidedLongEdge);
        assert_eq!(d.color_mode, ColorMode::Monochrome);
        assert_eq!(d.copies, 3);
        assert_eq!(d.decided_by["color"].rule_id, None);
        assert_eq!(d.refuse, None);
    }

    #[test]
    fn the_first_matching_rule_decides_each_setting() {
        let rules = vec![
            rule(
                1,
                Conditions {
                    groups: vec!["radiology".into()],
                    ..Conditions::default()
                },
                allow_colour(),
            ),
            // Later and broader: decides colour only for those rule 1 did not match, and
            // copies for everybody (rule 1 says nothing about copies).
            rule(
                2,
                Conditions::default(),
                Actions {
                    color: Some(ColorAction::ForceMono),
                    max_copies: Some(2),
                    ..Actions::default()
                },
            ),
        ];
        let radiologist = evaluate(&rules, &colour_request("bob", &["Radiology"]));
        assert_eq!(radiologist.color_mode, ColorMode::Color);
        assert_eq!(radiologist.decided_by["color"].rule_id, Some(1));
        assert_eq!(radiologist.copies, 2);
        assert_eq!(radiologist.decided_by["copies"].rule_id, Some(2));
        let other = evaluate(&rules, &colour_request("carol", &["nurses"]));
        assert_eq!(other.color_mode, ColorMode::Monochrome);
        assert_eq!(other.decided_by["color"].rule_id, Some(2));
    }

    #[test]
    fn disabled_rules_are_skipped_and_allow_never_upgrades_a_request() {
        let mut r = rule(1, Conditions::default(), allow_colour());
        r.enabled = false;
        let d = evaluate(&[r.clone()], &colour_request("a", &[]));
        assert_eq!(d.color_mode, ColorMode::Monochrome);
        r.enabled = true;
        let mut mono_request = colour_request("a", &[]);
        mono_request.requested.color_mode = None;
        mono_request.requested.sides = None;
        let d = evaluate(
            &[rule(
                1,
                Conditions::default(),
                Actions {
                    sides: Some(SidesAction::Allow),
                    color: Some(ColorAction::Allow),
                    ..Actions::default()
                },
            )],
            &mono_request,
        );
        assert_eq!(d.color_mode, ColorMode::Monochrome, "nothing asked: mono");
        assert_eq!(d.sides, Sides::TwoSidedLongEdge, "nothing asked: duplex");
        let mut auto = colour_request("a", &[]);
        auto.requested.color_mode = Some(ColorMode::Auto);
        let allowed = evaluate(&[rule(1, Conditions::default(), allow_colour())], &auto);
        assert_eq!(
            allowed.color_mode,
            ColorMode::Color,
            "auto under allow: colour"
        );
        assert_eq!(evaluate(&[], &auto).color_mode, ColorMode::Monochrome);
    }

    #[test]
    #[rustfmt::skip]
    fn every_condition_matches_and_fails() {
        let base = colour_request("alice", &["doctors"]);
        let cases: Vec<(&str, Conditions, bool)> = vec![
            ("user", Conditions { users: vec!["ALICE".into()], ..Default::default() }, true),
            ("user no", Conditions { users: vec!["bob".into()], ..Default::default() }, false),
            ("group", Conditions { groups: vec!["doctors".into()], ..Default::default() }, true),
            ("group no", Conditions { groups: vec!["x".into()], ..Default::default() }, false),
            ("department", Conditions { departments: vec!["radiologie".into()], ..Default::default() }, true),
            ("cost centre no", Conditions { cost_centres: vec!["CC1".into()], ..Default::default() }, false),
            ("min pages", Conditions { min_pages: Some(10), ..Default::default() }, true),
            ("min pages no", Conditions { min_pages: Some(11), ..Default::default() }, false),
            ("max pages no", Conditions { max_pages: Some(9), ..Default::default() }, false),
            // 10 pages duplex × 3 copies = 15 sheets
            ("min sheets", Conditions { min_sheets: Some(15), ..Default::default() }, true),
            ("max sheets no", Conditions { max_sheets: Some(14), ..Default::default() }, false),
            ("copies", Conditions { min_copies: Some(3), ..Default::default() }, true),
            ("copies no", Conditions { min_copies: Some(4), ..Default::default() }, false),
            ("colour asked", Conditions { color_requested: Some(true), ..Default::default() }, true),
            ("colour not asked no", Conditions { color_requested: Some(false), ..Default::default() }, false),
            ("colour used unknown", Conditions { color_used: Some(true), ..Default::default() }, false),
            ("name", Conditions { document_names: vec!["*irm*".into()], ..Default::default() }, true),
            ("name no", Conditions { document_names: vec!["ordonnance*".into()], ..Default::default() }, false),
            ("application", Conditions { applications: vec!["*word*".into()], ..Default::default() }, true),
            ("hours", Conditions { hours: Some("08:00-18:00".into()), ..Default::default() }, true),
            ("hours no", Conditions { hours: Some("18:00-08:00".into()), ..Default::default() }, false),
            ("bad hours never", Conditions { hours: Some("8h-18h".into()), ..Default::default() }, false),
            ("day", Conditions { days: vec!["tue".into()], ..Default::default() }, true),
            ("day no", Conditions { days: vec!["sat".into(), "sun".into()], ..Default::default() }, false),
            ("device before release no", Conditions { devices: vec!["ward-3".into()], ..Default::default() }, false),
            ("site before release no", Conditions { sites: vec!["Nord".into()], ..Default::default() }, false),
        ];
        for (what, when, expected) in cases {
            assert_eq!(when.matches(&base), expected, "{what}");
        }
        let mut at_device = base.clone();
        at_device.device = Some("Ward-3".into());
        at_device.site = Some("Nord".into());
        assert!(Conditions { devices: vec!["ward-3".into()], ..Default::default() }.matches(&at_device));
        assert!(Conditions { sites: vec!["nord".into()], ..Default::default() }.matches(&at_device));
        let mut no_pages = base.clone();
        no_pages.pages = None;
        assert!(!Conditions { min_pages: Some(1), ..Default::default() }.matches(&no_pages));
        let mut night = base;
        night.minute_of_day = 23 * 60;
        assert!(Conditions { hours: Some("20:00-07:00".into()), ..Default::default() }.matches(&night));
    }

    #[test]
    fn every_action_is_applied() {
        let rules = vec![rule(
            1,
            Conditions::default(),
            Actions {
                sides: Some(SidesAction::Allow),
                color: Some(ColorAction::Allow),
                max_copies: Some(1),
                refuse: Some("colour posters go to reprography".into()),
                release_sites: vec!["Nord".into()],
                route_to_device: Some("urgences-labels".into()),
                hold_hours: Some(2),
                watermark: Some("{owner} {date}".into()),
            },
        )];
        let d = evaluate(&rules, &colour_request("alice", &[]));
        assert_eq!(d.sides, Sides::OneSided);
        assert_eq!(d.color_mode, ColorMode::Color);
        assert_eq!(d.copies, 1);
        assert_eq!(
            d.refuse.as_deref(),
            Some("colour posters go to reprography")
        );
        assert_eq!(d.release_sites, ["Nord"]);
        assert_eq!(d.route_to_device.as_deref(), Some("urgences-labels"));
        assert_eq!(d.hold_hours, Some(2));
        assert_eq!(d.watermark.as_deref(), Some("{owner} {date}"));
        assert!(d.decided_by.values().all(|b| b.rule_id == Some(1)));
    }

    #[test]
    fn globs_match_like_file_patterns() {
        assert!(glob("*ordonnance*", "Ordonnance Dupont"));
        assert!(glob("compte*rendu", "Compte-rendu"));
        assert!(!glob("compte*rendu", "Compte-rendu.pdf"));
        assert!(glob("*", ""));
        assert!(!glob("a", ""));
    }

    #[test]
    fn problems_are_named() {
        let c = Conditions {
            hours: Some("25:00-26:00".into()),
            days: vec!["lundi".into()],
            min_pages: Some(5),
            max_pages: Some(2),
            ..Conditions::default()
        };
        assert_eq!(c.problems().len(), 3);
        assert_eq!(Actions::default().problems().len(), 1);
        assert!(Actions {
            max_copies: Some(0),
            ..Actions::default()
        }
        .problems()[0]
            .contains("max_copies"));
    }
}
