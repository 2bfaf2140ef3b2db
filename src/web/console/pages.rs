//! The console's pages: what each template is given.

use askama::Template;

use super::Staff;
use crate::db::models::jobs::JobRow;
use crate::devices::Device;
use crate::domain::{ColorMode, JobState, Sides};

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
        let state = match JobState::from_code(j.state) {
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
    pub rules: usize,
    pub recent: Vec<JobLine>,
}

#[derive(Template)]
#[template(path = "console/jobs.html")]
pub struct JobsPage {
    pub staff: Staff,
    pub nav: &'static str,
    pub user: String,
    pub state: &'static str,
    pub jobs: Vec<JobLine>,
}

/// A device as the console lists it.
pub struct DeviceLine {
    pub name: String,
    pub location: String,
    pub driver: String,
    pub uri: String,
    pub capabilities: String,
    pub tls: String,
}

impl DeviceLine {
    pub fn of(d: &Device) -> DeviceLine {
        let l = &d.location;
        let c = &d.capabilities;
        DeviceLine {
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
}
