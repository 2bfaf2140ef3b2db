//! Policy: what the client asked for becomes the ticket actually printed.
//!
//! The hospital default is duplex and black & white; a request that is already stricter
//! (short-edge duplex, bi-level) is kept. IT's rules ([`rules`], stored by [`store`]) change
//! that per group, department, document, time or device, first match wins per setting.

pub mod quota;
pub mod rules;
pub mod store;

use crate::directory::DirectoryService;
use crate::domain::{ColorMode, Sides};
pub use rules::{Decision, Facts};
pub use store::PolicyStore;

/// What the client asked for (any of it may be absent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Requested {
    /// "sides"
    pub sides: Option<Sides>,
    /// "print-color-mode"
    pub color_mode: Option<ColorMode>,
    /// "copies"
    pub copies: Option<u32>,
}

/// The ticket that will be printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    pub sides: Sides,
    pub color_mode: ColorMode,
    pub copies: u32,
}

/// The most copies one job may ask for.
pub const MAX_COPIES: u32 = 999;

/// Applies the default policy to a request.
pub fn ticket_for(requested: Requested) -> Ticket {
    let sides = match requested.sides {
        Some(s) if s.is_duplex() => s,
        _ => Sides::TwoSidedLongEdge,
    };
    let color_mode = match requested.color_mode {
        Some(c) if c.is_mono() => c,
        _ => ColorMode::Monochrome,
    };
    Ticket {
        sides,
        color_mode,
        copies: requested.copies.unwrap_or(1).clamp(1, MAX_COPIES),
    }
}

/// The local time as rules see it: minutes since midnight and the weekday (0 = Monday), in the
/// system's time zone (`TZ`, or `/etc/localtime`).
pub fn local_time() -> (u32, u8) {
    let now = jiff::Zoned::now();
    (
        now.hour() as u32 * 60 + now.minute() as u32,
        now.weekday().to_monday_zero_offset() as u8,
    )
}

/// What a job is, for the rules.
#[derive(Debug, Clone, Default)]
pub struct JobFacts {
    pub requested: Requested,
    pub pages: Option<u32>,
    pub color_used: Option<bool>,
    pub document_name: String,
    pub application: String,
}

/// The facts of `user`'s job: the directory gives groups, department and cost centre (a user
/// the directory cannot answer for gets none, so group rules do not match).
pub async fn facts_for(directory: &DirectoryService, user: &str, job: JobFacts) -> Facts {
    let found = directory.user(user).await.ok().flatten().map(|l| l.user);
    let (minute_of_day, weekday) = local_time();
    Facts {
        user: user.to_owned(),
        groups: found.as_ref().map(|u| u.groups.clone()).unwrap_or_default(),
        department: found
            .as_ref()
            .map(|u| u.department.clone())
            .unwrap_or_default(),
        cost_centre: found
            .as_ref()
            .map(|u| u.cost_centre.clone())
            .unwrap_or_default(),
        requested: job.requested,
        pages: job.pages,
        color_used: job.color_used,
        document_name: job.document_name,
        application: job.application,
        minute_of_day,
        weekday,
        device: None,
        site: None,
    }
}

/// Sheets of paper a job uses: pages per copy, halved (rounded up) when duplex.
pub fn sheets(pages: u32, ticket: &Ticket) -> u32 {
    let per_copy = if ticket.sides.is_duplex() {
        pages.div_ceil(2)
    } else {
        pages
    };
    per_copy.saturating_mul(ticket.copies)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_asked_prints_duplex_and_mono() {
        let t = ticket_for(Requested::default());
        assert_eq!(t.sides, Sides::TwoSidedLongEdge);
        assert_eq!(t.color_mode, ColorMode::Monochrome);
        assert_eq!(t.copies, 1);
    }

    #[test]
    fn simplex_and_colour_requests_are_overridden() {
        let t = ticket_for(Requested {
            sides: Some(Sides::OneSided),
            color_mode: Some(ColorMode::Color),
            copies: Some(2),
        });
        assert_eq!(t.sides, Sides::TwoSidedLongEdge);
        assert_eq!(t.color_mode, ColorMode::Monochrome);
        assert_eq!(t.copies, 2);
    }

    #[test]
    fn a_stricter_request_is_kept() {
        let t = ticket_for(Requested {
            sides: Some(Sides::TwoSidedShortEdge),
            color_mode: Some(ColorMode::BiLevel),
            copies: None,
        });
        assert_eq!(t.sides, Sides::TwoSidedShortEdge);
        assert_eq!(t.color_mode, ColorMode::BiLevel);
    }

    #[test]
    fn sheets_account_for_sides_and_copies() {
        let duplex = ticket_for(Requested {
            copies: Some(3),
            ..Requested::default()
        });
        assert_eq!(sheets(5, &duplex), 9);
        let simplex = Ticket {
            sides: Sides::OneSided,
            ..duplex
        };
        assert_eq!(sheets(5, &simplex), 15);
    }
}
