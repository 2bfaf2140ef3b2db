//! The embedded directory: an LDIF file with the same entries and attributes an LDAP server
//! would hold, mapped by the same `[directory]` settings. Reloaded when the file changes
//! (a bad edit keeps the previous version and logs why).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;

use super::badge::BadgeRules;
use super::filter::Filter;
use super::ldif::{self, Entry};
use super::password;
use super::settings::DirectorySettings;
use super::{group_name_of, CheckReport, CheckStep, Directory, DirectoryError, DirectoryUser};

/// How often the file's modification time is looked at.
const RELOAD_CHECK: Duration = Duration::from_secs(1);

/// The parsed file and its indexes.
#[derive(Default)]
struct Index {
    users: Vec<Entry>,
    by_uid: HashMap<String, usize>,
    /// Normalised stored badge value → users holding it.
    by_badge: HashMap<String, Vec<usize>>,
    /// Lower-cased member DN → group names (from group entries).
    groups_by_member: HashMap<String, Vec<String>>,
    /// Problems found while loading, for `directory check`.
    warnings: Vec<String>,
}

/// The LDIF-file directory.
pub struct FileDirectory {
    path: PathBuf,
    settings: DirectorySettings,
    user_filter: Filter,
    group_filter: Filter,
    rules: BadgeRules,
    index: RwLock<Arc<Index>>,
    /// When the file was last looked at, and its modification time then.
    seen: Mutex<(Instant, Option<SystemTime>)>,
}

impl FileDirectory {
    /// Opens `path`. A missing file is an empty directory (logged); a malformed one an error.
    pub fn open(path: &Path, settings: DirectorySettings) -> anyhow::Result<FileDirectory> {
        let user_filter = Filter::parse(&settings.user_filter)
            .map_err(|e| anyhow::anyhow!("directory.user_filter: {e}"))?;
        let group_filter = Filter::parse(&settings.group_filter)
            .map_err(|e| anyhow::anyhow!("directory.group_filter: {e}"))?;
        let dir = FileDirectory {
            rules: BadgeRules::new(settings.badge.clone()),
            path: path.to_owned(),
            settings,
            user_filter,
            group_filter,
            index: RwLock::new(Arc::new(Index::default())),
            seen: Mutex::new((Instant::now(), None)),
        };
        let mtime = modified(path);
        let index = dir.load()?;
        if index.users.is_empty() {
            tracing::warn!(
                file = %path.display(),
                "the directory file has no users: nobody can print (write a demo one with \
                 `folio serve --demo`, or point directory.file at an LDIF export)"
            );
        }
        for w in &index.warnings {
            tracing::warn!(file = %path.display(), "{w}");
        }
        *dir.index.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(index);
        *dir.seen.lock().unwrap_or_else(|e| e.into_inner()) = (Instant::now(), mtime);
        Ok(dir)
    }

