//! The queries every pipeline table shares (`scan_captures`, `scan_documents`): take due work
//! with a lease, and move a row from one stage to the next exactly once.

/// Defines `claim`, `StageChange` and `set_stage` for a pipeline table with the columns
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
                // Compare-and-set on the lease: another worker or node may have taken it.
                let taken = diesel::update(
                    $table::table.find(id).filter(
                        $table::lease_until
                            .is_null()
                            .or($table::lease_until.lt(now)),
                    ),
                )
                .set((
                    $table::lease_node.eq(node),
                    $table::lease_until.eq(lease_until),
                ))
                .execute(conn)?;
                if taken == 1 {
                    return $table::table
                        .find(id)
                        .select(<$row>::as_select())
                        .first(conn)
                        .optional();
                }
            }
            Ok(None)
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

        /// What a stage's end changes on the row (the lease is always given back).
        #[derive(Debug, Clone, AsChangeset)]
        #[diesel(table_name = $table, treat_none_as_null = true)]
        pub struct StageChange {
            pub stage: String,
            pub attempts: i32,
            pub next_attempt_at: i64,
            pub lease_node: Option<String>,
            pub lease_until: Option<i64>,
            pub quarantine_reason: Option<String>,
            pub quarantine_stage: Option<String>,
            pub updated_at: i64,
        }

        /// Applies `change` if the row is still at `from` (a stage's end is written once).
        pub fn set_stage(
            conn: &mut Conn,
            id: i64,
            from: &str,
            change: &StageChange,
        ) -> QueryResult<bool> {
            let n = diesel::update($table::table.find(id).filter($table::stage.eq(from)))
                .set(change)
                .execute(conn)?;
            Ok(n == 1)
        }
    };
}
