//! Badges: resolving a card read at a reader to its one holder (cache, directory, cards
//! registered in Folio; a card held by two people is refused), the release PIN, and
//! registering or revoking cards.

use std::time::Instant;

use super::{BadgeError, BadgeMatch, DirectoryService, PinError, RegisterError, Registration, Via};
use crate::audit;
use crate::db::models::directory as cache;
use crate::db::{self, DbError};
use crate::directory::badge::Candidate;
use crate::directory::{password, DirectoryUser};
use crate::metrics::METRICS;

impl DirectoryService {
    /// Resolves a badge read at a reader to its holder, checking the PIN when one is needed.
    pub async fn resolve_badge(
        &self,
        raw: &str,
        pin: Option<&str>,
    ) -> Result<BadgeMatch, BadgeError> {
        let started = Instant::now();
        let result = self.resolve_inner(raw, pin).await;
        let outcome = match &result {
            Ok(m) if m.degraded => "degraded",
            Ok(m) => match m.via {
                Via::Directory => "directory",
                Via::Cache => "cache",
                Via::Registration => "registration",
            },
            Err(BadgeError::Invalid) => "invalid",
            Err(BadgeError::Unknown) => "unknown",
            Err(BadgeError::Ambiguous(_)) => "ambiguous",
            Err(BadgeError::Unavailable(_)) => "unavailable",
            Err(BadgeError::PinRequired | BadgeError::PinNotSet | BadgeError::WrongPin) => "pin",
            Err(BadgeError::Database(_)) => "error",
        };
        METRICS
            .directory_lookups
            .with_label_values(&["badge", outcome])
            .inc();
        METRICS
            .directory_duration
            .with_label_values(&["badge"])
            .observe(started.elapsed().as_secs_f64());
        result
    }

