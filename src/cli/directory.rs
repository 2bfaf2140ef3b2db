//! `folio directory …` and `folio badge …`.

use clap::Subcommand;
use serde_json::json;

use crate::config::Settings;
use crate::db::Db;
use crate::directory::{self, BadgeError, DirectoryService, RegisterError};

/// `folio directory …`
#[derive(Subcommand)]
pub enum DirectoryCommand {
    /// Connect, bind, check the attribute mapping on a sample of users.
    Check {
        #[arg(long)]
        json: bool,
    },
    /// Resolve a badge or a user: groups, department, and the rule that normalised the badge.
    Lookup {
        /// A badge number as a reader sends it.
        #[arg(long, conflicts_with = "user", required_unless_present = "user")]
        badge: Option<String>,
        /// A login name.
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List the users of the file directory, or of Folio's cache of the LDAP directory.
    List {
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Read a password on standard input and print an {ARGON2} userPassword value for LDIF.
    HashPassword,
}

/// `folio badge …`
#[derive(Subcommand)]
pub enum BadgeCommand {
    /// List badges registered in Folio (not those of the directory).
    List {
        /// Only this user's.
        #[arg(long)]
        user: Option<String>,
        /// Include revoked registrations.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Link an unknown badge to a user (IT on the user's behalf).
    Register {
        #[arg(long)]
        user: String,
        #[arg(long)]
        badge: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a registration by id.
    Revoke { id: i64 },
    /// Remove a user's release PIN (they set a new one on the self-service page).
    ResetPin {
        #[arg(long)]
        user: String,
    },
}

pub(crate) fn service(s: &Settings) -> anyhow::Result<DirectoryService> {
    std::fs::create_dir_all(&s.data_dir)?;
    let db = Db::connect(&s.effective_database_url(), 2)?;
    let d = directory::open(&s.directory, &s.effective_directory_file())?;
    let service = DirectoryService::new(d, db, &s.directory, s.ipp.auth_cache_secs);
    // Card references in the audit trail are keyed with the site's master key, when there is
    // one yet (the same reference as the server writes).
    let key_file = s.effective_master_key_file();
    Ok(if key_file.exists() {
        let master = crate::spool::crypto::MasterKey::load(&key_file)?;
        service.with_card_key(&master.subkey("audit-card"))
    } else {
        service
    })
}

use super::runtime;

fn user_lines(u: &directory::DirectoryUser) -> String {
    format!(
        "user:        {}\nname:        {}\ndn:          {}\nmail:        {}\ndepartment:  {}\ncost centre: {}\ngroups:      {}\nbadges:      {}\n",
        u.uid,
        u.display_name,
        u.dn,
        u.mail,
        u.department,
        u.cost_centre,
        u.groups.join(", "),
        u.badges.join(", ")
    )
}

/// Runs a directory command; returns the process exit code.
pub fn directory(s: &Settings, command: &DirectoryCommand) -> anyhow::Result<i32> {
    if let DirectoryCommand::HashPassword = command {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        let password = line.trim_end_matches(['\r', '\n']);
        if password.is_empty() {
            anyhow::bail!("no password on standard input");
        }
        println!("{}", directory::password::hash_user_password(password));
        return Ok(0);
    }
    let svc = service(s)?;
    runtime()?.block_on(async move {
        match command {
            DirectoryCommand::Check { json } => {
                let report = svc.directory().check().await;
                let ok = report.steps.iter().all(|st| st.ok);
                if *json {
                    println!("{}", serde_json::to_string_pretty(&json!({ "ok": ok, "report": report }))?);
                } else {
                    println!("{} directory at {}", report.kind, report.location);
                    for st in &report.steps {
                        println!("  [{}] {:<20} {}", if st.ok { " ok " } else { "FAIL" }, st.name, st.detail);
                    }
                    for u in &report.sample {
                        println!(
                            "  sample: {} ({}) dept={} groups={} badges={}",
                            u.uid,
                            u.display_name,
                            u.department,
                            u.groups.len(),
                            u.badges.len()
                        );
                    }
                }
                Ok(if ok { 0 } else { 1 })
            }
            DirectoryCommand::Lookup { badge: Some(badge), json, .. } => {
                match svc.badge_holder(badge).await {
                    Ok(m) => {
                        if *json {
                            println!("{}", serde_json::to_string_pretty(&m)?);
                        } else {
                            print!("{}", user_lines(&m.user));
                            println!("badge:       {} (rules: {})", m.badge, m.rules.join(", "));
                            println!("found in:    {:?}{}", m.via, if m.degraded { " (degraded: directory down)" } else { "" });
                        }
                        Ok(0)
                    }
                    Err(e) => {
                        let code = match &e {
                            BadgeError::Unknown => "unknown_badge",
                            BadgeError::Ambiguous(_) => "badge_conflict",
                            BadgeError::Invalid => "invalid_badge",
                            BadgeError::Unavailable(_) => "directory_unavailable",
                            _ => "error",
                        };
                        if *json {
                            println!("{}", json!({ "error": code, "message": e.to_string() }));
                        } else {
                            println!("{e}");
                        }
                        Ok(2)
                    }
                }
            }
            DirectoryCommand::Lookup { user, json, .. } => {
                let uid = user.as_deref().unwrap_or_default();
                match svc.user(uid).await {
                    Ok(Some(l)) => {
                        if *json {
                            println!("{}", serde_json::to_string_pretty(&json!({ "user": l.user, "degraded": l.degraded }))?);
                        } else {
                            print!("{}", user_lines(&l.user));
                            if l.degraded {
                                println!("(degraded: directory down, cached copy)");
                            }
                        }
                        Ok(0)
                    }
                    Ok(None) => {
                        if *json {
                            println!("{}", json!({ "error": "unknown_user" }));
                        } else {
                            println!("no user {uid} in the directory");
                        }
                        Ok(2)
                    }
                    Err(e) => {
                        if *json {
                            println!("{}", json!({ "error": "directory_unavailable", "message": e.to_string() }));
                        } else {
                            println!("{e}");
                        }
                        Ok(2)
                    }
                }
            }
            DirectoryCommand::List { limit, json } => {
                let (source, users) = match svc.directory().kind() {
                    "file" => ("file", svc.directory().list_users(*limit).await?),
                    _ => (
                        "cache",
                        svc.cached_users(*limit as i64)
                            .await?
                            .into_iter()
                            .map(|c| c.user)
                            .collect(),
                    ),
                };
                if *json {
                    println!("{}", serde_json::to_string_pretty(&json!({ "source": source, "users": users }))?);
                } else {
                    println!("{:<16} {:<28} {:<24} {:<6} badges", "user", "name", "department", "groups");
                    for u in &users {
                        println!(
                            "{:<16} {:<28} {:<24} {:<6} {}",
                            u.uid,
                            u.display_name,
                            u.department,
                            u.groups.len(),
                            u.badges.join(",")
                        );
                    }
                    println!("{} users ({source})", users.len());
                }
                Ok(0)
            }
            DirectoryCommand::HashPassword => Ok(0),
        }
    })
}

/// Runs a badge command; returns the process exit code.
pub fn badge(s: &Settings, command: &BadgeCommand) -> anyhow::Result<i32> {
    let svc = service(s)?;
    runtime()?.block_on(async move {
        match command {
            BadgeCommand::List { user, all, json } => {
                let regs = svc.registrations(user.as_deref(), *all).await?;
                if *json {
                    println!("{}", serde_json::to_string_pretty(&regs)?);
                } else {
                    println!(
                        "{:<6} {:<20} {:<16} {:<16} state",
                        "id", "badge", "user", "by"
                    );
                    for r in &regs {
                        println!(
                            "{:<6} {:<20} {:<16} {:<16} {}",
                            r.id,
                            r.badge,
                            r.uid,
                            r.created_by,
                            if r.revoked_at.is_some() {
                                "revoked"
                            } else {
                                "active"
                            }
                        );
                    }
                }
                Ok(0)
            }
            BadgeCommand::Register { user, badge, json } => {
                let Some(found) = svc.user(user).await?.map(|l| l.user) else {
                    anyhow::bail!("no user {user} in the directory");
                };
                match svc.register_badge(&found, badge, "cli").await {
                    Ok(r) => {
                        if *json {
                            println!("{}", serde_json::to_string_pretty(&r)?);
                        } else {
                            println!(
                                "badge {} registered for {} (registration {})",
                                r.badge, r.uid, r.id
                            );
                        }
                        Ok(0)
                    }
                    Err(
                        e @ (RegisterError::Taken
                        | RegisterError::AlreadyYours
                        | RegisterError::Invalid
                        | RegisterError::Unavailable),
                    ) => {
                        println!("{e}");
                        Ok(2)
                    }
                    Err(e) => Err(e.into()),
                }
            }
            BadgeCommand::Revoke { id } => {
                if svc.revoke_registration(*id, None, "cli").await? {
                    println!("registration {id} revoked");
                    Ok(0)
                } else {
                    println!("no active registration {id}");
                    Ok(2)
                }
            }
            BadgeCommand::ResetPin { user } => {
                svc.set_pin(user, None, "cli")
                    .await
                    .map_err(anyhow::Error::msg)?;
                println!("PIN of {user} removed");
                Ok(0)
            }
        }
    })
}