    fn load(&self) -> anyhow::Result<Index> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => anyhow::bail!("cannot read {}: {e}", self.path.display()),
        };
        let entries =
            ldif::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", self.path.display()))?;
        Ok(self.index_of(entries))
    }

    fn index_of(&self, entries: Vec<Entry>) -> Index {
        let s = &self.settings;
        let mut index = Index::default();
        for entry in entries {
            if self.group_filter.matches(&entry) {
                let name = entry
                    .first(&s.group_name_attribute)
                    .map(str::to_owned)
                    .unwrap_or_else(|| group_name_of(&entry.dn));
                for member in entry.get(&s.group_member_attribute) {
                    index
                        .groups_by_member
                        .entry(member.to_lowercase())
                        .or_default()
                        .push(name.clone());
                }
                continue;
            }
            if !self.user_filter.matches(&entry) {
                continue;
            }
            let Some(uid) = entry.first(&s.uid_attribute) else {
                index.warnings.push(format!(
                    "{} has no {} attribute: skipped",
                    entry.dn, s.uid_attribute
                ));
                continue;
            };
            let key = DirectoryUser::key_of(uid);
            if index.by_uid.contains_key(&key) {
                index.warnings.push(format!(
                    "uid {uid} appears twice: the second entry is skipped"
                ));
                continue;
            }
            for value in entry.get("userPassword") {
                if let Err(e) = password::check_user_password(value) {
                    index
                        .warnings
                        .push(format!("userPassword of {uid} cannot be used: {e}"));
                }
            }
            // Keep only what the mapping reads: a 15,000-person export stays a few MB.
            let mut entry = entry;
            let keep = |name: &str| {
                let name = name.split(';').next().unwrap_or(name);
                [
                    &s.uid_attribute,
                    &s.display_name_attribute,
                    &s.mail_attribute,
                    &s.department_attribute,
                    &s.cost_centre_attribute,
                    &s.group_attribute,
                ]
                .iter()
                .any(|a| a.eq_ignore_ascii_case(name))
                    || s.badge_attributes
                        .iter()
                        .any(|a| a.eq_ignore_ascii_case(name))
                    || name.eq_ignore_ascii_case("userPassword")
            };
            entry.attrs.retain(|(name, _)| keep(name));
            entry.attrs.shrink_to_fit();
            let i = index.users.len();
            index.by_uid.insert(key, i);
            for attr in &s.badge_attributes {
                for value in entry.get(attr) {
                    let slot = index
                        .by_badge
                        .entry(self.rules.canonical(value))
                        .or_default();
                    if !slot.contains(&i) {
                        slot.push(i);
                    }
                }
            }
            index.users.push(entry);
        }
        index
    }

    /// The current index, reloading first when the file changed.
    fn current(&self) -> Arc<Index> {
        let changed = {
            let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            if seen.0.elapsed() < RELOAD_CHECK {
                false
            } else {
                let mtime = modified(&self.path);
                let changed = mtime != seen.1;
                *seen = (Instant::now(), mtime);
                changed
            }
        };
        if changed {
            match self.load() {
                Ok(index) => {
                    tracing::info!(file = %self.path.display(), users = index.users.len(), "directory file reloaded");
                    for w in &index.warnings {
                        tracing::warn!(file = %self.path.display(), "{w}");
                    }
                    *self.index.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(index);
                }
                Err(e) => {
                    tracing::error!(error = %e, "directory file not reloaded; keeping the previous version")
                }
            }
        }
        self.index.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn user_of(&self, index: &Index, entry: &Entry) -> DirectoryUser {
        let s = &self.settings;
        let mut groups: Vec<String> = if s.group_attribute.is_empty() {
            Vec::new()
        } else {
            entry
                .get(&s.group_attribute)
                .iter()
                .map(|dn| group_name_of(dn))
                .collect()
        };
        if let Some(more) = index.groups_by_member.get(&entry.dn.to_lowercase()) {
            groups.extend(more.iter().cloned());
        }
        groups.sort();
        groups.dedup();
        let text = |attr: &str| entry.first(attr).unwrap_or_default().to_owned();
        DirectoryUser {
            uid: text(&s.uid_attribute),
            dn: entry.dn.clone(),
            display_name: text(&s.display_name_attribute),
            mail: text(&s.mail_attribute),
            department: text(&s.department_attribute),
            cost_centre: text(&s.cost_centre_attribute),
            groups,
            badges: s
                .badge_attributes
                .iter()
                .flat_map(|a| entry.get(a).iter().cloned())
                .collect(),
        }
    }

    /// Every user of the file, mapped (for `folio directory list`).
    pub fn all_users(&self) -> Vec<DirectoryUser> {
        let index = self.current();
        index
            .users
            .iter()
            .map(|e| self.user_of(&index, e))
            .collect()
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

#[async_trait]
impl Directory for FileDirectory {
    fn kind(&self) -> &'static str {
        "file"
    }

    async fn user_by_uid(&self, uid: &str) -> Result<Option<DirectoryUser>, DirectoryError> {
        let index = self.current();
        Ok(index
            .by_uid
            .get(&DirectoryUser::key_of(uid))
            .map(|&i| self.user_of(&index, &index.users[i])))
    }

    async fn users_by_badge(
        &self,
        values: &[String],
    ) -> Result<Vec<DirectoryUser>, DirectoryError> {
        let index = self.current();
        let mut found: Vec<usize> = Vec::new();
        for v in values {
            // Stored values were normalised when indexed: `04:A1:B2:C3`, `0004A1B2C3`.
            for &i in index
                .by_badge
                .get(&self.rules.canonical(v))
                .into_iter()
                .flatten()
            {
                if !found.contains(&i) {
                    found.push(i);
                }
            }
        }
        Ok(found
            .into_iter()
            .map(|i| self.user_of(&index, &index.users[i]))
            .collect())
    }

    async fn groups_of(&self, dn: &str) -> Result<Vec<String>, DirectoryError> {
        let index = self.current();
        let dn_key = dn.to_lowercase();
        Ok(index
            .users
            .iter()
            .find(|e| e.dn.to_lowercase() == dn_key)
            .map(|e| self.user_of(&index, e).groups)
            .unwrap_or_default())
    }

    async fn authenticate(
        &self,
        uid: &str,
        password: &str,
    ) -> Result<Option<DirectoryUser>, DirectoryError> {
        let index = self.current();
        let Some(&i) = index.by_uid.get(&DirectoryUser::key_of(uid)) else {
            return Ok(None);
        };
        if password.is_empty() {
            return Ok(None);
        }
        let stored: Vec<String> = index.users[i].get("userPassword").to_vec();
        let password = password.to_owned();
        // Argon2 takes tens of milliseconds of CPU: off the async threads.
        let ok = tokio::task::spawn_blocking(move || {
            stored
                .iter()
                .any(|s| password::verify_user_password(s, &password) == Ok(true))
        })
        .await
        .map_err(|_| DirectoryError::Unavailable("password check interrupted".into()))?;
        Ok(ok.then(|| self.user_of(&index, &index.users[i])))
    }

    async fn list_users(&self, limit: usize) -> Result<Vec<DirectoryUser>, DirectoryError> {
        let mut users = self.all_users();
        users.truncate(limit);
        Ok(users)
    }

    async fn check(&self) -> CheckReport {
        let index = self.current();
        let mut steps = vec![CheckStep {
            name: "read".into(),
            ok: self.path.exists(),
            detail: if self.path.exists() {
                format!("{} users", index.users.len())
            } else {
                "the file does not exist (an empty directory)".into()
            },
        }];
        for w in &index.warnings {
            steps.push(CheckStep {
                name: "entry".into(),
                ok: false,
                detail: w.clone(),
            });
        }
        let sample: Vec<DirectoryUser> = index
            .users
            .iter()
            .take(5)
            .map(|e| self.user_of(&index, e))
            .collect();
        steps.extend(mapping_steps(
            &self.settings,
            &index
                .users
                .iter()
                .map(|e| self.user_of(&index, e))
                .collect::<Vec<_>>(),
        ));
        CheckReport {
            kind: "file",
            location: self.path.display().to_string(),
            steps,
            sample,
        }
    }
}

/// How many users carry each mapped attribute: a mapping typo shows as 0 of N.
pub fn mapping_steps(s: &DirectorySettings, users: &[DirectoryUser]) -> Vec<CheckStep> {
    let n = users.len();
    let count = |f: &dyn Fn(&DirectoryUser) -> bool| users.iter().filter(|u| f(u)).count();
    let rows: [(&str, String, usize); 5] = [
        (
            "badge",
            s.badge_attributes.join(", "),
            count(&|u| !u.badges.is_empty()),
        ),
        (
            "groups",
            if s.group_attribute.is_empty() {
                "group search".into()
            } else {
                s.group_attribute.clone()
            },
            count(&|u| !u.groups.is_empty()),
        ),
        (
            "department",
            s.department_attribute.clone(),
            count(&|u| !u.department.is_empty()),
        ),
        (
            "cost centre",
            s.cost_centre_attribute.clone(),
            count(&|u| !u.cost_centre.is_empty()),
        ),
        (
            "display name",
            s.display_name_attribute.clone(),
            count(&|u| !u.display_name.is_empty()),
        ),
    ];
    rows.into_iter()
        .map(|(name, attr, have)| CheckStep {
            name: format!("mapping {name}"),
            ok: n == 0 || have > 0,
            detail: format!("{have} of {n} users have {attr}"),
        })
        .collect()
}
