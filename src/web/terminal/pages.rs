//! The terminal's pages: what each template is given.

use askama::Template;

use super::texts::Texts;
use super::Ctx;
use crate::devices::Device;
use crate::release::{JobView, SessionView};

/// A message above the list: a job sent, deleted, or not printed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Notice {
    pub ok: bool,
    pub text: String,
}

impl Notice {
    /// The cookie form of a list of notices (URL-safe base64 of JSON).
    pub fn encode(notices: &[Notice]) -> String {
        use base64::Engine;
        let json = serde_json::to_vec(notices).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    /// Notices back from their cookie form; nothing when it is not one.
    pub fn decode(value: &str) -> Vec<Notice> {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(value)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .unwrap_or_default()
    }

    pub fn ok(text: String) -> Notice {
        Notice { ok: true, text }
    }

    pub fn error(text: String) -> Notice {
        Notice { ok: false, text }
    }
}

/// "Link this screen to its copier".
#[derive(Template)]
#[template(path = "terminal/pair.html")]
pub struct PairPage {
    pub t: &'static Texts,
    pub csrf: String,
    pub error: Option<&'static str>,
}

impl PairPage {
    pub fn new(ctx: &Ctx, error: Option<&'static str>) -> PairPage {
        PairPage {
            t: ctx.t,
            csrf: ctx.csrf.clone(),
            error,
        }
    }

    /// A form came back without a valid CSRF token (an old page, or another site).
    pub fn expired(ctx: &Ctx) -> PairPage {
        PairPage::new(ctx, Some(ctx.t.page_expired))
    }
}

/// Badge, PIN, or login and password.
#[derive(Template)]
#[template(path = "terminal/badge.html")]
pub struct BadgePage {
    pub t: &'static Texts,
    pub csrf: String,
    pub device: String,
    /// `badge`, `pin`, `register` (unknown badge: sign in to link it), `login`.
    pub step: &'static str,
    /// The badge read, carried to the PIN or registration step.
    pub badge: String,
    pub status_problem: Option<String>,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub logout_secs: u64,
}

impl BadgePage {
    pub fn new(ctx: &Ctx, device: &Device, step: &'static str) -> BadgePage {
        BadgePage {
            t: ctx.t,
            csrf: ctx.csrf.clone(),
            device: device.name.clone(),
            step,
            badge: String::new(),
            status_problem: None,
            notice: None,
            error: None,
            logout_secs: ctx.logout_secs,
        }
    }
}

/// One job of the list.
pub struct JobLine {
    pub id: i64,
    pub name: String,
    pub details: String,
    pub age: String,
    /// The owner, for a job released on someone's behalf.
    pub owner: Option<String>,
    pub needs_decision: bool,
    pub message: Option<String>,
}

impl JobLine {
    fn of(t: &Texts, j: &JobView, now_ms: i64) -> JobLine {
        let mut details = Vec::new();
        if let Some(p) = j.pages {
            details.push(format!("{p} {}", if p == 1 { t.page } else { t.pages }));
        }
        if let Some(s) = j.sheets {
            details.push(format!("{s} {}", if s == 1 { t.sheet } else { t.sheets }));
        }
        if j.copies > 1 {
            details.push(format!("{} {}", j.copies, t.copies));
        }
        details.push(if j.color { t.color } else { t.mono }.to_owned());
        details.push(if j.duplex { t.duplex } else { t.simplex }.to_owned());
        let minutes = (now_ms - j.submitted).max(0) / 60_000;
        let age = match minutes {
            0 => t.just_now.to_owned(),
            m if m < 120 => format!("{m} {}", t.minutes_ago),
            m => format!("{} {}", m / 60, t.hours_ago),
        };
        JobLine {
            id: j.id,
            name: j.name.clone(),
            details: details.join(" · "),
            age,
            owner: j.delegated.then(|| j.owner.clone()),
            needs_decision: j.state == "needs-decision",
            // A held job's message says why it came back (not printed at …).
            message: j.message.clone().filter(|_| j.state == "held"),
        }
    }
}

/// The session: the holder's jobs and what to do with them.
#[derive(Template)]
#[template(path = "terminal/session.html")]
pub struct SessionPage {
    pub t: &'static Texts,
    pub csrf: String,
    pub device: String,
    pub display_name: String,
    pub degraded: bool,
    pub status_problem: Option<String>,
    pub notices: Vec<Notice>,
    pub jobs: Vec<JobLine>,
    /// Jobs "Print all" releases (those awaiting a decision are printed again one by one).
    pub held: usize,
    pub logout_secs: u64,
}

impl SessionPage {
    pub fn new(ctx: &Ctx, view: &SessionView, notices: Vec<Notice>) -> SessionPage {
        let now = crate::db::now_ms();
        SessionPage {
            t: ctx.t,
            csrf: ctx.csrf.clone(),
            device: view.device.clone(),
            display_name: view.display_name.clone(),
            degraded: view.degraded,
            status_problem: (!view.device_status.ready).then(|| view.device_status.message.clone()),
            notices,
            jobs: view
                .jobs
                .iter()
                .map(|j| JobLine::of(ctx.t, j, now))
                .collect(),
            held: view.jobs.iter().filter(|j| j.state == "held").count(),
            logout_secs: ctx.logout_secs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_survive_their_cookie_form() {
        let notices = vec![
            Notice::ok("Compte rendu — envoyé au copieur".into()),
            Notice::error("Bilan — non imprimé: \"busy\"; <b>".into()),
        ];
        assert_eq!(Notice::decode(&Notice::encode(&notices)), notices);
        assert!(Notice::decode("not base64 ¤").is_empty());
    }
}
