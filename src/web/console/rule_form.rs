//! The rule form of the policies pages: every condition and action of a rule as text fields,
//! filled from a rule to edit it, read back into a rule when posted.

use crate::policy::rules::{Actions, ColorAction, Conditions, Rule, SidesAction};
use crate::policy::store::RuleInput;
use crate::web::form::Form;

/// The form's fields, as the page shows them.
#[derive(Debug, Clone, Default)]
pub struct RuleForm {
    pub name: String,
    pub enabled: bool,
    pub groups: String,
    pub users: String,
    pub departments: String,
    pub cost_centres: String,
    pub document_names: String,
    pub applications: String,
    pub min_pages: String,
    pub max_pages: String,
    pub min_sheets: String,
    pub max_sheets: String,
    pub min_copies: String,
    /// `""`, `yes` or `no`.
    pub color_requested: String,
    pub color_used: String,
    pub hours: String,
    pub days: String,
    pub devices: String,
    pub sites: String,
    /// `""`, `allow`, `force-mono`.
    pub color: String,
    /// `""`, `allow`, `force-duplex`.
    pub sides: String,
    pub max_copies: String,
    pub refuse: String,
    pub release_sites: String,
    pub route_to_device: String,
    pub hold_hours: String,
    pub watermark: String,
    pub position: String,
}

fn joined(v: &[String]) -> String {
    v.join(", ")
}

fn num(v: Option<u32>) -> String {
    v.map(|n| n.to_string()).unwrap_or_default()
}

fn yes_no(v: Option<bool>) -> String {
    match v {
        Some(true) => "yes".into(),
        Some(false) => "no".into(),
        None => String::new(),
    }
}

impl RuleForm {
    /// An empty form for a new rule.
    pub fn new() -> RuleForm {
        RuleForm {
            enabled: true,
            ..RuleForm::default()
        }
    }

    /// The form of an existing rule at `position`.
    pub fn of(rule: &Rule, position: usize) -> RuleForm {
        let (w, t) = (&rule.when, &rule.then);
        RuleForm {
            name: rule.name.clone(),
            enabled: rule.enabled,
            groups: joined(&w.groups),
            users: joined(&w.users),
            departments: joined(&w.departments),
            cost_centres: joined(&w.cost_centres),
            document_names: joined(&w.document_names),
            applications: joined(&w.applications),
            min_pages: num(w.min_pages),
            max_pages: num(w.max_pages),
            min_sheets: num(w.min_sheets),
            max_sheets: num(w.max_sheets),
            min_copies: num(w.min_copies),
            color_requested: yes_no(w.color_requested),
            color_used: yes_no(w.color_used),
            hours: w.hours.clone().unwrap_or_default(),
            days: joined(&w.days),
            devices: joined(&w.devices),
            sites: joined(&w.sites),
            color: match t.color {
                Some(ColorAction::Allow) => "allow".into(),
                Some(ColorAction::ForceMono) => "force-mono".into(),
                None => String::new(),
            },
            sides: match t.sides {
                Some(SidesAction::Allow) => "allow".into(),
                Some(SidesAction::ForceDuplex) => "force-duplex".into(),
                None => String::new(),
            },
            max_copies: num(t.max_copies),
            refuse: t.refuse.clone().unwrap_or_default(),
            release_sites: joined(&t.release_sites),
            route_to_device: t.route_to_device.clone().unwrap_or_default(),
            hold_hours: num(t.hold_hours),
            watermark: t.watermark.clone().unwrap_or_default(),
            position: position.to_string(),
        }
    }