    /// Who holds `raw`, without the PIN check (for `directory lookup` and registration).
    pub async fn badge_holder(&self, raw: &str) -> Result<BadgeMatch, BadgeError> {
        let candidates = self.inner.rules.candidates(raw);
        if candidates.is_empty() {
            return Err(BadgeError::Invalid);
        }
        let values: Vec<String> = candidates.iter().map(|c| c.value.clone()).collect();
        let v = values.clone();
        let (registrations, cached) = self
            .inner
            .db
            .run(move |c| {
                Ok::<_, DbError>((
                    cache::active_for_badges(c, &v)?,
                    cache::cached_by_badges(c, &v)?,
                ))
            })
            .await?;

        // Holders from the directory: the cache when every copy is fresh, else the directory,
        // else (directory down) the cache, degraded.
        let (holders, via, degraded) = if !cached.is_empty()
            && cached.iter().all(|c| self.fresh(c.fetched_at))
        {
            (
                cached.into_iter().map(|c| c.user).collect(),
                Via::Cache,
                false,
            )
        } else {
            let search = self.inner.rules.search_values(&candidates);
            match self
                .call(self.inner.directory.users_by_badge(&search))
                .await
            {
                Ok(users) => {
                    let rules = &self.inner.rules;
                    let users: Vec<DirectoryUser> = users
                        .into_iter()
                        .filter(|u| {
                            u.badges
                                .iter()
                                .any(|b| values.contains(&rules.canonical(b)))
                        })
                        .collect();
                    self.store(users.clone()).await?;
                    (users, Via::Directory, false)
                }
                Err(e) if cached.is_empty() && registrations.is_empty() => {
                    return Err(BadgeError::Unavailable(e.to_string()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "directory down: resolving the badge from the cache (degraded)");
                    (
                        cached.into_iter().map(|c| c.user).collect(),
                        Via::Cache,
                        true,
                    )
                }
            }
        };

        let mut found: Vec<(DirectoryUser, &Candidate, Via)> = Vec::new();
        for user in holders {
            let canon: Vec<String> = user
                .badges
                .iter()
                .map(|b| self.inner.rules.canonical(b))
                .collect();
            if let Some(c) = candidates.iter().find(|c| canon.contains(&c.value)) {
                found.push((user, c, via));
            }
        }
        for reg in registrations {
            if found.iter().any(|(u, _, _)| u.key() == reg.uid_key) {
                continue;
            }
            match self.user(&reg.uid).await {
                Ok(Some(l)) => {
                    let c = candidates
                        .iter()
                        .find(|c| c.value == reg.badge)
                        .unwrap_or(&candidates[0]);
                    found.push((l.user, c, Via::Registration));
                }
                Ok(None) => {
                    tracing::warn!(user = %reg.uid, registration = reg.id, "a registered badge belongs to a user gone from the directory: ignored")
                }
                Err(e) => return Err(BadgeError::Unavailable(e.to_string())),
            }
        }
        match found.len() {
            0 => Err(BadgeError::Unknown),
            1 => {
                let (user, c, via) = found.remove(0);
                if degraded {
                    self.audit(
                        &user.uid,
                        "badge.resolved_degraded",
                        &format!("user:{}", user.uid),
                        serde_json::json!({ "card": self.card_ref(&c.value) }),
                    )
                    .await;
                }
                Ok(BadgeMatch {
                    user,
                    badge: c.value.clone(),
                    rules: c.rules.clone(),
                    via,
                    degraded,
                })
            }
            _ => {
                let mut uids: Vec<String> = found.iter().map(|(u, _, _)| u.uid.clone()).collect();
                uids.sort();
                uids.dedup();
                METRICS.badge_conflicts.inc();
                tracing::warn!(users = ?uids, "a badge number is held by several people: refused");
                self.audit(
                    "system",
                    "badge.conflict",
                    "badge",
                    serde_json::json!({ "card": self.card_ref(&candidates[0].value), "users": uids }),
                )
                .await;
                Err(BadgeError::Ambiguous(uids))
            }
        }
    }

    async fn resolve_inner(&self, raw: &str, pin: Option<&str>) -> Result<BadgeMatch, BadgeError> {
        let found = self.badge_holder(raw).await?;
        let key = found.user.key();
        let stored = self
            .inner
            .db
            .run(move |c| Ok::<_, DbError>(cache::pin_hash(c, &key)?))
            .await?;
        if !self.inner.requires_pin && stored.is_none() {
            return Ok(found);
        }
        let Some(pin) = pin.filter(|p| !p.is_empty()) else {
            return Err(BadgeError::PinRequired);
        };
        let Some(hash) = stored else {
            return Err(BadgeError::PinNotSet);
        };
        let pin = pin.to_owned();
        let ok = tokio::task::spawn_blocking(move || password::verify_phc(&hash, &pin))
            .await
            .unwrap_or(false);
        if ok {
            Ok(found)
        } else {
            Err(BadgeError::WrongPin)
        }
    }

    /// Links a card to `user` on their own (My printing, the REST API, the terminal), from
    /// `address`: a few attempts an hour per person and per address, refusals audited (with
    /// the card's reference, never its number).
    pub async fn register_own_badge(
        &self,
        user: &DirectoryUser,
        raw: &str,
        address: Option<std::net::IpAddr>,
    ) -> Result<Registration, RegisterError> {
        let mut keys = vec![format!("user:{}", user.key())];
        if let Some(a) = address {
            keys.push(format!("address:{}", a.to_canonical()));
        }
        if let Err(wait) = self.inner.registrations.take(&keys) {
            return Err(RegisterError::TooMany(wait.as_secs().div_ceil(60).max(1)));
        }
        let result = self.register_badge(user, raw, &user.uid).await;
        if let Err(e @ (RegisterError::Taken | RegisterError::Invalid)) = &result {
            let card = self
                .inner
                .rules
                .candidates(raw)
                .first()
                .map(|c| self.card_ref(&c.value));
            audit::record(
                &self.inner.db,
                audit::Record {
                    actor: user.uid.clone(),
                    action: "badge.register_refused",
                    object: format!("user:{}", user.uid),
                    device: None,
                    outcome: audit::Outcome::Failure,
                    detail: serde_json::json!({
                        "card": card,
                        "reason": if matches!(e, RegisterError::Taken) { "not free" } else { "not a card number" },
                        "address": address.map(|a| a.to_string()),
                    }),
                },
            )
            .await;
        }
        result
    }

    /// Links a card to `user` (who proved who they are). The card must not resolve to anyone.
    pub async fn register_badge(
        &self,
        user: &DirectoryUser,
        raw: &str,
        actor: &str,
    ) -> Result<Registration, RegisterError> {
        let candidates = self.inner.rules.candidates(raw);
        let Some(first) = candidates.first() else {
            return Err(RegisterError::Invalid);
        };
        match self.badge_holder(raw).await {
            Ok(m) if m.user.key() == user.key() => return Err(RegisterError::AlreadyYours),
            Ok(_) | Err(BadgeError::Ambiguous(_)) => return Err(RegisterError::Taken),
            Err(BadgeError::Unknown) => {}
            Err(BadgeError::Invalid) => return Err(RegisterError::Invalid),
            Err(BadgeError::Database(e)) => return Err(RegisterError::Database(e)),
            Err(_) => return Err(RegisterError::Unavailable),
        }
        let (badge, uid, actor) = (first.value.clone(), user.uid.clone(), actor.to_owned());
        let card = self.card_ref(&badge);
        let result = self
            .inner
            .db
            .run(move |conn| {
                let now = db::now_ms();
                let id = db::write_tx(conn, |conn| {
                    let id = cache::register(conn, &badge, &uid, &actor, now)?;
                    audit::append(
                        conn,
                        audit::Event {
                            actor: &actor,
                            action: "badge.registered",
                            object: &format!("user:{uid}"),
                            detail: serde_json::json!({ "registration": id, "card": card })
                                .to_string(),
                            ..Default::default()
                        },
                    )?;
                    Ok::<_, diesel::result::Error>(id)
                });
                match id {
                    Ok(id) => Ok(cache::registration(conn, id).map_err(DbError::from)?),
                    Err(diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::UniqueViolation,
                        _,
                    )) => Ok(None),
                    Err(e) => Err(DbError::from(e)),
                }
            })
            .await
            .map_err(|e| RegisterError::Database(e.to_string()))?;
        result.ok_or(RegisterError::Taken)
    }

