//! The console's print rules page (administrators): the ordered list, a form to add a rule, a
//! delete button per rule, and the simulation.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::pages::RuleEditPage;
use super::pages::{PoliciesPage, RuleLine};
use super::rule_form::RuleForm;
use super::{gate, posted, render, ConsoleSessions, Staff};
use crate::devices::DeviceRegistry;
use crate::directory::settings::Role;
use crate::directory::DirectoryService;
use crate::domain::{ColorMode, Sides};
use crate::policy::rules::{evaluate, Rule};
use crate::policy::store::{PolicyError, RuleInput};
use crate::policy::{facts_for, JobFacts, PolicyStore, Requested};
use crate::web::form::Form;

const ADMIN: &[Role] = &[Role::Admin];

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/policies", web::get().to(list))
        .route("/policies", web::post().to(create))
        .route("/policies/simulate", web::post().to(simulate))
        .route("/policies/{id}", web::get().to(edit_page))
        .route("/policies/{id}", web::post().to(save))
        .route("/policies/{id}/move", web::post().to(move_rule))
        .route("/policies/{id}/toggle", web::post().to(toggle))
        .route("/policies/{id}/delete", web::post().to(delete));
}

/// One line of words for a rule's conditions or actions (its JSON keys and values).
fn words(value: serde_json::Value) -> String {
    let Some(map) = value.as_object() else {
        return String::new();
    };
    let parts: Vec<String> = map
        .iter()
        .filter(|(_, v)| !(v.is_null() || v.as_array().is_some_and(|a| a.is_empty())))
        .map(|(k, v)| {
            let v = match v {
                serde_json::Value::Array(a) => a
                    .iter()
                    .map(|x| {
                        x.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| x.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            format!("{}: {v}", k.replace('_', " "))
        })
        .collect();
    if parts.is_empty() {
        "every job".into()
    } else {
        parts.join(" · ")
    }
}

fn lines(rules: &[Rule]) -> Vec<RuleLine> {
    rules
        .iter()
        .enumerate()
        .map(|(i, r)| RuleLine {
            id: r.id,
            position: i + 1,
            name: r.name.clone(),
            enabled: r.enabled,
            when: words(serde_json::to_value(&r.when).unwrap_or_default()),
            then: words(serde_json::to_value(&r.then).unwrap_or_default()),
        })
        .collect()
}

async fn page(
    staff: Staff,
    policy: &PolicyStore,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
    simulation: (String, Vec<(String, String, String)>),
) -> HttpResponse {
    page_with(
        staff,
        policy,
        status,
        notice,
        error,
        simulation,
        RuleForm::new(),
    )
    .await
}

async fn page_with(
    staff: Staff,
    policy: &PolicyStore,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
    simulation: (String, Vec<(String, String, String)>),
    form: RuleForm,
) -> HttpResponse {
    let rules = policy.list().await.unwrap_or_default();
    render(
        status,
        &PoliciesPage {
            staff,
            nav: "policies",
            rules: lines(&rules),
            notice,
            error,
            sim_user: simulation.0,
            simulation: simulation.1,
            form,
        },
    )
}

#[derive(serde::Deserialize)]
struct Done {
    #[serde(default)]
    saved: Option<String>,
    #[serde(default)]
    deleted: Option<String>,
}

async fn list(
    req: HttpRequest,
    done: web::Query<Done>,
    sessions: web::Data<ConsoleSessions>,
    policy: web::Data<PolicyStore>,
) -> HttpResponse {
    let staff = match gate(&req, &sessions, ADMIN).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let notice = match (&done.saved, &done.deleted) {
        (Some(name), _) => Some(format!("Rule “{name}” saved.")),
        (_, Some(name)) => Some(format!("Rule “{name}” deleted.")),
        _ => None,
    };
    page(
        staff,
        &policy,
        StatusCode::OK,
        notice,
        None,
        Default::default(),
    )
    .await
}

fn back_to_list(key: &str, name: &str) -> HttpResponse {
    super::see_other_with("/policies", key, name)
}

async fn create(
    req: HttpRequest,
    body: web::Bytes,
    sessions: web::Data<ConsoleSessions>,
    policy: web::Data<PolicyStore>,
) -> HttpResponse {
    let (staff, form) = match posted(&req, &body, &sessions, ADMIN).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let posted = RuleForm::posted(&form);
    let problem = match posted.rule() {
        Ok(input) => match policy.create(input, &staff.uid).await {
            Ok(rule) => return back_to_list("saved", &rule.name),
            Err(e) => refusal(e),
        },
        Err(e) => (StatusCode::BAD_REQUEST, e),
    };
    page_with(
        staff,
        &policy,
        problem.0,
        None,
        Some(problem.1),
        Default::default(),
        posted,
    )
    .await
}

/// What the page says when a rule is not saved.
fn refusal(e: PolicyError) -> (StatusCode, String) {
    match e {
        PolicyError::Invalid(problems) => (
            StatusCode::BAD_REQUEST,
            format!("The rule was not saved: {}.", problems.join("; ")),
        ),
        PolicyError::NotFound => (StatusCode::NOT_FOUND, "No such rule.".into()),
        e => {
            tracing::error!(error = %e, "cannot save a rule");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The rule could not be saved; the details are in Folio's log.".into(),
            )
        }
    }
}

/// The rule `id` and its place (1-based).
async fn rule_at(policy: &PolicyStore, id: i64) -> Option<(Rule, usize)> {
    let rules = policy.list().await.ok()?;
    let at = rules.iter().position(|r| r.id == id)?;
    Some((rules[at].clone(), at + 1))
}

fn edit_form(
    staff: Staff,
    id: i64,
    title: String,
    form: RuleForm,
    error: Option<(StatusCode, String)>,
) -> HttpResponse {
    let status = error.as_ref().map(|e| e.0).unwrap_or(StatusCode::OK);
    render(
        status,
        &RuleEditPage {
            staff,
            nav: "policies",
            id,
            title,
            form,
            error: error.map(|e| e.1),
        },
    )
}

async fn edit_page(
    req: HttpRequest,
    path: web::Path<i64>,
    sessions: web::Data<ConsoleSessions>,
    policy: web::Data<PolicyStore>,
) -> HttpResponse {
    let staff = match gate(&req, &sessions, ADMIN).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match rule_at(&policy, *path).await {
        Some((rule, at)) => edit_form(
            staff,
            rule.id,
            rule.name.clone(),
            RuleForm::of(&rule, at),
            None,
        ),
        None => super::message(
            &staff,
            StatusCode::NOT_FOUND,
            "No such rule",
            "It may have been deleted.",
        ),
    }
}

async fn save(
    req: HttpRequest,
    path: web::Path<i64>,
    body: web::Bytes,
    sessions: web::Data<ConsoleSessions>,
    policy: web::Data<PolicyStore>,
) -> HttpResponse {
    let (staff, form) = match posted(&req, &body, &sessions, ADMIN).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let id = *path;
    let posted = RuleForm::posted(&form);
    let problem = match posted.rule() {
        Ok(input) => match policy.update(id, input, &staff.uid).await {
            Ok(rule) => return back_to_list("saved", &rule.name),
            Err(e) => refusal(e),
        },
        Err(e) => (StatusCode::BAD_REQUEST, e),
    };
    let title = policy.get(id).await.map(|r| r.name).unwrap_or_default();
    edit_form(staff, id, title, posted, Some(problem))
}

/// Changes one thing of a rule and keeps the rest: its place, or whether it is on.
async fn change(
    req: HttpRequest,
    id: i64,
    body: web::Bytes,
    sessions: web::Data<ConsoleSessions>,
    policy: web::Data<PolicyStore>,
    how: impl FnOnce(&Form, &mut RuleInput, usize),
) -> HttpResponse {
    let (staff, form) = match posted(&req, &body, &sessions, ADMIN).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some((rule, at)) = rule_at(&policy, id).await else {
        return super::message(
            &staff,
            StatusCode::NOT_FOUND,
            "No such rule",
            "It may have been deleted.",
        );
    };
    let mut input = RuleInput {
        name: rule.name.clone(),
        enabled: rule.enabled,
        when: rule.when.clone(),
        then: rule.then.clone(),
        position: None,
    };
    how(&form, &mut input, at);
    match policy.update(id, input, &staff.uid).await {
        Ok(rule) => back_to_list("saved", &rule.name),
        Err(e) => {
            let (status, message) = refusal(e);
            page(
                staff,
                &policy,
                status,
                None,
                Some(message),
                Default::default(),
            )
            .await
        }
    }
}

async fn move_rule(
    req: HttpRequest,
    path: web::Path<i64>,
    body: web::Bytes,
    sessions: web::Data<ConsoleSessions>,
    policy: web::Data<PolicyStore>,
) -> HttpResponse {
    change(req, *path, body, sessions, policy, |form, input, at| {
        let to = form.get("to").trim().parse().unwrap_or(at);
        input.position = Some(to.max(1));
    })
    .await
}

async fn toggle(
    req: HttpRequest,
    path: web::Path<i64>,
    body: web::Bytes,
    sessions: web::Data<ConsoleSessions>,
    policy: web::Data<PolicyStore>,
) -> HttpResponse {
    change(req, *path, body, sessions, policy, |_, input, _| {
        input.enabled = !input.enabled;
    })
    .await
}

async fn delete(
    req: HttpRequest,
    path: web::Path<i64>,
    body: web::Bytes,
    sessions: web::Data<ConsoleSessions>,
    policy: web::Data<PolicyStore>,
) -> HttpResponse {
    let (staff, _) = match posted(&req, &body, &sessions, ADMIN).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let name = policy.get(*path).await.map(|r| r.name).unwrap_or_default();
    match policy.delete(*path, &staff.uid).await {
        Ok(()) => back_to_list("deleted", &name),
        Err(e) => {
            page(
                staff,
                &policy,
                StatusCode::NOT_FOUND,
                None,
                Some(e.to_string()),
                Default::default(),
            )
            .await
        }
    }
}

async fn simulate(
    req: HttpRequest,
    body: web::Bytes,
    sessions: web::Data<ConsoleSessions>,
    policy: web::Data<PolicyStore>,
    directory: web::Data<DirectoryService>,
    devices: web::Data<DeviceRegistry>,
) -> HttpResponse {
    let (staff, form) = match posted(&req, &body, &sessions, ADMIN).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let user = form.get("user").trim().to_owned();
    if !matches!(directory.user(&user).await, Ok(Some(_))) {
        let e = format!("The directory has no user `{user}`.");
        return page(
            staff,
            &policy,
            StatusCode::BAD_REQUEST,
            None,
            Some(e),
            (user, Vec::new()),
        )
        .await;
    }
    let requested = Requested {
        sides: Sides::parse(form.get("sides")),
        color_mode: ColorMode::parse(form.get("color")),
        copies: None,
    };
    let pages = form.get("pages").trim().parse().ok();
    let mut facts = facts_for(
        &directory,
        &user,
        JobFacts {
            requested,
            pages,
            color_used: None,
            document_name: form.get("document_name").trim().to_owned(),
            application: String::new(),
        },
    )
    .await;
    let device_name = form.get("device").trim();
    if !device_name.is_empty() {
        if let Ok(Some(d)) = devices.get(device_name).await {
            facts.site = Some(d.location.site.clone());
            facts.device = Some(d.name);
        }
    }
    let rules = policy.rules().await.unwrap_or_default();
    let d = evaluate(&rules, &facts);
    let by = |k: &str| {
        d.decided_by
            .get(k)
            .map(|b| b.rule.clone())
            .unwrap_or_default()
    };
    let rows = vec![
        (
            "colour".to_owned(),
            d.color_mode.keyword().to_owned(),
            by("color"),
        ),
        (
            "sides".to_owned(),
            d.sides.keyword().to_owned(),
            by("sides"),
        ),
        ("copies".to_owned(), d.copies.to_string(), by("copies")),
        (
            "refused".to_owned(),
            d.refuse.clone().unwrap_or_else(|| "no".into()),
            by("refuse"),
        ),
        (
            "release at".to_owned(),
            if d.release_sites.is_empty() {
                "any site".into()
            } else {
                d.release_sites.join(", ")
            },
            by("release_sites"),
        ),
        (
            "expires after".to_owned(),
            d.hold_hours
                .map(|h| format!("{h} h"))
                .unwrap_or_else(|| "the default".into()),
            by("hold_hours"),
        ),
    ];
    page(staff, &policy, StatusCode::OK, None, None, (user, rows)).await
}
