// The change schedule: every change whose planned window overlaps a range,
// in the states that put it on the calendar.

/// The states on the schedule as SQL literals: the active ones, and
/// `review` and `closed` so the calendar shows what happened too. `new`
/// (not yet asked for) and `canceled` (never happening) stay off.
const SCHEDULE_STATES_SQL: &str =
    "state IN ('assess', 'authorize', 'scheduled', 'implement', 'review', 'closed')";

type ScheduleRow = (DateTime<Utc>, String, Json<Change>);

#[async_trait]
impl ScheduleStore for Repo {
    async fn scheduled_changes(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        assignment_group: Option<&str>,
        limit: u32,
    ) -> Result<ScheduledChanges> {
        // A window of at most LONG_WINDOW_DAYS that overlaps the range
        // starts after `from - LONG_WINDOW_DAYS`: a bounded range scan of
        // `changes_planned_window`. Longer windows starting before that
        // come from `changes_long_planned_window_end` (migration 0015), a
        // range scan of those ending after `from`: the long windows still
        // running then or later, however long the history. The two
        // branches' start ranges are disjoint, so no change comes twice.
        let short_from = from - chrono::Duration::days(LONG_WINDOW_DAYS);
        // One more than asked for tells whether the answer is truncated.
        let fetch = i64::from(limit) + 1;
        let rows: Vec<ScheduleRow> = sqlx::query_as(sql!(
            "SELECT planned_start, number, doc FROM changes{SCHEDULE_WINDOW_INDEX} \
             WHERE planned_start >= $1 AND planned_start < $2 AND planned_end > $3 AND {SCHEDULE_STATES_SQL} \
             AND ($5 IS NULL OR assignment_group = $5) \
             UNION ALL \
             SELECT planned_start, number, doc FROM changes{SCHEDULE_LONG_WINDOW_INDEX} \
             WHERE long_window AND planned_start < $1 AND planned_end > $3 AND {SCHEDULE_STATES_SQL} \
             AND ($5 IS NULL OR assignment_group = $5) \
             ORDER BY planned_start, number LIMIT $4"
        ))
        .bind(short_from)
        .bind(to)
        .bind(from)
        .bind(fetch)
        .bind(assignment_group.map(str::to_owned))
        .fetch_all(&self.pool)
        .await?;
        let truncated = rows.len() > limit as usize;
        let changes = rows
            .into_iter()
            .take(limit as usize)
            .map(|(_, _, Json(change))| change)
            .collect();
        Ok(ScheduledChanges { changes, truncated })
    }
}
