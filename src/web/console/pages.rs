//! The console's pages: what each template is given.

use askama::Template;

use super::Staff;
use crate::db::models::jobs::JobRow;
use crate::devices::Device;
use crate::domain::{ColorMode, JobState, JobStateReason, Sides};

#[derive(Template)]
#[template(path = "console/login.html")]
pub struct LoginPage {
    pub csrf: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/message.html")]
pub struct MessagePage {
    pub staff: Staff,
    pub nav: &'static str,
    pub heading: String,
    pub message: String,
    pub kind: &'static str,
}

/// Local date and time of `ms` (the system's time zone).
pub fn local(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| {
            t.to_zoned(jiff::tz::TimeZone::system())
                .strftime("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

/// Midnight today, local time, in ms.
pub fn start_of_today_ms() -> i64 {
    let now = jiff::Zoned::now();
    now.start_of_day()
        .map(|z| z.timestamp().as_millisecond())
        .unwrap_or_else(|_| crate::db::now_ms() - 86_400_000)
}

/// A job as the console lists it: metadata, never its name or content.
pub struct JobLine {
    pub id: i64,
    pub owner: String,
    pub state: &'static str,
    pub pages: String,
    pub copies: i32,
    pub color: &'static str,
    pub sides: &'static str,
    pub submitted: String,
    pub message: String,
}

impl JobLine {
    pub fn of(j: &JobRow) -> JobLine {
        let set_aside =
            JobStateReason::from_code(j.state_reason) == JobStateReason::DocumentAccessError;
        let state = match JobState::from_code(j.state) {
            Some(JobState::PendingHeld) if set_aside => "document-missing",
            Some(JobState::Pending) => "incoming",
            Some(JobState::PendingHeld) => "held",
            Some(JobState::Processing) => "printing",
            Some(JobState::ProcessingStopped) => "needs-decision",
            Some(JobState::Canceled) => "canceled",
            Some(JobState::Aborted) => "aborted",
            Some(JobState::Completed) => "printed",
            None => "unknown",
        };
        JobLine {
            id: j.id,
            owner: j.owner.clone(),
            state,
            pages: j
                .impressions
                .map(|p| p.to_string())
                .unwrap_or_else(|| "—".into()),
            copies: j.copies,
            color: if ColorMode::from_code(j.color_mode) == ColorMode::Color {
                "colour"
            } else {
                "mono"
            },
            sides: if Sides::from_code(j.sides) == Sides::OneSided {
                "one-sided"
            } else {
                "two-sided"
            },
            submitted: local(j.created_at),
            message: j.state_message.clone().unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "console/dashboard.html")]
pub struct DashboardPage {
    pub staff: Staff,
    pub nav: &'static str,
    pub held: i64,
    pub printing: i64,
    pub needs_decision: i64,
    pub printed_today: i64,
    pub devices: usize,
    /// Devices that cannot print now: "name (state)".
    pub in_error: Vec<String>,
    pub today: Today,
    pub rules: usize,
    pub recent: Vec<JobLine>,
}

/// Today's printing, from the jobs printed since midnight.
#[derive(Debug, Default)]
pub struct Today {
    pub pages: i64,
    /// Percent of pages printed in colour, and two-sided.
    pub color_share: i64,
    pub duplex_share: i64,
}

impl Today {
    pub fn of(finished: &[JobRow]) -> Today {
        let (mut pages, mut color, mut duplex) = (0i64, 0i64, 0i64);
        for j in finished {
            if JobState::from_code(j.state) != Some(JobState::Completed) {
                continue;
            }
            let n = i64::from(j.impressions.unwrap_or(1).max(1)) * i64::from(j.copies.max(1));
            pages += n;
            if ColorMode::from_code(j.color_mode) == ColorMode::Color {
                color += n;
            }
            if Sides::from_code(j.sides) != Sides::OneSided {
                duplex += n;
            }
        }
        let share = |x: i64| (x * 100).checked_div(pages).unwrap_or(0);
        Today {
            pages,
            color_share: share(color),
            duplex_share: share(duplex),
        }
    }
}

#[derive(Template)]
#[template(path = "console/jobs.html")]
pub struct JobsPage {
    pub staff: Staff,
    pub nav: &'static str,
    pub user: String,
    pub state: &'static str,
    pub device: String,
    /// Device names, for "release at".
    pub devices: Vec<String>,
    pub notice: Option<String>,
    pub jobs: Vec<JobLine>,
}

/// A device as the console lists it.
pub struct DeviceLine {
    pub id: i64,
    pub name: String,
    pub location: String,
    pub driver: String,
    pub uri: String,
    pub capabilities: String,
    pub tls: String,
    /// `ready`, `busy`, `error`, `offline`, or empty when not asked.
    pub status: &'static str,
    pub status_text: String,
}

impl DeviceLine {
    /// The line with the device's live state.
    pub fn with_status(d: &Device, s: &crate::output::DeviceStatus) -> DeviceLine {
        let status = match (s.ready, s.state.as_str()) {
            (_, "unreachable") => "offline",
            (true, "processing") => "busy",
            (true, _) => "ready",
            (false, _) => "error",
        };
        let mut text = s.state.clone();
        if !s.reasons.is_empty() {
            text = format!("{text}: {}", s.reasons.join(", "));
        }
        DeviceLine {
            status,
            status_text: text,
            ..DeviceLine::of(d)
        }
    }

    pub fn of(d: &Device) -> DeviceLine {
        let l = &d.location;
        let c = &d.capabilities;
        DeviceLine {
            id: d.id,
            status: "",
            status_text: String::new(),
            name: d.name.clone(),
            location: [&l.site, &l.building, &l.floor, &l.service]
                .iter()
                .filter(|x| !x.is_empty())
                .map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join(" / "),
            driver: d.driver.clone(),
            uri: d.uri.clone(),
            capabilities: [
                if c.color { "colour" } else { "mono" },
                if c.duplex { "two-sided" } else { "one-sided" },
            ]
            .join(", "),
            tls: match (&d.tls_pin, d.uri.starts_with("ipps:")) {
                (Some(pin), _) => format!("pinned {}…", &pin[..pin.len().min(12)]),
                (None, true) => "CA".into(),
                (None, false) => "—".into(),
            },
        }
    }
}

#[derive(Template)]
#[template(path = "console/devices.html")]
pub struct DevicesPage {
    pub staff: Staff,
    pub nav: &'static str,
    pub devices: Vec<DeviceLine>,
    /// Driver profiles (id, name).
    pub drivers: Vec<(String, String)>,
    pub form: super::devices::DeviceForm,
    pub error: Option<String>,
    pub notice: Option<String>,
}

#[derive(Template)]
#[template(path = "console/device_edit.html")]
pub struct DeviceEditPage {
    pub staff: Staff,
    pub nav: &'static str,
    pub id: i64,
    pub drivers: Vec<(String, String)>,
    pub form: super::devices::DeviceForm,
    pub error: Option<String>,
}

/// A device's terminal token, shown once.
#[derive(Template)]
#[template(path = "console/device_token.html")]
pub struct DeviceTokenPage {
    pub staff: Staff,
    pub nav: &'static str,
    pub device: String,
    pub token: String,
    /// Added now (rather than rotated).
    pub new: bool,
}

/// A rule as the policies page lists it.
pub struct RuleLine {
    pub id: i64,
    pub position: usize,
    pub name: String,
    pub enabled: bool,
    pub when: String,
    pub then: String,
}

#[derive(Template)]
#[template(path = "console/policies.html")]
pub struct PoliciesPage {
    pub staff: Staff,
    pub nav: &'static str,
    pub rules: Vec<RuleLine>,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub sim_user: String,
    /// (setting, result, decided by)
    pub simulation: Vec<(String, String, String)>,
    /// The add form (filled again after an error).
    pub form: super::rule_form::RuleForm,
}

#[derive(Template)]
#[template(path = "console/rule_edit.html")]
pub struct RuleEditPage {
    pub staff: Staff,
    pub nav: &'static str,
    pub id: i64,
    pub title: String,
    pub form: super::rule_form::RuleForm,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/users.html")]
pub struct UsersPage {
    pub staff: Staff,
    pub nav: &'static str,
    pub q: String,
    /// (path segment, login, name, department)
    pub found: Vec<(String, String, String, String)>,
}

#[derive(Template)]
#[template(path = "console/user.html")]
pub struct UserPage {
    pub staff: Staff,
    pub nav: &'static str,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub user: crate::directory::DirectoryUser,
    /// The login as a path segment.
    pub segment: String,
    pub groups: String,
    /// Card numbers the directory holds for them.
    pub directory_badges: usize,
    /// Badges linked in Folio: (id, number, since).
    pub linked: Vec<(i64, String, String)>,
    pub has_pin: bool,
    /// (id, to whom, until)
    pub given: Vec<(i64, String, String)>,
    pub received: String,
    /// (sentence, percent used)
    pub budgets: Vec<(String, u32)>,
    /// Jobs held or printing.
    pub open: usize,
}

/// One monthly budget and its use, in a sentence (`own`: "My" on one's page, "Own" for IT).
pub fn budget_line(s: &crate::policy::quota::Standing, own: &str) -> String {
    format!(
        "{} {} pages: {} of {} used in {} ({})",
        if s.quota.scope == "user" {
            own
        } else {
            "Department"
        },
        if s.quota.color {
            "colour"
        } else {
            "black & white"
        },
        s.used,
        s.quota.monthly_pages,
        s.month,
        if s.quota.hard { "firm limit" } else { "guide" }
    )
}
