//! Reports for IT and management: what was printed (pages per day and department, colour and
//! black & white, one- and two-sided), what was never printed (expired, deleted), what the
//! rules saved (sheets, colour pages; trees and CO₂ from configurable constants), and who and
//! where printed most. Computed from the usage counted at completion, the jobs and the
//! deliveries of the period; charts drawn server-side as SVG ([`svg`]).

pub mod svg;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::db::models::jobs::JobRow;
use crate::domain::{ColorMode, JobState, JobStateReason, Sides};

/// `[reports]`: the constants behind the environmental estimates.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ReportsSettings {
    /// A4 sheets made from one tree (a common estimate: 8,333).
    pub sheets_per_tree: f64,
    /// Grams of CO₂-equivalent per A4 sheet, paper and printing (estimates range 4–10 g).
    pub grams_co2_per_sheet: f64,
}

impl Default for ReportsSettings {
    fn default() -> Self {
        ReportsSettings {
            sheets_per_tree: 8333.0,
            grams_co2_per_sheet: 4.6,
        }
    }
}

/// Pages counted at completion (one row per printed job).
#[derive(Debug, Clone)]
pub struct Usage {
    pub at: i64,
    /// Local date, `YYYY-MM-DD`.
    pub day: String,
    pub uid: String,
    pub department: String,
    pub color: bool,
    pub pages: u64,
}

/// One day's pages.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Day {
    pub day: String,
    pub mono: u64,
    pub color: u64,
}

/// The report of a period.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Report {
    pub days: Vec<Day>,
    /// Department → pages.
    pub departments: Vec<(String, u64)>,
    pub mono_pages: u64,
    pub color_pages: u64,
    /// Printed jobs' pages × copies, one-sided and two-sided.
    pub simplex_pages: u64,
    pub duplex_pages: u64,
    pub jobs_printed: u64,
    pub jobs_expired: u64,
    pub jobs_deleted: u64,
    /// Sheets two-sided printing saved (pages minus sheets of duplex jobs).
    pub sheets_saved_by_duplex: u64,
    /// Colour asked, black & white printed.
    pub color_pages_avoided: u64,
    /// Sheets of jobs never printed (expired or deleted before release).
    pub sheets_never_printed: u64,
    pub trees_saved: f64,
    pub kg_co2_saved: f64,
    pub top_users: Vec<(String, u64)>,
    /// Device name → jobs printed there.
    pub top_devices: Vec<(String, u64)>,
}

fn top(map: BTreeMap<String, u64>, n: usize) -> Vec<(String, u64)> {
    let mut v: Vec<_> = map.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.truncate(n);
    v
}

