// Risk assessment: the history it reads, the changes whose windows may
// conflict, and recording an assessment together with the conflict records
// it leaves on the other changes.

/// The active states as SQL literals. The partial indexes of migration 0005
/// carry the same predicate, word for word, so the planner can use them.
const ACTIVE_STATES_SQL: &str = "state IN ('assess', 'authorize', 'scheduled', 'implement')";

/// The group's record period, `[now - 30 days, now]`, cut at UTC midnights:
/// the partial day it starts in (`since` up to `first_whole_day_start`),
/// the whole days `[first_whole_day, today)`, and the partial last day
/// (`last_day_start` up to `now`).
struct GroupPeriod {
    since: DateTime<Utc>,
    first_whole_day: chrono::NaiveDate,
    first_whole_day_start: DateTime<Utc>,
    today: chrono::NaiveDate,
    /// Today's midnight, or the first whole day's when the period is
    /// shorter than a day, so the two partial days never overlap.
    last_day_start: DateTime<Utc>,
}

impl GroupPeriod {
    fn ending(now: DateTime<Utc>) -> Self {
        let since = now - chrono::Duration::days(GROUP_HISTORY_DAYS);
        let first_whole_day = since.date_naive() + chrono::Duration::days(1);
        let first_whole_day_start = first_whole_day.and_time(chrono::NaiveTime::MIN).and_utc();
        let today = now.date_naive();
        let today_start = today.and_time(chrono::NaiveTime::MIN).and_utc();
        GroupPeriod {
            since,
            first_whole_day,
            first_whole_day_start,
            today,
            last_day_start: today_start.max(first_whole_day_start),
        }
    }
}

/// A closure's counts as SQL columns: one closed, and one success when it
/// closed `successful` or `successful_with_issues` (as
/// `stackflow_core::risk::GroupHistory` counts them).
const CLOSURE_COUNTS_SQL: &str = "COUNT(*), \
    COALESCE(SUM(CASE WHEN close_code IN ('successful', 'successful_with_issues') THEN 1 ELSE 0 END), 0)";

/// Serialises the writers that touch conflict records on several changes.
/// Taken first, before any change row is locked, so two of them never wait
/// for each other's rows.
async fn lock_conflicts(tx: &mut Tx) -> Result<()> {
    if let Some(lock) = CONFLICT_ORDER_LOCK {
        sqlx::query(AssertSqlSafe(lock)).execute(&mut **tx).await?;
    }
    Ok(())
}

