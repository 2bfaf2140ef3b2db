//! Monthly page budgets, per user and per department, colour and black & white apart. A
//! **hard** budget refuses what would go over it (at submission when it is already spent, at
//! release when the job would pass it); a **soft** one lets the job print and says so. Pages
//! are counted when a job completes at a copier (its impressions, or its pages × copies when
//! the copier does not tell), with the owner's department at that time; a job that does not
//! print is never counted. Months are local calendar months.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::audit;
use crate::db::models::quotas::{self as rows, NewQuota, NewUsage, QuotaRow};
use crate::db::{self, Db, DbError};

/// The month a time falls in, `YYYY-MM` (local time).
pub fn month_of(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| {
            t.to_zoned(jiff::tz::TimeZone::system())
                .strftime("%Y-%m")
                .to_string()
        })
        .unwrap_or_default()
}

fn key(s: &str) -> String {
    s.trim().to_lowercase()
}

/// A budget as IT sets it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    #[serde(default)]
    pub id: i64,
    /// `user` or `department`.
    pub scope: String,
    /// The login name, or the department as the directory spells it.
    pub name: String,
    /// Colour pages (`true`) or black & white pages.
    pub color: bool,
    pub monthly_pages: u32,
    /// Refuse beyond it (`true`) or warn.
    pub hard: bool,
}

impl Quota {
    fn of(r: QuotaRow) -> Quota {
        Quota {
            id: r.id,
            scope: r.scope,
            name: r.name,
            color: r.color != 0,
            monthly_pages: r.monthly_pages.max(0) as u32,
            hard: r.hard != 0,
        }
    }
}

/// What a job may do under the budgets.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Within,
    /// Print, and tell the user.
    Warn(String),
    /// Do not print; the message says which budget.
    Refuse(String),
}

/// One budget's state this month.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Standing {
    pub quota: Quota,
    pub month: String,
    pub used: u64,
}

/// Budgets and usage (cheap to clone).
#[derive(Clone)]
pub struct Quotas {
    db: Db,
    /// Whether any budget exists, and when that was read: print intake skips the budget
    /// queries entirely on a site without budgets.
    any: Arc<Mutex<Option<(Instant, bool)>>>,
}

impl Quotas {
    pub fn new(db: Db) -> Quotas {
        Quotas {
            db,
            any: Arc::new(Mutex::new(None)),
        }
    }

