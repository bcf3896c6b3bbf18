// The CAB: the meeting schedule document, agenda candidates, and the
// outcomes meetings record. The core decides (`CabSchedule::validate`,
// `lifecycle::decide` with `Action::CabOutcome`); here each write is one
// transaction with its audit events.

/// The audit key of the one CAB schedule.
const CAB_SCHEDULE_KEY: &str = "schedule";

/// The default schedule is validated as of this instant (2026-01-01T00:00Z,
/// its first meeting's day), so it is valid whatever the clock says.
const DEFAULT_SCHEDULE_SAVED_AT: i64 = 1_767_225_600;

/// The schedule in force, read in the caller's transaction. A stored
/// document is validated as of when it was saved: "a meeting within the
/// coming year" held then, and must not start failing as time passes.
async fn read_cab_schedule(tx: &mut Tx) -> Result<CabScheduleState> {
    let calendar = calendar_in(tx).await?;
    cab_schedule_with(tx, &calendar).await
}

/// The schedule in force, for a caller that has read the calendar already.
async fn cab_schedule_with(
    tx: &mut Transaction<'_, Db>,
    calendar: &BusinessCalendar,
) -> Result<CabScheduleState> {
    let zone = calendar.time_zone;
    let row: Option<(Json<CabSchedule>, DateTime<Utc>)> =
        sqlx::query_as("SELECT doc, updated_at FROM cab_schedule WHERE id = 1")
            .fetch_optional(&mut **tx)
            .await?;
    let (document, saved_at, is_default) = match row {
        Some((Json(document), saved_at)) => (document, saved_at, false),
        None => (
            default_schedule(zone),
            DateTime::from_timestamp(DEFAULT_SCHEDULE_SAVED_AT, 0).unwrap_or_default(),
            true,
        ),
    };
    let schedule = document.validate(zone, saved_at).map_err(|refusal| {
        StoreError::Corrupt(format!(
            "the CAB schedule does not validate in {zone}: {refusal:?}"
        ))
    })?;
    Ok(CabScheduleState {
        document,
        schedule,
        is_default,
    })
}

type OutcomeRow = (i64, String, String, String, DateTime<Utc>);

#[async_trait]
impl CabStore for Repo {
    async fn cab_schedule(&self) -> Result<CabScheduleState> {
        Ok(self.settings().await?.cab.clone())
    }

