//! The rules in the database: listed, created, edited, moved and deleted by IT (each change
//! audited), and read by every job's evaluation from a short-lived cache (two seconds, so a
//! change made on one node applies on all of them at once, near enough).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::rules::{Actions, Conditions, Rule};
use crate::audit;
use crate::db::models::policy_rules::{self as rows, NewRule, RuleRow};
use crate::db::{self, Db, DbError};

const CACHE_FOR: Duration = Duration::from_secs(2);

/// Why a rule change was refused.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("invalid rule: {}", .0.join("; "))]
    Invalid(Vec<String>),
    #[error("no such rule")]
    NotFound,
    #[error(transparent)]
    Db(#[from] DbError),
}

/// A rule as IT writes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    pub name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub when: Conditions,
    pub then: Actions,
    /// 1-based place in the order; the end when absent.
    #[serde(default)]
    pub position: Option<usize>,
}

fn yes() -> bool {
    true
}

impl RuleInput {
    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.name.trim().is_empty() || self.name.len() > 200 {
            out.push("the name must be 1 to 200 characters".into());
        }
        out.extend(self.when.problems());
        out.extend(self.then.problems());
        out
    }
}

fn rule_of(row: RuleRow) -> Rule {
    Rule {
        id: row.id,
        name: row.name,
        enabled: row.enabled != 0,
        // Stored rules were validated; one that no longer parses (a downgrade) matches
        // nothing rather than everything.
        when: serde_json::from_str(&row.conditions).unwrap_or(Conditions {
            users: vec!["\u{0}unreadable rule".into()],
            ..Conditions::default()
        }),
        then: serde_json::from_str(&row.actions).unwrap_or_default(),
    }
}

/// The rules last read, and when.
type Cached = Option<(Instant, Arc<Vec<Rule>>)>;

/// The rule store (cheap to clone).
#[derive(Clone)]
pub struct PolicyStore {
    db: Db,
    cache: Arc<Mutex<Cached>>,
}

impl PolicyStore {
    pub fn new(db: Db) -> PolicyStore {
        PolicyStore {
            db,
            cache: Arc::new(Mutex::new(None)),
        }
    }

    /// The rules in order, for evaluation (cached briefly).
    pub async fn rules(&self) -> Result<Arc<Vec<Rule>>, DbError> {
        if let Some((at, rules)) = &*self.cache.lock().unwrap_or_else(|e| e.into_inner()) {
            if at.elapsed() < CACHE_FOR {
                return Ok(rules.clone());
            }
        }
        let rules = Arc::new(self.list().await?);
        *self.cache.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((Instant::now(), rules.clone()));
        Ok(rules)
    }

    /// The rules in order, from the database.
    pub async fn list(&self) -> Result<Vec<Rule>, DbError> {
        self.db
            .run(|c| Ok::<_, DbError>(rows::all(c)?.into_iter().map(rule_of).collect()))
            .await
    }