    /// Registrations, of one user (by login name) or all.
    pub async fn registrations(
        &self,
        uid: Option<&str>,
        include_revoked: bool,
    ) -> Result<Vec<Registration>, DbError> {
        let key = uid.map(DirectoryUser::key_of);
        self.inner
            .db
            .run(move |c| {
                Ok::<_, DbError>(cache::list_registrations(
                    c,
                    key.as_deref(),
                    include_revoked,
                )?)
            })
            .await
    }

    /// Revokes registration `id`. With `owner`, only that user's registration. Returns false
    /// when there was no such active registration.
    pub async fn revoke_registration(
        &self,
        id: i64,
        owner: Option<&str>,
        actor: &str,
    ) -> Result<bool, DbError> {
        let owner = owner.map(DirectoryUser::key_of);
        let actor = actor.to_owned();
        let me = self.clone();
        self.inner
            .db
            .run(move |conn| {
                db::write_tx(conn, |conn| {
                    let Some(reg) = cache::registration(conn, id)? else {
                        return Ok(false);
                    };
                    if owner.as_ref().is_some_and(|o| *o != reg.uid_key) {
                        return Ok(false);
                    }
                    if !cache::revoke(conn, id, &actor, db::now_ms())? {
                        return Ok(false);
                    }
                    audit::append(
                        conn,
                        audit::Event {
                            actor: &actor,
                            action: "badge.revoked",
                            object: &format!("user:{}", reg.uid),
                            detail: serde_json::json!({ "registration": id, "card": me.card_ref(&reg.badge) })
                                .to_string(),
                            ..Default::default()
                        },
                    )?;
                    Ok::<_, diesel::result::Error>(true)
                })
                .map_err(DbError::from)
            })
            .await
    }

    /// Sets (`Some`) or removes (`None`) the release PIN of `uid`: 4 to 8 digits.
    pub async fn set_pin(&self, uid: &str, pin: Option<&str>, actor: &str) -> Result<(), PinError> {
        if let Some(p) = pin {
            if !(4..=8).contains(&p.len()) || !p.chars().all(|c| c.is_ascii_digit()) {
                return Err(PinError::Invalid);
            }
        }
        let hash = match pin {
            Some(p) => {
                let p = p.to_owned();
                Some(
                    tokio::task::spawn_blocking(move || password::hash_phc(&p))
                        .await
                        .map_err(|_| PinError::Database("interrupted".into()))?,
                )
            }
            None => None,
        };
        let (key, uid, actor) = (DirectoryUser::key_of(uid), uid.to_owned(), actor.to_owned());
        self.inner
            .db
            .run(move |conn| {
                db::write_tx(conn, |conn| {
                    cache::set_pin(conn, &key, hash.as_deref(), db::now_ms())?;
                    audit::append(
                        conn,
                        audit::Event {
                            actor: &actor,
                            action: if hash.is_some() {
                                "pin.set"
                            } else {
                                "pin.removed"
                            },
                            object: &format!("user:{uid}"),
                            detail: "{}".into(),
                            ..Default::default()
                        },
                    )
                })
                .map_err(DbError::from)
            })
            .await
            .map_err(|e| PinError::Database(e.to_string()))
    }

    /// True when `uid` has set a release PIN.
    pub async fn has_pin(&self, uid: &str) -> Result<bool, DbError> {
        let key = DirectoryUser::key_of(uid);
        self.inner
            .db
            .run(move |c| Ok::<_, DbError>(cache::pin_hash(c, &key)?.is_some()))
            .await
    }
}
