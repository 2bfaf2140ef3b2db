//! Policy: what the client asked for becomes the ticket actually printed.
//!
//! The hospital default is duplex and black & white; a request that is already stricter
//! (short-edge duplex, bi-level) is kept. Rules by group, quotas and colour permissions come
//! later and will live here too.

use crate::domain::{ColorMode, Sides};

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