    async fn put_cab_schedule(
        &self,
        by: &Caller,
        document: CabSchedule,
    ) -> Result<CabScheduleState> {
        require(&by.actor, Permission::ManageSchedule)?;
        let mut tx = self.begin_settings_write().await?;
        let before: Option<Json<CabSchedule>> = sqlx::query_scalar(sql!(
            "SELECT doc FROM cab_schedule WHERE id = 1{FOR_UPDATE}"
        ))
        .fetch_optional(&mut *tx)
        .await?;
        let zone = calendar_in(&mut tx).await?.time_zone;
        let schedule = document.validate(zone, by.now)?;
        let before = before.map_or_else(|| default_schedule(zone), |Json(d)| d);
        sqlx::query(
            "INSERT INTO cab_schedule (id, doc, updated_by, updated_at) VALUES (1, $1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, updated_by = excluded.updated_by, \
             updated_at = excluded.updated_at",
        )
        .bind(Json(&document))
        .bind(by.actor.username.clone())
        .bind(by.now)
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            by,
            ("cab", CAB_SCHEDULE_KEY),
            "cab.schedule_updated",
            Some(json_of(&before)?),
            Some(json_of(&document)?),
        )
        .await?;
        // The agenda mail-out follows the new recurrence from its next
        // meeting, set with the schedule that implies it.
        if let Some(next) = stackflow_core::cab::next_to_mail(&schedule, by.now) {
            request_job_in(&mut tx, &crate::agenda_mail_job(&next), by.now).await?;
        }
        tx.commit().await?;
        Ok(CabScheduleState {
            document,
            schedule,
            is_default: false,
        })
    }

    async fn cab_agenda_entries(&self, meeting: &Meeting) -> Result<Vec<AgendaEntry>> {
        let mut tx = self.pool.begin().await?;
        // A range of one second rather than equality: the instant is
        // compared as the backend stores it, whatever its precision.
        let rows: Vec<(i64, Json<Change>)> = sqlx::query_as(
            "SELECT id, doc FROM changes WHERE (change_type = 'normal' AND state = 'authorize' \
             AND cab_date >= $1 AND cab_date < $2) \
             OR id IN (SELECT change_id FROM cab_outcomes WHERE meeting_id = $3) ORDER BY id",
        )
        .bind(meeting.start)
        .bind(meeting.start + chrono::Duration::seconds(1))
        .bind(meeting.id.clone())
        .fetch_all(&mut *tx)
        .await?;
        let outcomes: Vec<OutcomeRow> = sqlx::query_as(
            "SELECT change_id, outcome, notes, recorded_by, recorded_at FROM cab_outcomes \
             WHERE meeting_id = $1 ORDER BY id",
        )
        .bind(meeting.id.clone())
        .fetch_all(&mut *tx)
        .await?;
        // Later rows replace earlier ones: the latest outcome counts.
        let mut recorded = std::collections::HashMap::new();
        for (change_id, outcome, notes, recorded_by, recorded_at) in outcomes {
            let outcome: CabOutcome = serde_json::from_value(serde_json::Value::String(outcome))?;
            recorded.insert(
                change_id,
                RecordedOutcome {
                    outcome,
                    notes,
                    recorded_by,
                    recorded_at,
                },
            );
        }
        let mut entries = Vec::with_capacity(rows.len());
        for (id, Json(change)) in rows {
            let votes = load_votes(&mut tx, id, Some(change.approval.round)).await?;
            entries.push(AgendaEntry {
                change,
                votes,
                recorded: recorded.remove(&id),
            });
        }
        tx.commit().await?;
        Ok(entries)
    }

    async fn cab_placements(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, ChangeNumber)>> {
        let mut tx = self.pool.begin().await?;
        let mut rows: Vec<(DateTime<Utc>, String)> = sqlx::query_as(
            "SELECT cab_date, number FROM changes WHERE change_type = 'normal' \
             AND state = 'authorize' AND cab_date >= $1 AND cab_date < $2",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&mut *tx)
        .await?;
        let decided: Vec<(DateTime<Utc>, String)> = sqlx::query_as(
            "SELECT o.meeting_start, c.number FROM cab_outcomes o JOIN changes c ON c.id = o.change_id \
             WHERE o.meeting_start >= $1 AND o.meeting_start < $2",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.extend(decided);
        rows.into_iter()
            .map(|(start, number)| Ok((start, parse("changes.number", &number)?)))
            .collect()
    }

    async fn record_cab_outcomes(
        &self,
        by: &Caller,
        meeting: &Meeting,
        items: Vec<OutcomeItem>,
    ) -> Result<Vec<Change>> {
        let mut tx = self.begin_write().await?;
        // A rejection returns the change to `new`, settling its conflicts.
        lock_conflicts(&mut tx).await?;
        let settings = self.settings_in(&mut tx).await?;
        let mut decided = Vec::with_capacity(items.len());
        for item in items {
            let (id, before) = load_change(&mut tx, item.change, true).await?;
            let action = Action::CabOutcome {
                meeting: meeting.clone(),
                outcome: item.outcome,
                notes: item.notes.clone(),
            };
            let mut transition =
                decide_in(&mut tx, by, (id, &before), &settings, action, None).await?;
            settle_conflicts_on_leaving(&mut tx, by, &before, &mut transition).await?;
            let after = persist_transition(&mut tx, by, id, &before, transition).await?;
            sqlx::query(
                "INSERT INTO cab_outcomes (meeting_id, meeting_start, change_id, outcome, notes, recorded_by, recorded_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(meeting.id.clone())
            .bind(meeting.start)
            .bind(id)
            .bind(item.outcome.as_str())
            .bind(item.notes)
            .bind(by.actor.username.clone())
            .bind(by.now)
            .execute(&mut *tx)
            .await?;
            decided.push(after);
        }
        tx.commit().await?;
        Ok(decided)
    }
}
