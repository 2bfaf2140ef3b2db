//! The queries every pipeline table shares (`scan_captures`, `scan_documents`): take due work
//! with a lease, and move a row from one stage to the next exactly once.

/// Where a pipeline row goes: its stage, attempts, next try and quarantine. Moving a row always
/// gives its lease back.
#[derive(Debug, Clone, PartialEq)]
pub struct Move {
    pub stage: String,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub quarantine_reason: Option<String>,
    pub quarantine_stage: Option<String>,
    pub updated_at: i64,
}

/// Defines `claim`, `release_leases`, `set_stage`, `count_by_stage` and `quarantined` for a
/// pipeline table with the columns
/// `stage`, `attempts`, `next_attempt_at`, `lease_node`, `lease_until`, `quarantine_reason`,
/// `quarantine_stage` and `updated_at`.
#[macro_export]
macro_rules! pipeline_queries {
    ($table:ident, $row:ty) => {
        /// Takes the next row due at one of `stages` for `node` until `lease_until`: due, and
        /// not held by a live lease. None when there is nothing to do.
        pub fn claim(
            conn: &mut Conn,
            stages: &[&str],
            node: &str,
            now: i64,
            lease_until: i64,
        ) -> QueryResult<Option<$row>> {
            let free = $table::lease_until
                .is_null()
                .or($table::lease_until.lt(now));
            let candidates: Vec<i64> = $table::table
                .filter($table::stage.eq_any(stages))
                .filter($table::next_attempt_at.le(now))
                .filter(free)
                .order($table::next_attempt_at.asc())
                .select($table::id)
                .limit(8)
                .load(conn)?;
            for id in candidates {
                if let Some(row) = take(conn, id, stages, node, now, lease_until)? {
                    return Ok(Some(row));
                }
            }
            Ok(None)
        }

        /// Takes row `id` if it is still free, at one of `stages` and due. A compare-and-set on
        /// the lease, the stage and the due time together: between reading the candidates and
        /// this, another worker or node may have taken the row and even finished its stage
        /// (moving it to quarantine, to done, or to a retry later). The attempt is counted
        /// here, before the stage runs: a stage that stops the process counts too.
        pub fn take(
            conn: &mut Conn,
            id: i64,
            stages: &[&str],
            node: &str,
            now: i64,
            lease_until: i64,
        ) -> QueryResult<Option<$row>> {
            let taken = diesel::update(
                $table::table
                    .find(id)
                    .filter(
                        $table::lease_until
                            .is_null()
                            .or($table::lease_until.lt(now)),
                    )
                    .filter($table::stage.eq_any(stages))
                    .filter($table::next_attempt_at.le(now)),
            )
            .set((
                $table::lease_node.eq(node),
                $table::lease_until.eq(lease_until),
                $table::attempts.eq($table::attempts + 1),
            ))
            .execute(conn)?;
            if taken == 0 {
                return Ok(None);
            }
            $table::table
                .find(id)
                .select(<$row>::as_select())
                .first(conn)
                .optional()
        }

        /// Gives back every lease `node` holds: called when that node starts, so work it was
        /// doing when it stopped is taken again at once rather than when the lease runs out.
        pub fn release_leases(conn: &mut Conn, node: &str) -> QueryResult<usize> {
            diesel::update($table::table.filter($table::lease_node.eq(node)))
                .set((
                    $table::lease_node.eq(None::<String>),
                    $table::lease_until.eq(None::<i64>),
                ))
                .execute(conn)
        }

        /// Applies `to` if the row is still at `from` (a stage's end is written once), and
        /// gives the lease back.
        pub fn set_stage(
            conn: &mut Conn,
            id: i64,
            from: &str,
            to: &$crate::db::models::pipeline::Move,
        ) -> QueryResult<bool> {
            let n = diesel::update($table::table.find(id).filter($table::stage.eq(from)))
                .set((
                    $table::stage.eq(&to.stage),
                    $table::attempts.eq(to.attempts),
                    $table::next_attempt_at.eq(to.next_attempt_at),
                    $table::lease_node.eq(None::<String>),
                    $table::lease_until.eq(None::<i64>),
                    $table::quarantine_reason.eq(&to.quarantine_reason),
                    $table::quarantine_stage.eq(&to.quarantine_stage),
                    $table::updated_at.eq(to.updated_at),
                ))
                .execute(conn)?;
            Ok(n == 1)
        }

        /// Rows per stage.
        pub fn count_by_stage(conn: &mut Conn) -> QueryResult<Vec<(String, i64)>> {
            $table::table
                .group_by($table::stage)
                .select(($table::stage, diesel::dsl::count_star()))
                .load(conn)
        }

        /// When the rows now in quarantine were put there, from `since` (ms).
        pub fn quarantined_since(conn: &mut Conn, since: i64) -> QueryResult<Vec<i64>> {
            $table::table
                .filter($table::stage.eq("quarantined"))
                .filter($table::updated_at.ge(since))
                .select($table::updated_at)
                .load(conn)
        }

        /// Quarantined rows, newest first.
        pub fn quarantined(conn: &mut Conn, limit: i64) -> QueryResult<Vec<$row>> {
            $table::table
                .filter($table::stage.eq("quarantined"))
                .order($table::id.desc())
                .limit(limit)
                .select(<$row>::as_select())
                .load(conn)
        }
    };
}
