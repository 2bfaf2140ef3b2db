//! Password logins against the directory, with a short memory of successful checks (so a
//! session does not ask LDAP at every request), behind the one throttle on guessing
//! ([`crate::directory::throttle`]), which is consulted first, before even a remembered
//! password is compared.

use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::{DirectoryService, LookupError, MEMORY_MAX};
use crate::audit::{self, Outcome};
use crate::directory::throttle::{Channel, Failures, Origin};
use crate::directory::DirectoryUser;
use crate::metrics::METRICS;

/// What a sign-in attempt came to.
#[derive(Debug, Clone)]
pub enum Login {
    Accepted(DirectoryUser),
    /// Wrong login or password.
    Refused,
    /// Too many wrong passwords for this login or from this address: not checked; try again
    /// after this long.
    Throttled(Duration),
}

impl DirectoryService {
    /// Checks a login name and password from a tool or a test (no address). `Ok(None)`:
    /// refused or throttled.
    pub async fn authenticate(
        &self,
        uid: &str,
        password: &str,
    ) -> Result<Option<DirectoryUser>, LookupError> {
        match self
            .sign_in(Origin::new(Channel::Tool, None), uid, password)
            .await?
        {
            Login::Accepted(u) => Ok(Some(u)),
            Login::Refused | Login::Throttled(_) => Ok(None),
        }
    }

    /// Checks a login name and password arriving on `origin`'s channel from its address.
    pub async fn sign_in(
        &self,
        origin: Origin,
        uid: &str,
        password: &str,
    ) -> Result<Login, LookupError> {
        let started = Instant::now();
        let result = self.sign_in_inner(origin, uid, password).await;
        let outcome = match &result {
            Ok(Login::Accepted(_)) => "accepted",
            Ok(Login::Refused) => "refused",
            Ok(Login::Throttled(_)) => "throttled",
            Err(LookupError::Unavailable(_)) => "unavailable",
            Err(LookupError::Database(_)) => "error",
        };
        METRICS
            .directory_lookups
            .with_label_values(&["password", outcome])
            .inc();
        METRICS
            .directory_duration
            .with_label_values(&["password"])
            .observe(started.elapsed().as_secs_f64());
        result
    }

    async fn sign_in_inner(
        &self,
        origin: Origin,
        uid: &str,
        password: &str,
    ) -> Result<Login, LookupError> {
        let key = DirectoryUser::key_of(uid);
        if key.is_empty() || password.is_empty() {
            return Ok(Login::Refused);
        }
        // The throttle first: a remembered password is a comparison too.
        if let Err(wait) = self.inner.throttle.check(&key, origin) {
            tracing::warn!(channel = origin.channel.name(), address = ?origin.address, "too many wrong passwords: refused without checking");
            if let Some(f) = self.inner.throttle.failed(&key, origin) {
                self.audit_failures(f).await;
            }
            return Ok(Login::Throttled(wait));
        }
        let mut h = Sha256::new();
        h.update(self.inner.password_key);
        h.update(key.as_bytes());
        h.update([0]);
        h.update(password.as_bytes());
        let fingerprint: [u8; 32] = h.finalize().into();
        let remembered = {
            let p = self
                .inner
                .passwords
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            p.get(&fingerprint)
                .is_some_and(|(_, at)| at.elapsed() < self.inner.auth_ttl)
        };
        if remembered {
            if let Some(l) = self.user(uid).await? {
                self.inner.throttle.succeeded(&key, origin);
                return Ok(Login::Accepted(l.user));
            }
        }
        match self
            .call(self.inner.directory.authenticate(uid, password))
            .await
        {
            Ok(Some(user)) => {
                self.store(vec![user.clone()]).await?;
                let mut p = self
                    .inner
                    .passwords
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                if p.len() >= MEMORY_MAX {
                    p.clear();
                }
                p.insert(fingerprint, (key.clone(), Instant::now()));
                drop(p);
                self.inner.throttle.succeeded(&key, origin);
                Ok(Login::Accepted(user))
            }
            Ok(None) => {
                if let Some(f) = self.inner.throttle.failed(&key, origin) {
                    self.audit_failures(f).await;
                }
                Ok(Login::Refused)
            }
            Err(e) => Err(LookupError::Unavailable(e.to_string())),
        }
    }

    /// Writes failed sign-ins to the audit trail. The login is recorded only when it names
    /// someone the directory knows: what people type in the login field is sometimes their
    /// password, and the trail can be neither cleaned nor recalled from the SIEM.
    async fn audit_failures(&self, f: Failures) {
        let known = match self.user(&f.login).await {
            Ok(Some(l)) => Some(l.user.uid),
            _ => None,
        };
        let actor = known.unwrap_or_else(|| audit::UNKNOWN_LOGIN.to_owned());
        audit::record(
            &self.inner.db,
            audit::Record {
                object: format!("user:{actor}"),
                actor,
                action: f.channel.action(),
                device: None,
                outcome: Outcome::Failure,
                detail: serde_json::json!({
                    "channel": f.channel.name(),
                    "address": f.address.map(|a| a.to_string()),
                    "reason": if f.locked { "too many wrong passwords: locked for a while" } else { "wrong login or password" },
                    "failures": f.failures,
                    "locked": f.locked,
                }),
            },
        )
        .await;
    }

    /// Audits the failed sign-ins counted since their first was audited, once their window has
    /// closed (called every minute).
    pub async fn audit_closed_failure_windows(&self) {
        for f in self.inner.throttle.sweep() {
            self.audit_failures(f).await;
        }
    }
}
