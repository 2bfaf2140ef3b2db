//! Delegation: an owner lets another user, or a directory group, release their jobs (a
//! secretary for a doctor), optionally until a time. Delegated jobs appear in the delegate's
//! session, marked; they stay the owner's (counted against the owner), and the release is
//! audited "released by X for Y".

use serde::{Deserialize, Serialize};

use crate::audit;
use crate::db::models::delegations::{self as rows, DelegationRow, TO_GROUP, TO_USER};
use crate::db::{self, Db, DbError};
use crate::directory::{DirectoryService, DirectoryUser, LookupError};

/// Whom to delegate to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDelegation {
    /// A user's login name…
    #[serde(default)]
    pub to_user: Option<String>,
    /// …or a directory group's name.
    #[serde(default)]
    pub to_group: Option<String>,
    /// Unix milliseconds after which it no longer holds.
    #[serde(default)]
    pub until: Option<i64>,
}

/// A delegation as listed.
#[derive(Debug, Clone, Serialize)]
pub struct Delegation {
    pub id: i64,
    pub owner: String,
    /// `user` or `group`.
    pub kind: &'static str,
    pub delegate: String,
    pub until: Option<i64>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

impl Delegation {
    fn of(r: DelegationRow) -> Delegation {
        Delegation {
            id: r.id,
            owner: r.owner_uid,
            kind: if r.delegate_kind == TO_GROUP {
                "group"
            } else {
                "user"
            },
            delegate: r.delegate,
            until: r.until_at,
            created_at: r.created_at,
            revoked_at: r.revoked_at,
        }
    }
}

/// Why a delegation was refused.
#[derive(Debug, thiserror::Error)]
pub enum DelegationError {
    #[error("{0}")]
    Invalid(String),
    #[error("directory unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Delegations in the database, checked against the directory.
#[derive(Clone)]
pub struct Delegations {
    pub(crate) db: Db,
    pub(crate) directory: DirectoryService,
}

impl Delegations {
    /// Records a delegation by `owner`.
    pub async fn create(
        &self,
        owner: &DirectoryUser,
        new: NewDelegation,
    ) -> Result<Delegation, DelegationError> {
        let (kind, delegate) = match (&new.to_user, &new.to_group) {
            (Some(u), None) => {
                let found = match self.directory.user(u).await {
                    Ok(Some(l)) => l.user,
                    Ok(None) => {
                        return Err(DelegationError::Invalid(format!("{u} is not a known user")))
                    }
                    Err(LookupError::Unavailable(e)) => {
                        return Err(DelegationError::Unavailable(e))
                    }
                    Err(LookupError::Database(e)) => {
                        return Err(DelegationError::Db(DbError::Setup(e)))
                    }
                };
                if found.key() == owner.key() {
                    return Err(DelegationError::Invalid(
                        "you cannot delegate to yourself".into(),
                    ));
                }
                (TO_USER, found.key())
            }
            (None, Some(g)) if !g.trim().is_empty() && g.len() <= 256 => {
                (TO_GROUP, g.trim().to_lowercase())
            }
            _ => {
                return Err(DelegationError::Invalid(
                    "give either to_user or to_group".into(),
                ))
            }
        };
        if new.until.is_some_and(|u| u <= db::now_ms()) {
            return Err(DelegationError::Invalid("`until` is in the past".into()));
        }
        let owner_key = owner.key();
        let row = self
            .db
            .run(move |conn| {
                db::write_tx(conn, |conn| {
                    let now = db::now_ms();
                    let id = rows::insert(conn, &owner_key, kind, &delegate, new.until, now)?;
                    audit::append(
                        conn,
                        audit::Event {
                            actor: &owner_key,
                            action: "delegation.created",
                            object: &format!("delegation:{id}"),
                            detail: serde_json::json!({
                                "to": delegate,
                                "kind": if kind == TO_GROUP { "group" } else { "user" },
                                "until": new.until,
                            })
                            .to_string(),
                            ..Default::default()
                        },
                    )?;
                    let all = rows::given_by(conn, &owner_key, now, true)?;
                    Ok::<_, diesel::result::Error>(all.into_iter().find(|r| r.id == id))
                })
                .map_err(DbError::from)
            })
            .await?;
        row.map(Delegation::of)
            .ok_or_else(|| DelegationError::Invalid("the delegation was not recorded".into()))
    }

    /// Delegations given by `owner`, and received by them (directly or through a group).
    pub async fn of(
        &self,
        user: &DirectoryUser,
    ) -> Result<(Vec<Delegation>, Vec<Delegation>), DbError> {
        let (key, groups) = (user.key(), lower(&user.groups));
        self.db
            .run(move |conn| {
                let now = db::now_ms();
                Ok::<_, DbError>((
                    rows::given_by(conn, &key, now, false)?
                        .into_iter()
                        .map(Delegation::of)
                        .collect(),
                    rows::received_by(conn, &key, &groups, now)?
                        .into_iter()
                        .map(Delegation::of)
                        .collect(),
                ))
            })
            .await
    }

    /// Owners whose jobs `uid` (member of `groups`) may release now.
    pub async fn owners_for(&self, uid: &str, groups: &[String]) -> Result<Vec<String>, DbError> {
        let (key, groups) = (DirectoryUser::key_of(uid), lower(groups));
        self.db
            .run(move |conn| {
                let mut owners: Vec<String> = rows::received_by(conn, &key, &groups, db::now_ms())?
                    .into_iter()
                    .map(|r| r.owner_uid)
                    .filter(|o| *o != key)
                    .collect();
                owners.sort();
                owners.dedup();
                Ok::<_, DbError>(owners)
            })
            .await
    }

    /// Revokes delegation `id` of `owner`; false when there was none.
    pub async fn revoke(&self, owner: &DirectoryUser, id: i64) -> Result<bool, DbError> {
        let key = owner.key();
        self.db
            .run(move |conn| {
                db::write_tx(conn, |conn| {
                    if !rows::revoke(conn, id, &key, db::now_ms())? {
                        return Ok(false);
                    }
                    audit::append(
                        conn,
                        audit::Event {
                            actor: &key,
                            action: "delegation.revoked",
                            object: &format!("delegation:{id}"),
                            detail: "{}".into(),
                            ..Default::default()
                        },
                    )?;
                    Ok::<_, diesel::result::Error>(true)
                })
                .map_err(DbError::from)
            })
            .await
    }
}

fn lower(groups: &[String]) -> Vec<String> {
    groups.iter().map(|g| g.to_lowercase()).collect()
}
