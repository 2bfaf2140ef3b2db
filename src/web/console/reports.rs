//! The reports page (administrators and auditors): the period's printing in charts and
//! figures, and each table as CSV.

use std::collections::BTreeMap;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::{gate, render, ConsoleSessions, Staff};
use crate::audit::export::csv_field;
use crate::config::ReportsSettings;
use crate::db::models::{deliveries, devices, jobs, quotas};
use crate::db::DbError;
use crate::directory::settings::Role;
use crate::reports::{self, svg, Report, Usage};

const READERS: &[Role] = &[Role::Admin, Role::Auditor];
/// Rows read for one report (a CHU prints some thousands of jobs a day).
const MAX_ROWS: i64 = 500_000;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/reports", web::get().to(page))
        .route("/reports.csv", web::get().to(csv));
}

#[derive(serde::Deserialize)]
struct Period {
    #[serde(default)]
    days: Option<u32>,
    #[serde(default)]
    table: Option<String>,
}

impl Period {
    fn days(&self) -> u32 {
        self.days.unwrap_or(30).clamp(1, 366)
    }
}

/// Local dates of the last `n` days, oldest first.
fn last_days(n: u32) -> Vec<String> {
    let today = jiff::Zoned::now().date();
    (0..n)
        .rev()
        .filter_map(|i| today.checked_sub(jiff::Span::new().days(i64::from(i))).ok())
        .map(|d| d.to_string())
        .collect()
}

async fn compute(
    sessions: &ConsoleSessions,
    settings: &ReportsSettings,
    days: u32,
) -> Result<Report, DbError> {
    let all_days = last_days(days);
    let since = super::pages::start_of_today_ms() - i64::from(days - 1) * 86_400_000;
    let (usage, finished, per_device) = sessions
        .db
        .run(move |conn| {
            let usage = quotas::usage_since(conn, since, MAX_ROWS)?;
            let finished = jobs::finished_since(conn, since, MAX_ROWS)?;
            let mut per_device: BTreeMap<String, u64> = BTreeMap::new();
            let mut names: BTreeMap<i64, String> = BTreeMap::new();
            for id in deliveries::completed_devices_since(conn, since)? {
                let name = match names.get(&id) {
                    Some(n) => n.clone(),
                    None => {
                        let n = devices::by_id_any(conn, id)?
                            .map(|d| d.name)
                            .unwrap_or_else(|| format!("device {id}"));
                        names.insert(id, n.clone());
                        n
                    }
                };
                *per_device.entry(name).or_insert(0) += 1;
            }
            Ok::<_, DbError>((usage, finished, per_device))
        })
        .await?;
    let usage: Vec<Usage> = usage
        .into_iter()
        .map(|(at, uid, department, color, pages)| Usage {
            day: super::pages::local(at)
                .get(..10)
                .unwrap_or_default()
                .to_owned(),
            at,
            uid,
            department,
            color: color != 0,
            pages: pages.max(0) as u64,
        })
        .collect();
    Ok(reports::build(
        &usage, &finished, per_device, &all_days, settings,
    ))
}

#[derive(Template)]
#[template(path = "console/reports.html")]
struct ReportsPage {
    staff: Staff,
    nav: &'static str,
    days: u32,
    r: Report,
    chart_days: String,
    chart_departments: String,
    chart_users: String,
    chart_devices: String,
    color_share: String,
    duplex_share: String,
    trees: String,
    co2: String,
}

fn share(part: u64, whole: u64) -> String {
    if whole == 0 {
        "—".into()
    } else {
        format!("{:.0} %", 100.0 * part as f64 / whole as f64)
    }
}

async fn page(
    req: HttpRequest,
    period: web::Query<Period>,
    sessions: web::Data<ConsoleSessions>,
    settings: web::Data<ReportsSettings>,
) -> HttpResponse {
    let staff = match gate(&req, &sessions, READERS).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let days = period.days();
    let r = match compute(&sessions, &settings, days).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "report failed");
            return super::message(
                &staff,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Reports",
                "The report could not be computed; the details are in Folio's log.",
            );
        }
    };
    render(
        StatusCode::OK,
        &ReportsPage {
            nav: "reports",
            days,
            chart_days: svg::pages_per_day(&r.days),
            chart_departments: svg::ranking(
                "chart-departments",
                "Pages by department",
                &r.departments,
            ),
            chart_users: svg::ranking("chart-users", "Top users", &r.top_users),
            chart_devices: svg::ranking("chart-devices", "Jobs by device", &r.top_devices),
            color_share: share(r.color_pages, r.color_pages + r.mono_pages),
            duplex_share: share(r.duplex_pages, r.duplex_pages + r.simplex_pages),
            trees: format!("{:.2}", r.trees_saved),
            co2: format!("{:.1}", r.kg_co2_saved),
            r,
            staff,
        },
    )
}

async fn csv(
    req: HttpRequest,
    period: web::Query<Period>,
    sessions: web::Data<ConsoleSessions>,
    settings: web::Data<ReportsSettings>,
) -> HttpResponse {
    let staff = match gate(&req, &sessions, READERS).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let r = match compute(&sessions, &settings, period.days()).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "report export failed");
            return HttpResponse::InternalServerError().finish();
        }
    };
    let table = period.table.clone().unwrap_or_else(|| "days".into());
    let rows: Vec<Vec<String>> = match table.as_str() {
        "departments" => pairs("department", "pages", &r.departments),
        "users" => pairs("user", "pages", &r.top_users),
        "devices" => pairs("device", "jobs", &r.top_devices),
        "summary" => {
            let mut v = vec![vec!["measure".to_owned(), "value".to_owned()]];
            for (k, x) in [
                ("black & white pages", r.mono_pages.to_string()),
                ("colour pages", r.color_pages.to_string()),
                ("one-sided pages", r.simplex_pages.to_string()),
                ("two-sided pages", r.duplex_pages.to_string()),
                ("jobs printed", r.jobs_printed.to_string()),
                ("jobs expired unreleased", r.jobs_expired.to_string()),
                ("jobs deleted", r.jobs_deleted.to_string()),
                (
                    "sheets saved by two-sided",
                    r.sheets_saved_by_duplex.to_string(),
                ),
                ("colour pages avoided", r.color_pages_avoided.to_string()),
                ("sheets never printed", r.sheets_never_printed.to_string()),
                ("trees saved", format!("{:.3}", r.trees_saved)),
                ("kg CO2 saved", format!("{:.2}", r.kg_co2_saved)),
            ] {
                v.push(vec![k.to_owned(), x]);
            }
            v
        }
        _ => {
            let mut v = vec![vec![
                "day".into(),
                "black & white pages".into(),
                "colour pages".into(),
            ]];
            v.extend(
                r.days
                    .iter()
                    .map(|d| vec![d.day.clone(), d.mono.to_string(), d.color.to_string()]),
            );
            v
        }
    };
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    tracing::info!(user = %staff.uid, table = %table, "report exported");
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"folio-{table}-{}d.csv\"",
                period.days()
            ),
        ))
        .content_type("text/csv; charset=utf-8")
        .body(out)
}

fn pairs(a: &str, b: &str, items: &[(String, u64)]) -> Vec<Vec<String>> {
    let mut v = vec![vec![a.to_owned(), b.to_owned()]];
    v.extend(items.iter().map(|(k, n)| vec![k.clone(), n.to_string()]));
    v
}
