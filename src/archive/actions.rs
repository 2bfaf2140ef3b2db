//! What an operator does with a quarantined capture or document: retry it (a passing cause is
//! gone, or a duplicate is to be processed after all), name who scanned it, name the patient,
//! name the category, or reject it with a justification. Each action is audited with the
//! operator's name, and the item goes back to the stage that quarantined it (or on from there).

use serde::Deserialize;

use super::pipeline::{ENCOUNTER, PATIENT};
use super::Stage;
use crate::audit::{self, Event};
use crate::capture::{Method, Strength};
use crate::db::models::pipeline::Move;
use crate::db::models::scan_captures as captures;
use crate::db::models::scan_documents as documents;
use crate::db::{self, Db, DbError};
use crate::directory::DirectoryService;
use crate::spool::crypto::MasterKey;

/// An operator's action.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Retry,
    /// Captures: who scanned it (a directory uid).
    Attribute {
        user: String,
    },
    /// Documents: the patient (and encounter) it belongs to.
    Identify {
        patient: String,
        #[serde(default)]
        encounter: String,
    },
    /// Documents: its category in the plan.
    Classify {
        category: String,
    },
    Reject {
        justification: String,
    },
}

/// Why an action was refused.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("no such item")]
    NotFound,
    #[error("{0}")]
    Invalid(String),
    #[error("the item is not in quarantine (it is at {0})")]
    NotQuarantined(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// What the action targets.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    Capture(i64),
    Document(i64),
}

/// Where an item goes once the operator has acted: the stage named, or back where it was.
fn back_to(action: &Action, quarantined_at: Option<&str>) -> Stage {
    match action {
        Action::Reject { .. } => Stage::Rejected,
        Action::Identify { .. } => Stage::Identify,
        Action::Classify { .. } => Stage::Classify,
        Action::Attribute { .. } | Action::Retry => quarantined_at
            .and_then(Stage::parse)
            .filter(|s| !matches!(s, Stage::Quarantined | Stage::Rejected | Stage::Done))
            .unwrap_or(Stage::Validate),
    }
}

/// Applies `action` to `target` for `operator`.
pub async fn act(
    db: &Db,
    master: &MasterKey,
    directory: &DirectoryService,
    plan: &super::plan::Plan,
    target: Target,
    action: Action,
    operator: &str,
) -> Result<String, ActionError> {
    // Checks that need no transaction first: the directory, the plan, the justification.
    let mut snapshot = None;
    match (&action, target) {
        (Action::Attribute { user }, Target::Capture(_)) => {
            let found = directory
                .user(user.trim())
                .await
                .map_err(|e| ActionError::Invalid(format!("the directory cannot be asked: {e}")))?
                .ok_or_else(|| ActionError::Invalid(format!("{user} is not in the directory")))?;
            let mut facts = crate::capture::facts(&found);
            facts["named_by"] = operator.into();
            snapshot = Some((found.user.uid.clone(), facts.to_string()));
        }
        (Action::Identify { patient, encounter }, Target::Document(_)) => {
            super::cover::CoverSheet::new(patient, encounter, "").map_err(ActionError::Invalid)?;
        }
        (Action::Classify { category }, Target::Document(_)) => {
            if plan.get(category).is_none() {
                return Err(ActionError::Invalid(format!(
                    "category {category} is not in the classification plan"
                )));
            }
        }
        (Action::Reject { justification }, _) if justification.trim().len() < 10 => {
            return Err(ActionError::Invalid(
                "a rejection needs a justification (10 characters at least)".into(),
            ));
        }
        (Action::Retry | Action::Reject { .. }, _) => {}
        _ => {
            return Err(ActionError::Invalid(
                "this action does not apply to this item".into(),
            ))
        }
    }
    let sealed = |v: &str, ctx: &str| {
        master
            .seal_text(v.trim(), ctx)
            .map_err(|e| ActionError::Invalid(e.to_string()))
    };
    let (patient, encounter) = match &action {
        Action::Identify { patient, encounter } => (
            Some(sealed(patient, PATIENT)?),
            (!encounter.trim().is_empty())
                .then(|| sealed(encounter, ENCOUNTER))
                .transpose()?,
        ),
        _ => (None, None),
    };
    let operator = operator.to_owned();
    db.run(move |conn| {
        db::write_tx(conn, |conn| {
            let now = db::now_ms();
            let (stage, quarantined_at, object) = match target {
                Target::Capture(id) => {
                    let c = captures::find(conn, id)?.ok_or(ActionError::NotFound)?;
                    (c.stage, c.quarantine_stage, format!("scan:{id}"))
                }
                Target::Document(id) => {
                    let d = documents::find(conn, id)?.ok_or(ActionError::NotFound)?;
                    (d.stage, d.quarantine_stage, format!("scan-document:{id}"))
                }
            };
            if stage != Stage::Quarantined.as_str() {
                return Err(ActionError::NotQuarantined(stage));
            }
            let to = back_to(&action, quarantined_at.as_deref());
            let reason = match &action {
                Action::Reject { justification } => Some(format!("rejected by {operator}: {}", justification.trim())),
                _ => None,
            };
            let to_move = Move {
                stage: to.as_str().to_owned(),
                attempts: 0,
                next_attempt_at: now,
                quarantine_reason: reason.clone(),
                quarantine_stage: reason.as_ref().and(quarantined_at.clone()),
                updated_at: now,
            };
            let moved = match target {
                Target::Capture(id) => {
                    if let Some((uid, attrs)) = &snapshot {
                        captures::set_attribution(conn, id, uid, Method::Operator.as_str(), Strength::Strong.as_str(), attrs)?;
                    }
                    captures::set_stage(conn, id, &stage, &to_move)?
                }
                Target::Document(id) => {
                    if let Some(p) = &patient {
                        documents::set_patient(conn, id, p, encounter.as_deref())?;
                    }
                    if let Action::Classify { category } = &action {
                        documents::set_category_code(conn, id, category.trim())?;
                    }
                    documents::set_stage(conn, id, &stage, &to_move)?
                }
            };
            if !moved {
                return Err(ActionError::NotQuarantined("another stage meanwhile".into()));
            }
            let detail = match &action {
                Action::Retry => serde_json::json!({ "action": "retry" }),
                Action::Attribute { .. } => serde_json::json!({ "action": "attribute", "user": snapshot.as_ref().map(|s| &s.0) }),
                // The patient stays out of the trail's details (it is patient data).
                Action::Identify { .. } => serde_json::json!({ "action": "identify" }),
                Action::Classify { category } => serde_json::json!({ "action": "classify", "category": category }),
                Action::Reject { justification } => serde_json::json!({ "action": "reject", "justification": justification }),
            };
            let mut detail = detail;
            detail["from"] = quarantined_at.clone().into();
            detail["to"] = to.as_str().into();
            audit::append(
                conn,
                Event {
                    actor: &operator,
                    action: "scan.operator",
                    object: &object,
                    detail: detail.to_string(),
                    ..Default::default()
                },
            )
            .map_err(DbError::from)?;
            Ok(to.as_str().to_owned())
        })
    })
    .await
}

impl From<diesel::result::Error> for ActionError {
    fn from(e: diesel::result::Error) -> Self {
        ActionError::Db(DbError::from(e))
    }
}