/// Builds the report from the period's usage, finished jobs and per-device counts.
pub fn build(
    usage: &[Usage],
    finished: &[JobRow],
    devices: BTreeMap<String, u64>,
    all_days: &[String],
    settings: &ReportsSettings,
) -> Report {
    let mut r = Report::default();
    let mut by_day: BTreeMap<&str, Day> = all_days
        .iter()
        .map(|d| {
            (
                d.as_str(),
                Day {
                    day: d.clone(),
                    ..Day::default()
                },
            )
        })
        .collect();
    let mut departments = BTreeMap::new();
    let mut users = BTreeMap::new();
    for u in usage {
        if let Some(day) = by_day.get_mut(u.day.as_str()) {
            if u.color {
                day.color += u.pages;
            } else {
                day.mono += u.pages;
            }
        }
        if u.color {
            r.color_pages += u.pages;
        } else {
            r.mono_pages += u.pages;
        }
        let department = if u.department.is_empty() {
            "(none)".to_owned()
        } else {
            u.department.clone()
        };
        *departments.entry(department).or_insert(0) += u.pages;
        *users.entry(u.uid.clone()).or_insert(0) += u.pages;
    }
    r.days = by_day.into_values().collect();
    r.departments = top(departments, 12);
    r.top_users = top(users, 10);
    r.top_devices = top(devices, 10);
    for j in finished {
        let pages = j.impressions.unwrap_or(0).max(0) as u64;
        let copies = j.copies.max(1) as u64;
        let duplex = Sides::from_code(j.sides) != Sides::OneSided;
        let sheets = if duplex { pages.div_ceil(2) } else { pages } * copies;
        match JobState::from_code(j.state) {
            Some(JobState::Completed) => {
                r.jobs_printed += 1;
                if duplex {
                    r.duplex_pages += pages * copies;
                    r.sheets_saved_by_duplex += pages * copies - sheets;
                } else {
                    r.simplex_pages += pages * copies;
                }
                let asked_color = j.requested_color_mode == Some(ColorMode::Color.code());
                if asked_color && ColorMode::from_code(j.color_mode) != ColorMode::Color {
                    r.color_pages_avoided += pages * copies;
                }
            }
            Some(JobState::Aborted) if j.state_reason == JobStateReason::AbortedBySystem.code() => {
                r.jobs_expired += 1;
                r.sheets_never_printed += sheets;
            }
            Some(JobState::Canceled) => {
                r.jobs_deleted += 1;
                r.sheets_never_printed += sheets;
            }
            _ => {}
        }
    }
    let saved = (r.sheets_saved_by_duplex + r.sheets_never_printed) as f64;
    r.trees_saved = if settings.sheets_per_tree > 0.0 {
        saved / settings.sheets_per_tree
    } else {
        0.0
    };
    r.kg_co2_saved = saved * settings.grams_co2_per_sheet / 1000.0;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(
        state: JobState,
        reason: JobStateReason,
        sides: Sides,
        asked: Option<ColorMode>,
        color: ColorMode,
        pages: i32,
        copies: i32,
    ) -> JobRow {
        JobRow {
            id: 1,
            uuid: String::new(),
            owner: "alice".into(),
            name: String::new(),
            state: state.code(),
            state_reason: reason.code(),
            state_message: None,
            originating_host: None,
            requested_sides: None,
            requested_color_mode: asked.map(|c| c.code()),
            sides: sides.code(),
            color_mode: color.code(),
            copies,
            media: None,
            impressions: Some(pages),
            created_at: 0,
            processing_at: None,
            completed_at: Some(0),
            expires_at: 0,
        }
    }

    fn usage(day: &str, dept: &str, color: bool, pages: u64) -> Usage {
        Usage {
            at: 0,
            day: day.into(),
            uid: "alice".into(),
            department: dept.into(),
            color,
            pages,
        }
    }

    #[test]
    fn the_report_adds_up_what_printed_and_what_was_saved() {
        let usage = [
            usage("2026-11-20", "Cardiologie", false, 10),
            usage("2026-11-20", "Cardiologie", true, 2),
            usage("2026-11-21", "Radiologie", false, 5),
        ];
        let finished = [
            // 5 pages × 2 copies two-sided: 6 sheets for 10 pages: 4 saved; colour asked, mono.
            job(
                JobState::Completed,
                JobStateReason::JobCompletedSuccessfully,
                Sides::TwoSidedLongEdge,
                Some(ColorMode::Color),
                ColorMode::Monochrome,
                5,
                2,
            ),
            job(
                JobState::Completed,
                JobStateReason::JobCompletedSuccessfully,
                Sides::OneSided,
                None,
                ColorMode::Monochrome,
                3,
                1,
            ),
            // Expired: 4 pages two-sided = 2 sheets never printed.
            job(
                JobState::Aborted,
                JobStateReason::AbortedBySystem,
                Sides::TwoSidedLongEdge,
                None,
                ColorMode::Monochrome,
                4,
                1,
            ),
            job(
                JobState::Canceled,
                JobStateReason::JobCanceledByUser,
                Sides::OneSided,
                None,
                ColorMode::Monochrome,
                1,
                1,
            ),
        ];
        let days = vec![
            "2026-11-20".to_owned(),
            "2026-11-21".to_owned(),
            "2026-11-22".to_owned(),
        ];
        let settings = ReportsSettings {
            sheets_per_tree: 7.0,
            grams_co2_per_sheet: 1000.0,
        };
        let r = build(
            &usage,
            &finished,
            BTreeMap::from([("ward-3".to_owned(), 2)]),
            &days,
            &settings,
        );
        assert_eq!(r.days.len(), 3, "days without printing are shown too");
        assert_eq!((r.days[0].mono, r.days[0].color), (10, 2));
        assert_eq!(
            r.days[2],
            Day {
                day: "2026-11-22".into(),
                mono: 0,
                color: 0
            }
        );
        assert_eq!((r.mono_pages, r.color_pages), (15, 2));
        assert_eq!(r.departments[0], ("Cardiologie".to_owned(), 12));
        assert_eq!((r.jobs_printed, r.jobs_expired, r.jobs_deleted), (2, 1, 1));
        assert_eq!((r.duplex_pages, r.simplex_pages), (10, 3));
        assert_eq!(r.sheets_saved_by_duplex, 4);
        assert_eq!(r.color_pages_avoided, 10);
        assert_eq!(r.sheets_never_printed, 3);
        assert!((r.trees_saved - 1.0).abs() < 1e-9, "7 sheets, 7 per tree");
        assert!((r.kg_co2_saved - 7.0).abs() < 1e-9);
        assert_eq!(r.top_devices, [("ward-3".to_owned(), 2)]);
    }
}
