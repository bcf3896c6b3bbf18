// Benchmark-only bulk writes (see `BenchmarkStore` in lib.rs): many changes
// in one transaction with multi-row statements, writing the same rows that
// `insert_change` writes one change at a time.

/// Changes per multi-row `INSERT`: 18 binds each, within SQLite's 32,766
/// and PostgreSQL's 65,535 binds per statement.
const SEED_CHANGES_PER_STATEMENT: usize = 1_000;
/// CI names per existence check.
const SEED_NAMES_PER_CHECK: usize = 5_000;

/// The checks `check_references` makes for one change, made once for the
/// whole batch: every named group, person and CI exists.
async fn check_seed_references(tx: &mut Tx, changes: &[Change]) -> Result<()> {
    let mut errors = Vec::new();
    let groups: std::collections::BTreeSet<&str> = (changes.iter())
        .filter_map(|c| c.assignment_group.as_deref())
        .collect();
    for group in groups {
        if !group_exists(tx, group).await? {
            errors.push(FieldError::new(
                "assignment_group",
                format!("no group named `{group}`"),
            ));
        }
    }
    let people: std::collections::BTreeSet<&str> = (changes.iter())
        .flat_map(|c| std::iter::once(c.requested_by.as_str()).chain(c.assigned_to.as_deref()))
        .collect();
    for person in people {
        if user_id(tx, person).await?.is_none() {
            errors.push(FieldError::new(
                "requested_by",
                format!("no user named `{person}`"),
            ));
        }
    }
    let names: Vec<&str> = (changes.iter())
        .flat_map(|c| c.affected_cis.iter().map(String::as_str))
        .collect::<std::collections::BTreeSet<&str>>()
        .into_iter()
        .collect();
    let mut unknown = Vec::new();
    for chunk in names.chunks(SEED_NAMES_PER_CHECK) {
        let mut query = QueryBuilder::<Db>::new("SELECT name FROM cis WHERE name IN (");
        let mut list = query.separated(", ");
        for name in chunk {
            list.push_bind((*name).to_owned());
        }
        query.push(")").push(FOR_SHARE);
        let known: std::collections::HashSet<String> = (query.build_query_scalar())
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .collect();
        unknown.extend(chunk.iter().copied().filter(|name| !known.contains(*name)));
    }
    if !unknown.is_empty() {
        let shown: Vec<&str> = unknown.iter().take(10).copied().collect();
        errors.push(FieldError::new(
            "affected_cis",
            format!("{} unknown CIs: {}", unknown.len(), shown.join(", ")),
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(StoreError::invalid_fields(errors))
    }
}

/// Inserts one statement's worth of numbered changes; returns their row ids
/// by number (a multi-row `RETURNING` promises no order).
async fn insert_seed_chunk(
    tx: &mut Tx,
    chunk: &[Change],
) -> Result<std::collections::HashMap<String, i64>> {
    let mut query = QueryBuilder::<Db>::new(
        "INSERT INTO changes (number, change_type, state, title, requested_by, assignment_group, \
         cab_date, version, created_at, updated_at, doc, search_text, \
         planned_start, planned_end, long_window, template, close_code, closed_at) ",
    );
    query.push_values(chunk, |mut row, change| {
        row.push_bind(change.number.to_string())
            .push_bind(change.change_type.as_str())
            .push_bind(change.state.as_str())
            .push_bind(change.title.clone())
            .push_bind(change.requested_by.clone())
            .push_bind(change.assignment_group.clone())
            .push_bind(change.cab_date)
            .push_bind(change.version)
            .push_bind(change.created_at)
            .push_bind(change.updated_at)
            .push_bind(Json(change))
            .push_bind(search_text(change))
            .push_bind(change.planned_start)
            .push_bind(change.planned_end)
            .push_bind(is_long_window(change))
            .push_bind(change.template.clone())
            .push_bind(change.close_code.map(|c| c.as_str()))
            .push_bind(change.pir.review.as_ref().map(|r| r.reviewed_at));
    });
    query.push(" RETURNING id, number");
    let rows: Vec<(i64, String)> = query.build_query_as().fetch_all(&mut **tx).await?;
    Ok(rows.into_iter().map(|(id, number)| (number, id)).collect())
}

#[async_trait]
impl BenchmarkStore for Repo {
    async fn seed_changes_for_benchmark(
        &self,
        mut changes: Vec<Change>,
    ) -> Result<Vec<ChangeNumber>> {
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_write().await?;
        check_seed_references(&mut tx, &changes).await?;
        // One update takes the whole range: the row stays locked until
        // commit, so concurrent creates number after it, without gaps.
        let count = i64::try_from(changes.len()).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let last: i64 = sqlx::query_scalar(
            "UPDATE sequences SET value = value + $1 WHERE name = 'change' RETURNING value",
        )
        .bind(count)
        .fetch_one(&mut *tx)
        .await?;
        let first =
            u64::try_from(last - count + 1).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        for (offset, change) in (0u64..).zip(changes.iter_mut()) {
            change.number = ChangeNumber::new(first + offset);
        }
        for chunk in changes.chunks(SEED_CHANGES_PER_STATEMENT) {
            let ids = insert_seed_chunk(&mut tx, chunk).await?;
            let mut rows = Vec::new();
            for change in chunk {
                let id = ids
                    .get(&change.number.to_string())
                    .copied()
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!("no row id returned for {}", change.number))
                    })?;
                rows.extend(change.affected_cis.iter().map(|ci| (id, ci.as_str())));
            }
            insert_change_cis(&mut tx, &rows).await?;
        }
        tx.commit().await?;
        Ok(changes.iter().map(|c| c.number).collect())
    }

    async fn settle_for_benchmark(&self) -> Result<()> {
        for statement in SETTLE_AFTER_SEEDING {
            sqlx::query(*statement).execute(self.writer()).await?;
        }
        Ok(())
    }

    async fn table_counts_for_benchmark(&self) -> Result<Vec<(&'static str, i64)>> {
        let mut counts = Vec::new();
        for table in [
            "cis",
            "relationships",
            "changes",
            "change_cis",
            "votes",
            "audit_events",
            "outbox",
            "risk_assessments",
            "jobs",
        ] {
            let count: i64 = sqlx::query_scalar(sql!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&self.pool)
                .await?;
            counts.push((table, count));
        }
        Ok(counts)
    }

    fn writer_reading(&self) -> Option<crate::WriterReading> {
        let meter = self.writer_meter.as_ref()?;
        Some(meter.reading(std::time::Instant::now()))
    }
}
