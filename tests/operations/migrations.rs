//! Migrations go up, down and up again on both backends, and leave the same tables.

use crate::common::{both_backends, Backend};

fn database_url(backend: Backend, dir: &std::path::Path) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.join("folio.db").display()),
        Backend::Postgres => crate::common::fresh_postgres_database(),
    }
}

both_backends!(migrations_go_up_down_and_up_again, |backend| {
    let dir = tempfile::tempdir().unwrap();
    let db = folio::db::Db::connect(&database_url(backend, dir.path()), 2).expect("migrated");
    assert_eq!(
        db.migrate().unwrap(),
        0,
        "nothing left to apply after connect"
    );
    db.redo_all_migrations().expect("down and up again");
    // The schema is usable after the round trip.
    let mut conn = db.get().unwrap();
    let held = folio::db::models::jobs::count_in_state(&mut conn, 4).unwrap();
    assert_eq!(held, 0);
    let events = folio::db::models::audit_events::list_after(&mut conn, 0, 10).unwrap();
    assert!(events.is_empty());
});