async fn insert_assessment(
    tx: &mut Tx,
    change_id: i64,
    cause: AssessmentCause,
    risk: &RiskAssessment,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO risk_assessments (change_id, cause, score, level, assessed_at, doc) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(change_id)
    .bind(cause.as_str())
    .bind(i32::from(risk.automated_score))
    .bind(risk.risk_level.as_str())
    .bind(risk.assessed_at)
    .bind(Json(risk))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Brings the records other changes hold about `number` in line with
/// `wanted`: each listed change gets (or keeps) its record, and a change
/// that held one in `previous` but is no longer listed loses it. Inactive
/// changes get nothing new. Each change touched gets a new version, an
/// audit event and, while it awaits approval, a `risk.reassess` job.
async fn sync_counterparts(
    tx: &mut Tx,
    by: &Caller,
    number: ChangeNumber,
    previous: &[Conflict],
    wanted: &[(ChangeNumber, Conflict)],
) -> Result<()> {
    let others: std::collections::BTreeSet<ChangeNumber> = previous
        .iter()
        .filter_map(|c| c.change)
        .chain(wanted.iter().map(|(n, _)| *n))
        .filter(|n| *n != number)
        .collect();
    for other in others {
        let (id, before) = match load_change(tx, other, true).await {
            Ok(found) => found,
            Err(StoreError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        let record = wanted
            .iter()
            .find(|(n, _)| *n == other)
            .map(|(_, c)| c.clone())
            .filter(|_| conflict::is_active(before.state));
        let existing = before.conflicts.iter().find(|c| c.change == Some(number));
        let unchanged = match (existing, &record) {
            (None, None) => true,
            (Some(old), Some(new)) => conflict::same_conflict(old, new),
            _ => false,
        };
        if unchanged {
            continue;
        }
        let mut after = before.clone();
        after.conflicts =
            conflict::replace_change_records(&before.conflicts, number, record.clone());
        after.version = before.version + 1;
        after.updated_at = by.now;
        save_change(tx, id, &before, &after).await?;
        if ChangeState::AWAITING_APPROVAL.contains(&after.state) {
            // Its conflicts moved, so its score may: reassessed by the job
            // worker, after this commits (and even if this process dies).
            let job = NewJob::new(JobKind::RiskReassess, other.to_string(), by.now);
            request_job_in(tx, &job, by.now).await?;
        }
        let action = if record.is_some() {
            "change.conflict_flagged"
        } else {
            "change.conflict_cleared"
        };
        audit(
            tx,
            by,
            ("change", &other.to_string()),
            action,
            Some(json_of(&before)?),
            Some(json_of(&after)?),
        )
        .await?;
    }
    Ok(())
}

/// After an accepted transition: a change that stops being active (sent
/// back to `new`, canceled, or implemented) stops conflicting with others.
/// Back in `new` or canceled, it also forgets its own records; a
/// resubmission finds them again.
async fn settle_conflicts_on_leaving(
    tx: &mut Tx,
    by: &Caller,
    before: &Change,
    transition: &mut Transition,
) -> Result<()> {
    let after = &mut transition.change;
    if !conflict::is_active(before.state) || conflict::is_active(after.state) {
        return Ok(());
    }
    if matches!(after.state, ChangeState::New | ChangeState::Canceled) {
        after.conflicts.clear();
    }
    sync_counterparts(tx, by, before.number, &before.conflicts, &[]).await
}

/// Whether an action may take a change out of the active states (and so
/// must take the conflict lock before locking the change).
fn may_leave_active(action: &Action) -> bool {
    matches!(
        action,
        Action::Cancel { .. } | Action::Vote { .. } | Action::Complete
    )
}

/// Conflict candidates of a change's window: through its CIs' scope when
/// the impact index gave one, otherwise through the windows.
async fn candidates(
    conn: &mut <Db as sqlx::Database>::Connection,
    number: ChangeNumber,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    scope: Option<&[String]>,
) -> Result<Vec<PlannedChange>> {
    match scope {
        Some(scope) => candidates_in_scope(conn, number, start, end, scope).await,
        None => candidates_by_window(conn, number, start, end).await,
    }
}

/// Refuses with [`StoreError::AssessmentOutdated`] when the conflict
/// candidates an assessment read differ from those the database holds now.
/// Read in the recording transaction, after the conflict-record lock: the
/// writers that make a change active are serialised with it (SQLite's one
/// writer; on PostgreSQL the lock, and READ COMMITTED shows every commit
/// before it). Never through the pool: on PostgreSQL every lock waiter
/// holds a pool connection, and a holder waiting for one more would stall.
async fn check_candidates_unchanged(
    tx: &mut Tx,
    number: ChangeNumber,
    read: Option<&CandidatesRead>,
) -> Result<()> {
    let Some(read) = read else {
        return Ok(());
    };
    let now = candidates(tx, number, read.start, read.end, read.scope.as_deref()).await?;
    if now != read.found {
        return Err(StoreError::AssessmentOutdated(number.to_string()));
    }
    Ok(())
}

/// Conflict candidates found through their CIs: the active changes naming
/// a CI of `scope` whose windows overlap `[start, end)`, each with its CIs
/// in the scope (by name), by number. Read from `active_change_cis`
/// (migration 0010), which holds only active changes' CIs, so closed
/// changes on the same CIs cost nothing.
async fn candidates_in_scope(
    conn: &mut <Db as sqlx::Database>::Connection,
    number: ChangeNumber,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    scope: &[String],
) -> Result<Vec<PlannedChange>> {
    let mut found: std::collections::BTreeMap<ChangeNumber, PlannedChange> =
        std::collections::BTreeMap::new();
    let rows: Vec<(String, DateTime<Utc>, DateTime<Utc>, String)> = sqlx::query_as(sql!(
        "SELECT c.number, a.planned_start, a.planned_end, a.ci_name \
         FROM active_change_cis a JOIN changes c ON c.id = a.change_id \
         WHERE a.ci_name {IN_JSON_NAMES} \
         AND a.planned_start < $2 AND a.planned_end > $3 AND c.number <> $4"
    ))
    .bind(Json(scope))
    .bind(end)
    .bind(start)
    .bind(number.to_string())
    .fetch_all(&mut *conn)
    .await?;
    for (other, planned_start, planned_end, ci) in rows {
        let other: ChangeNumber = parse("changes.number", &other)?;
        found
            .entry(other)
            .or_insert_with(|| PlannedChange {
                number: other,
                affected_cis: Vec::new(),
                planned_start,
                planned_end,
            })
            .affected_cis
            .push(ci);
    }
    Ok(found
        .into_values()
        .map(|mut candidate| {
            candidate.affected_cis.sort();
            candidate.affected_cis.dedup();
            candidate
        })
        .collect())
}

/// Conflict candidates found through their windows: every active change
/// whose window overlaps `[start, end)`, with all its CIs (by name), by
/// number. None is left out: were either side of a conflict to miss the
/// other, each one's reassessment would undo the other's record.
async fn candidates_by_window(
    conn: &mut <Db as sqlx::Database>::Connection,
    number: ChangeNumber,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<PlannedChange>> {
    // Short windows: those starting at most LONG_WINDOW_DAYS before
    // this one (a bounded index range); long ones: their own index.
    let short_from = start - chrono::Duration::days(LONG_WINDOW_DAYS);
    // The windows first, from the covering index alone, then their CIs.
    let windows: Vec<(i64, String, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(sql!(
        "SELECT id, number, planned_start, planned_end FROM changes{SHORT_WINDOW_INDEX} \
         WHERE {ACTIVE_STATES_SQL} AND planned_start >= $1 AND planned_start < $2 AND planned_end > $3 AND number <> $4 \
         UNION ALL \
         SELECT id, number, planned_start, planned_end FROM changes{LONG_WINDOW_INDEX} \
         WHERE long_window AND {ACTIVE_STATES_SQL} AND planned_start < $1 AND planned_end > $3 AND number <> $4"
    ))
    .bind(short_from)
    .bind(end)
    .bind(start)
    .bind(number.to_string())
    .fetch_all(&mut *conn)
    .await?;
    let mut cis: std::collections::HashMap<i64, Vec<String>> = std::collections::HashMap::new();
    let ids: Vec<i64> = windows.iter().map(|(id, ..)| *id).collect();
    let rows: Vec<(i64, String)> = sqlx::query_as(sql!(
        "SELECT change_id, ci_name FROM change_cis WHERE change_id {IN_JSON_IDS} \
         ORDER BY change_id, ci_name"
    ))
    .bind(Json(ids))
    .fetch_all(&mut *conn)
    .await?;
    for (id, ci) in rows {
        cis.entry(id).or_default().push(ci);
    }
    let mut candidates = windows
        .into_iter()
        .map(|(id, number, planned_start, planned_end)| {
            Ok(PlannedChange {
                number: parse("changes.number", &number)?,
                affected_cis: cis.remove(&id).unwrap_or_default(),
                planned_start,
                planned_end,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    candidates.sort_by_key(|c| c.number);
    Ok(candidates)
}

impl Repo {
    /// `submit_assessed`'s transaction, on the writer (see `run_write`).
    async fn write_submit_assessed(
        &self,
        by: &Caller,
        number: ChangeNumber,
        expected_version: Option<i64>,
        assessed: Assessed,
    ) -> Result<Change> {
        let mut tx = self.begin_write().await?;
        hold_settings_generation(&mut tx).await?;
        lock_conflicts(&mut tx).await?;
        let (id, before) = load_change(&mut tx, number, true).await?;
        check_version(expected_version, &before)?;
        if before.version != assessed.based_on_version {
            return Err(StoreError::AssessmentOutdated(number.to_string()));
        }
        check_candidates_unchanged(&mut tx, number, assessed.candidates.as_ref()).await?;
        let scored = before.change_type.is_risk_scored();
        if scored != assessed.risk.is_some() {
            return Err(Refusal::conflict(
                "risk_not_assessed",
                format!(
                    "a {} change is submitted {} a risk assessment",
                    before.change_type,
                    if scored { "with" } else { "without" }
                ),
            )
            .into());
        }
        let risk_level = assessed.risk.as_ref().map(|risk| risk.risk_level);
        let settings = self.settings_in(&mut tx).await?;
        let mut transition = decide_in(
            &mut tx,
            by,
            (id, &before),
            &settings,
            Action::Submit,
            risk_level,
        )
        .await?;
        transition.change.risk_assessment = assessed.risk.clone();
        transition.change.conflicts = assessed.conflicts.clone();
        let after = persist_transition(&mut tx, by, id, &before, transition).await?;
        if let Some(risk) = &assessed.risk {
            insert_assessment(&mut tx, id, AssessmentCause::Submit, risk).await?;
        }
        let (generation, cmdb_seq) = submission_horizon(&mut tx).await?;
        let settings_moved = assessed
            .settings_generation
            .is_some_and(|read| read != generation);
        if settings_moved || cmdb_seq > assessed.cmdb_seq {
            // A window, the calendar or the CMDB was written after the
            // assessment read them, and that write asked to reassess only
            // the changes then awaiting approval or approved: reassess this
            // one, which records nothing if the write did not bear on it.
            // (A standard change, scheduled at once, has only its blackouts
            // worked out again: its conflicts with other changes are found
            // by their assessments.)
            let job = NewJob::new(JobKind::RiskReassess, number.to_string(), by.now);
            request_job_in(&mut tx, &job, by.now).await?;
        }
        sync_counterparts(
            &mut tx,
            by,
            number,
            &before.conflicts,
            &assessed.counterparts,
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// `record_blackouts`' transaction, on the writer (see `run_write`).
    async fn write_record_blackouts(
        &self,
        by: &Caller,
        number: ChangeNumber,
        based_on_version: i64,
        blackouts: Vec<Conflict>,
    ) -> Result<Option<Change>> {
        let mut tx = self.begin_write().await?;
        let (id, before) = load_change(&mut tx, number, true).await?;
        if !conflict::APPROVED_ACTIVE_STATES.contains(&before.state) {
            return Ok(None);
        }
        if before.version != based_on_version {
            return Err(StoreError::AssessmentOutdated(number.to_string()));
        }
        let conflicts = conflict::with_blackouts(&before.conflicts, blackouts);
        if conflict::same_conflicts(&before.conflicts, &conflicts) {
            return Ok(None);
        }
        let newly_found: Vec<String> = (conflicts.iter())
            .filter(|c| c.kind == conflict::ConflictKind::Blackout)
            .filter(|c| !before.conflicts.contains(c))
            .filter_map(|c| c.window.clone())
            .collect();
        let mut after = before.clone();
        after.conflicts = conflicts;
        after.version = before.version + 1;
        after.updated_at = by.now;
        save_change_audited(&mut tx, by, id, &before, &after, "change.conflicts_updated").await?;
        let key = number.to_string();
        if !newly_found.is_empty() {
            let note = Notification {
                event: "change.blackout_conflict",
                topic: stackflow_core::lifecycle::TOPIC_CHANGES,
                recipients: vec![after.requested_by.clone()],
                data: serde_json::json!({
                    "number": key,
                    "title": after.title,
                    "state": after.state.as_str(),
                    "windows": newly_found,
                }),
            };
            enqueue(&mut tx, by.now, &key, &note).await?;
        }
        tx.commit().await?;
        Ok(Some(after))
    }

    /// `record_reassessment`'s transaction, on the writer (see `run_write`).
    async fn write_record_reassessment(
        &self,
        by: &Caller,
        number: ChangeNumber,
        assessed: Assessed,
    ) -> Result<Option<Change>> {
        let mut tx = self.begin_write().await?;
        lock_conflicts(&mut tx).await?;
        let (id, before) = load_change(&mut tx, number, true).await?;
        // A change that moved since is outdated even when it no longer
        // awaits approval: one approved meanwhile still has its blackouts
        // to be recorded, which the caller does once it reads it again.
        if before.version != assessed.based_on_version {
            return Err(StoreError::AssessmentOutdated(number.to_string()));
        }
        if !ChangeState::AWAITING_APPROVAL.contains(&before.state) {
            return Ok(None);
        }
        // As for a submission: a candidate that has since left the active
        // states (canceled, completed) would otherwise be recorded here and
        // never cleared, since its own transitions clear only the records
        // it holds.
        check_candidates_unchanged(&mut tx, number, assessed.candidates.as_ref()).await?;
        let Some(risk) = assessed.risk.clone() else {
            return Ok(None);
        };
        let same_risk = before
            .risk_assessment
            .as_ref()
            .is_some_and(|old| old.same_finding(&risk));
        if same_risk && conflict::same_conflicts(&before.conflicts, &assessed.conflicts) {
            return Ok(None);
        }
        let mut after = before.clone();
        if !same_risk {
            // The same finding keeps the assessment the history holds.
            after.risk_assessment = Some(risk.clone());
        }
        after.conflicts = assessed.conflicts.clone();
        after.version = before.version + 1;
        after.updated_at = by.now;
        save_change_audited(&mut tx, by, id, &before, &after, "change.risk_reassessed").await?;
        let key = number.to_string();
        if !same_risk {
            // The history keeps findings; a reassessment that only moved
            // the conflict records (which the change and its audit event
            // carry) is not a new one.
            insert_assessment(&mut tx, id, AssessmentCause::Reassessment, &risk).await?;
        }
        let old_level = before.risk_assessment.as_ref().map(|r| r.risk_level);
        if old_level != Some(risk.risk_level) {
            let note = Notification {
                event: "change.risk_changed",
                topic: stackflow_core::lifecycle::TOPIC_CHANGES,
                recipients: vec![after.requested_by.clone()],
                data: serde_json::json!({
                    "number": key,
                    "title": after.title,
                    "previous_level": old_level.map(|l| l.as_str()),
                    "risk_level": risk.risk_level.as_str(),
                    "automated_score": risk.automated_score,
                }),
            };
            enqueue(&mut tx, by.now, &key, &note).await?;
        }
        sync_counterparts(
            &mut tx,
            by,
            number,
            &before.conflicts,
            &assessed.counterparts,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(after))
    }
}

#[async_trait]
impl RiskStore for Repo {
    async fn risk_history(&self, query: &RiskHistoryQuery) -> Result<RiskHistory> {
        let group = match &query.assignment_group {
            Some(name) => {
                let period = GroupPeriod::ending(query.now);
                // The whole UTC days from `group_closures` (migration
                // 0012), the partial days at both ends from the changes,
                // each end its own index range (an OR of the two made
                // SQLite walk all of the group's closures).
                let (closed, successful): (i64, i64) = sqlx::query_as(sql!(
                    "SELECT CAST(COALESCE(SUM(closed), 0) AS BIGINT), CAST(COALESCE(SUM(successful), 0) AS BIGINT) FROM ( \
                     SELECT closed, successful FROM group_closures \
                     WHERE assignment_group = $1 AND day >= $2 AND day < $3 \
                     UNION ALL \
                     SELECT {CLOSURE_COUNTS_SQL} FROM changes WHERE assignment_group = $1 \
                     AND closed_at IS NOT NULL AND closed_at >= $4 AND closed_at < $5 AND closed_at <= $7 \
                     UNION ALL \
                     SELECT {CLOSURE_COUNTS_SQL} FROM changes WHERE assignment_group = $1 \
                     AND closed_at IS NOT NULL AND closed_at >= $6 AND closed_at <= $7 \
                     ) AS record"
                ))
                .bind(name.clone())
                .bind(period.first_whole_day)
                .bind(period.today)
                .bind(period.since)
                .bind(period.first_whole_day_start)
                .bind(period.last_day_start)
                .bind(query.now)
                .fetch_one(&self.pool)
                .await?;
                Some(GroupHistory {
                    closed: u32::try_from(closed).unwrap_or(u32::MAX),
                    successful: u32::try_from(successful).unwrap_or(u32::MAX),
                })
            }
            None => None,
        };
        let since = query.now - chrono::Duration::days(SIMILAR_FAILURE_DAYS);
        let mut sql = QueryBuilder::<Db>::new(
            "SELECT COUNT(*) FROM changes c WHERE c.close_code = 'unsuccessful' AND c.closed_at >= ",
        );
        sql.push_bind(since)
            .push(" AND c.closed_at <= ")
            .push_bind(query.now)
            .push(" AND c.number <> ")
            .push_bind(query.number.to_string())
            .push(" AND (c.template = ")
            .push_bind(query.template.clone());
        if !query.cis.is_empty() {
            sql.push(
                " OR EXISTS (SELECT 1 FROM change_cis x WHERE x.change_id = c.id AND x.ci_name IN (",
            );
            let mut names = sql.separated(", ");
            for ci in &query.cis {
                names.push_bind(ci.clone());
            }
            sql.push("))");
        }
        sql.push(")");
        let failures: i64 = sql.build_query_scalar().fetch_one(&self.pool).await?;
        Ok(RiskHistory {
            group,
            similar_failures: u32::try_from(failures).unwrap_or(u32::MAX),
        })
    }

    async fn conflict_candidates(
        &self,
        number: ChangeNumber,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        scope: Option<&[String]>,
    ) -> Result<Vec<PlannedChange>> {
        let mut conn = self.pool.acquire().await?;
        candidates(&mut conn, number, start, end, scope).await
    }

    async fn submit_assessed(
        &self,
        by: &Caller,
        number: ChangeNumber,
        expected_version: Option<i64>,
        assessed: Assessed,
    ) -> Result<Change> {
        let by = by.clone();
        run_write(self, move |repo| {
            Box::pin(async move {
                repo.write_submit_assessed(&by, number, expected_version, assessed)
                    .await
            })
        })
        .await
    }

    async fn record_reassessment(
        &self,
        by: &Caller,
        number: ChangeNumber,
        assessed: Assessed,
    ) -> Result<Option<Change>> {
        let by = by.clone();
        run_write(self, move |repo| {
            Box::pin(async move { repo.write_record_reassessment(&by, number, assessed).await })
        })
        .await
    }

    async fn record_blackouts(
        &self,
        by: &Caller,
        number: ChangeNumber,
        based_on_version: i64,
        blackouts: Vec<Conflict>,
    ) -> Result<Option<Change>> {
        let by = by.clone();
        run_write(self, move |repo| {
            Box::pin(async move {
                repo.write_record_blackouts(&by, number, based_on_version, blackouts)
                    .await
            })
        })
        .await
    }

    async fn awaiting_approval_cis(&self) -> Result<Vec<(ChangeNumber, Vec<String>)>> {
        let [first, second] = ChangeState::AWAITING_APPROVAL;
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT c.number, x.ci_name FROM changes c JOIN change_cis x ON x.change_id = c.id \
             WHERE c.state IN ($1, $2) ORDER BY c.id, x.ci_name",
        )
        .bind(first.as_str())
        .bind(second.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut changes: Vec<(ChangeNumber, Vec<String>)> = Vec::new();
        for (number, ci) in rows {
            let number: ChangeNumber = parse("changes.number", &number)?;
            match changes.last_mut() {
                Some((last, cis)) if *last == number => cis.push(ci),
                _ => changes.push((number, vec![ci])),
            }
        }
        Ok(changes)
    }

    async fn change_with_risk_history(
        &self,
        number: ChangeNumber,
    ) -> Result<Option<(Change, Vec<RiskAssessment>)>> {
        // One row per assessment (one with a NULL assessment when there is
        // none), each carrying the change: the change is decoded once.
        let rows = sqlx::query(
            "SELECT c.doc, r.doc FROM changes c LEFT JOIN risk_assessments r ON r.change_id = c.id \
             WHERE c.number = $1 ORDER BY r.id",
        )
        .bind(number.to_string())
        .fetch_all(&self.pool)
        .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let Json(change): Json<Change> = first.try_get(0)?;
        let mut history = Vec::with_capacity(rows.len());
        for row in &rows {
            if let Some(Json(assessment)) = row.try_get::<Option<Json<RiskAssessment>>, _>(1)? {
                history.push(assessment);
            }
        }
        Ok(Some((change, history)))
    }

    async fn request_reassessment_of(
        &self,
        numbers: &[ChangeNumber],
        now: DateTime<Utc>,
    ) -> Result<u64> {
        if numbers.is_empty() {
            return Ok(0);
        }
        let numbers = numbers.to_vec();
        run_write(self, move |repo| {
            Box::pin(async move {
                let mut tx = repo.begin_write().await?;
                let requested = request_reassessment(&mut tx, Some(&numbers), now).await?;
                tx.commit().await?;
                Ok(requested)
            })
        })
        .await
    }

    async fn request_reassessment_of_waiting_changes(&self, now: DateTime<Utc>) -> Result<u64> {
        run_write(self, move |repo| {
            Box::pin(async move {
                let mut tx = repo.begin_write().await?;
                let requested = request_reassessment(&mut tx, None, now).await?;
                tx.commit().await?;
                Ok(requested)
            })
        })
        .await
    }
}