    /// The form as posted (to show it again with an error).
    pub fn posted(form: &Form) -> RuleForm {
        let f = |k: &str| form.get(k).to_owned();
        RuleForm {
            name: f("name"),
            enabled: form.get("enabled") == "on",
            groups: f("groups"),
            users: f("users"),
            departments: f("departments"),
            cost_centres: f("cost_centres"),
            document_names: f("document_names"),
            applications: f("applications"),
            min_pages: f("min_pages"),
            max_pages: f("max_pages"),
            min_sheets: f("min_sheets"),
            max_sheets: f("max_sheets"),
            min_copies: f("min_copies"),
            color_requested: f("color_requested"),
            color_used: f("color_used"),
            hours: f("hours"),
            days: f("days"),
            devices: f("devices"),
            sites: f("sites"),
            color: f("color"),
            sides: f("sides"),
            max_copies: f("max_copies"),
            refuse: f("refuse"),
            release_sites: f("release_sites"),
            route_to_device: f("route_to_device"),
            hold_hours: f("hold_hours"),
            watermark: f("watermark"),
            position: f("position"),
        }
    }

    /// The rule the form describes, or what is wrong with a field.
    pub fn rule(&self) -> Result<RuleInput, String> {
        let when = Conditions {
            groups: list_of(&self.groups),
            users: list_of(&self.users),
            departments: list_of(&self.departments),
            cost_centres: list_of(&self.cost_centres),
            document_names: list_of(&self.document_names),
            applications: list_of(&self.applications),
            min_pages: number("at least pages", &self.min_pages)?,
            max_pages: number("at most pages", &self.max_pages)?,
            min_sheets: number("at least sheets", &self.min_sheets)?,
            max_sheets: number("at most sheets", &self.max_sheets)?,
            min_copies: number("at least copies", &self.min_copies)?,
            color_requested: boolean(&self.color_requested),
            color_used: boolean(&self.color_used),
            hours: text(&self.hours),
            days: list_of(&self.days),
            devices: list_of(&self.devices),
            sites: list_of(&self.sites),
        };
        let then = Actions {
            color: match self.color.as_str() {
                "allow" => Some(ColorAction::Allow),
                "force-mono" => Some(ColorAction::ForceMono),
                _ => None,
            },
            sides: match self.sides.as_str() {
                "allow" => Some(SidesAction::Allow),
                "force-duplex" => Some(SidesAction::ForceDuplex),
                _ => None,
            },
            max_copies: number("at most copies", &self.max_copies)?,
            refuse: text(&self.refuse),
            release_sites: list_of(&self.release_sites),
            route_to_device: text(&self.route_to_device),
            hold_hours: number("expire after hours", &self.hold_hours)?,
            watermark: text(&self.watermark),
        };
        Ok(RuleInput {
            name: self.name.trim().to_owned(),
            enabled: self.enabled,
            when,
            then,
            position: number("position", &self.position)?.map(|p| p as usize),
        })
    }
}

/// `a, b , c` → `["a", "b", "c"]`.
pub fn list_of(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

fn number(field: &str, v: &str) -> Result<Option<u32>, String> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    v.parse()
        .map(Some)
        .map_err(|_| format!("{field}: `{v}` is not a whole number"))
}

fn text(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty()).then(|| v.to_owned())
}

fn boolean(v: &str) -> Option<bool> {
    match v {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_survives_the_form_both_ways() {
        let rule = Rule {
            id: 3,
            name: "Wristbands".into(),
            enabled: false,
            when: Conditions {
                groups: vec!["nurses".into(), "midwives".into()],
                color_used: Some(false),
                max_pages: Some(2),
                hours: Some("20:00-07:00".into()),
                ..Conditions::default()
            },
            then: Actions {
                route_to_device: Some("ward-labels".into()),
                watermark: Some("{owner} {date}".into()),
                color: Some(ColorAction::ForceMono),
                ..Actions::default()
            },
        };
        let input = RuleForm::of(&rule, 2).rule().unwrap();
        assert_eq!(input.name, rule.name);
        assert!(!input.enabled);
        assert_eq!(input.when, rule.when);
        assert_eq!(input.then, rule.then);
        assert_eq!(input.position, Some(2));
    }

    #[test]
    fn a_field_that_is_not_a_number_is_named() {
        let form = RuleForm {
            min_pages: "ten".into(),
            ..RuleForm::new()
        };
        assert!(form.rule().unwrap_err().contains("at least pages"));
    }
}