    fn forget(&self) {
        *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Adds a rule at its position (the end by default).
    pub async fn create(&self, input: RuleInput, actor: &str) -> Result<Rule, PolicyError> {
        let problems = input.problems();
        if !problems.is_empty() {
            return Err(PolicyError::Invalid(problems));
        }
        let actor = actor.to_owned();
        let id = self
            .db
            .run(move |conn| {
                db::write_tx(conn, |conn| {
                    let now = db::now_ms();
                    let row = NewRule {
                        position: i32::MAX,
                        name: input.name.trim().to_owned(),
                        enabled: input.enabled as i16,
                        conditions: serde_json::to_string(&input.when).unwrap_or_default(),
                        actions: serde_json::to_string(&input.then).unwrap_or_default(),
                        created_at: now,
                        updated_at: now,
                        updated_by: actor.clone(),
                    };
                    let id = rows::insert(conn, &row)?;
                    place(conn, id, input.position)?;
                    audit::append(
                        conn,
                        audit::Event {
                            actor: &actor,
                            action: "policy.rule_created",
                            object: &format!("rule:{id}"),
                            detail: serde_json::json!({
                                "name": row.name, "when": input.when, "then": input.then,
                            })
                            .to_string(),
                            ..Default::default()
                        },
                    )?;
                    Ok::<_, diesel::result::Error>(id)
                })
                .map_err(DbError::from)
            })
            .await?;
        self.forget();
        self.get(id).await
    }

    /// One rule.
    pub async fn get(&self, id: i64) -> Result<Rule, PolicyError> {
        self.list()
            .await?
            .into_iter()
            .find(|r| r.id == id)
            .ok_or(PolicyError::NotFound)
    }

    /// Replaces a rule (and moves it when a position is given).
    pub async fn update(
        &self,
        id: i64,
        input: RuleInput,
        actor: &str,
    ) -> Result<Rule, PolicyError> {
        let problems = input.problems();
        if !problems.is_empty() {
            return Err(PolicyError::Invalid(problems));
        }
        let actor = actor.to_owned();
        let changed = self
            .db
            .run(move |conn| {
                db::write_tx(conn, |conn| {
                    let (when, then) = (
                        serde_json::to_string(&input.when).unwrap_or_default(),
                        serde_json::to_string(&input.then).unwrap_or_default(),
                    );
                    let change = rows::RuleChange {
                        name: input.name.trim(),
                        enabled: input.enabled as i16,
                        conditions: &when,
                        actions: &then,
                        updated_by: &actor,
                        updated_at: db::now_ms(),
                    };
                    let n = rows::update(conn, id, &change)?;
                    if n == 0 {
                        return Ok(false);
                    }
                    if input.position.is_some() {
                        place(conn, id, input.position)?;
                    }
                    audit::append(
                        conn,
                        audit::Event {
                            actor: &actor,
                            action: "policy.rule_updated",
                            object: &format!("rule:{id}"),
                            detail: serde_json::json!({
                                "name": input.name, "enabled": input.enabled,
                                "when": input.when, "then": input.then,
                                "position": input.position,
                            })
                            .to_string(),
                            ..Default::default()
                        },
                    )?;
                    Ok::<_, diesel::result::Error>(true)
                })
                .map_err(DbError::from)
            })
            .await?;
        if !changed {
            return Err(PolicyError::NotFound);
        }
        self.forget();
        self.get(id).await
    }

    /// Deletes a rule.
    pub async fn delete(&self, id: i64, actor: &str) -> Result<(), PolicyError> {
        let before = self.get(id).await?;
        let actor = actor.to_owned();
        self.db
            .run(move |conn| {
                db::write_tx(conn, |conn| {
                    rows::delete(conn, id)?;
                    place(conn, -1, None)?;
                    audit::append(
                        conn,
                        audit::Event {
                            actor: &actor,
                            action: "policy.rule_deleted",
                            object: &format!("rule:{id}"),
                            detail: serde_json::json!({
                                "name": before.name, "when": before.when, "then": before.then,
                            })
                            .to_string(),
                            ..Default::default()
                        },
                    )
                })
                .map_err(DbError::from)
            })
            .await?;
        self.forget();
        Ok(())
    }
}

/// Renumbers the rules 1..n, with rule `id` at `position` (1-based; the end when `None` or
/// past the end). `id = -1` only renumbers.
fn place(
    conn: &mut db::Conn,
    id: i64,
    position: Option<usize>,
) -> Result<(), diesel::result::Error> {
    let mut ids: Vec<i64> = rows::all(conn)?
        .into_iter()
        .map(|r| r.id)
        .filter(|r| *r != id)
        .collect();
    if id >= 0 {
        let at = position
            .map(|p| p.saturating_sub(1))
            .unwrap_or(ids.len())
            .min(ids.len());
        ids.insert(at, id);
    }
    for (i, rule) in ids.iter().enumerate() {
        rows::set_position(conn, *rule, i as i32 + 1)?;
    }
    Ok(())
}