    /// Whether any budget is set (read again every 2 seconds).
    pub async fn any(&self) -> Result<bool, DbError> {
        if let Some((at, any)) = *self.any.lock().unwrap_or_else(|e| e.into_inner()) {
            if at.elapsed() < Duration::from_secs(2) {
                return Ok(any);
            }
        }
        let any = !self.list().await?.is_empty();
        *self.any.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), any));
        Ok(any)
    }

    pub async fn list(&self) -> Result<Vec<Quota>, DbError> {
        self.db
            .run(|c| Ok::<_, DbError>(rows::all(c)?.into_iter().map(Quota::of).collect()))
            .await
    }

    /// Sets (or replaces) a budget; refuses a bad scope or an empty name.
    pub async fn set(&self, q: Quota, actor: &str) -> Result<Quota, String> {
        if !matches!(q.scope.as_str(), "user" | "department") {
            return Err("scope must be `user` or `department`".into());
        }
        if q.name.trim().is_empty() {
            return Err("name the user or the department".into());
        }
        let actor = actor.to_owned();
        let row = NewQuota {
            scope: q.scope.clone(),
            name: key(&q.name),
            color: q.color as i16,
            monthly_pages: q.monthly_pages.min(i32::MAX as u32) as i32,
            hard: q.hard as i16,
            created_at: db::now_ms(),
            created_by: actor.clone(),
        };
        let id = self
            .db
            .run(move |conn| {
                db::write_tx(conn, |conn| {
                    let id = rows::upsert(conn, &row)?;
                    audit::append(
                        conn,
                        audit::Event {
                            actor: &actor,
                            action: "quota.set",
                            object: &format!("{}:{}", row.scope, row.name),
                            detail: serde_json::json!({
                                "color": row.color != 0, "monthly_pages": row.monthly_pages,
                                "hard": row.hard != 0,
                            })
                            .to_string(),
                            ..Default::default()
                        },
                    )?;
                    Ok::<_, diesel::result::Error>(id)
                })
                .map_err(DbError::from)
            })
            .await
            .map_err(|e| e.to_string())?;
        Ok(Quota {
            id,
            name: key(&q.name),
            ..q
        })
    }

    pub async fn delete(&self, id: i64, actor: &str) -> Result<bool, DbError> {
        let actor = actor.to_owned();
        self.db
            .run(move |conn| {
                db::write_tx(conn, |conn| {
                    let n = rows::delete(conn, id)?;
                    if n > 0 {
                        audit::append(
                            conn,
                            audit::Event {
                                actor: &actor,
                                action: "quota.deleted",
                                object: &format!("quota:{id}"),
                                detail: "{}".into(),
                                ..Default::default()
                            },
                        )?;
                    }
                    Ok::<_, diesel::result::Error>(n > 0)
                })
                .map_err(DbError::from)
            })
            .await
    }

    /// The budgets of a user (theirs and their department's) with this month's use: pages
    /// counted, plus (for their own budgets) their jobs being printed right now, so that
    /// releasing several jobs at once cannot pass a hard budget.
    pub async fn standing(&self, uid: &str, department: &str) -> Result<Vec<Standing>, DbError> {
        let (owner, uid, department) = (uid.to_owned(), key(uid), key(department));
        let month = month_of(db::now_ms());
        self.db
            .run(move |conn| {
                let mut out = Vec::new();
                for q in rows::applying(conn, &uid, &department)? {
                    let used = if q.scope == "user" {
                        rows::used_by_user(conn, &month, &uid, q.color)?
                            + crate::db::models::jobs::in_flight_pages(conn, &owner, q.color != 0)?
                    } else {
                        rows::used_by_department(conn, &month, &department, q.color)?
                    };
                    out.push(Standing {
                        quota: Quota::of(q),
                        month: month.clone(),
                        used: used.max(0) as u64,
                    });
                }
                Ok::<_, DbError>(out)
            })
            .await
    }

    /// Whether `pages` more (colour or not) fit the budgets of `uid` and `department`.
    pub async fn check(
        &self,
        uid: &str,
        department: &str,
        color: bool,
        pages: u64,
    ) -> Result<Verdict, DbError> {
        let mut warn = None;
        for s in self.standing(uid, department).await? {
            if s.quota.color != color {
                continue;
            }
            let limit = u64::from(s.quota.monthly_pages);
            if s.used + pages <= limit {
                continue;
            }
            let what = if color { "colour" } else { "black & white" };
            let whose = if s.quota.scope == "user" {
                "your".to_owned()
            } else {
                format!("the {} department's", s.quota.name)
            };
            let message = format!(
                "{pages} more {what} pages would pass {whose} monthly budget ({} of {limit} used)",
                s.used
            );
            if s.quota.hard {
                return Ok(Verdict::Refuse(message));
            }
            warn.get_or_insert(message);
        }
        Ok(warn.map(Verdict::Warn).unwrap_or(Verdict::Within))
    }
}

/// Counts a completed job's pages (inside the transaction that completes it).
pub fn record(
    conn: &mut db::Conn,
    job_id: i64,
    owner: &str,
    department: &str,
    color: bool,
    pages: u32,
) -> Result<(), diesel::result::Error> {
    let now = db::now_ms();
    rows::record(
        conn,
        &NewUsage {
            month: month_of(now),
            uid: key(owner),
            department: key(department),
            color: color as i16,
            pages: pages.min(i32::MAX as u32) as i32,
            job_id,
            at: now,
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_calendar_months() {
        let m = month_of(db::now_ms());
        assert_eq!(m.len(), 7);
        assert_eq!(&m[4..5], "-");
    }
}
