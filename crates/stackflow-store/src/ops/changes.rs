// Changes: creation, lifecycle actions through the domain core, votes,
// the audit trail and the outbox.

async fn load_change(tx: &mut Tx, number: ChangeNumber, lock: bool) -> Result<(i64, Change)> {
    let sql = format!(
        "SELECT id, doc FROM changes WHERE number = $1{}",
        if lock { FOR_UPDATE } else { "" }
    );
    let row: Option<(i64, Json<Change>)> = sqlx::query_as(AssertSqlSafe(sql))
        .bind(number.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|(id, Json(change))| (id, change))
        .ok_or_else(|| StoreError::NotFound(format!("change {number}")))
}

fn check_version(expected: Option<i64>, change: &Change) -> Result<()> {
    match expected {
        Some(expected) if expected != change.version => Err(StoreError::StaleVersion {
            expected,
            current: change.version,
        }),
        _ => Ok(()),
    }
}

/// Referential checks the pure core cannot make: named groups, users and
/// CIs must exist. Every problem is reported at once.
async fn check_references(tx: &mut Tx, change: &Change) -> Result<()> {
    let mut errors = Vec::new();
    if let Some(group) = &change.assignment_group
        && !group_exists(tx, group).await?
    {
        errors.push(FieldError::new(
            "assignment_group",
            format!("no group named `{group}`"),
        ));
    }
    if let Some(person) = &change.assigned_to
        && user_id(tx, person).await?.is_none()
    {
        errors.push(FieldError::new(
            "assigned_to",
            format!("no user named `{person}`"),
        ));
    }
    if !change.affected_cis.is_empty() {
        let mut query = QueryBuilder::<Db>::new("SELECT name FROM cis WHERE name IN (");
        let mut names = query.separated(", ");
        for ci in &change.affected_cis {
            names.push_bind(ci.clone());
        }
        // Shared row locks: a concurrent delete of one of these CIs waits
        // for this change to commit, then sees it and refuses.
        query.push(")").push(FOR_SHARE);
        let known: Vec<String> = query.build_query_scalar().fetch_all(&mut **tx).await?;
        let unknown: Vec<&str> = change
            .affected_cis
            .iter()
            .filter(|ci| !known.contains(ci))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            errors.push(FieldError::new(
                "affected_cis",
                format!("unknown CIs: {}", unknown.join(", ")),
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(StoreError::invalid_fields(errors))
    }
}

/// What `?q=` searches: number and title, lowercased here rather than in
/// SQL because SQLite's `LOWER` only folds ASCII.
fn search_text(change: &Change) -> String {
    format!("{} {}", change.number, change.title).to_lowercase()
}

async fn insert_change(tx: &mut Tx, change: &Change) -> Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO changes (number, change_type, state, title, requested_by, assignment_group, cab_date, version, created_at, updated_at, doc, search_text, \
         planned_start, planned_end, long_window, template, close_code, closed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) RETURNING id",
    )
    .bind(change.number.to_string())
    .bind(change.change_type.as_str())
    .bind(change.state.as_str())
    .bind(change.title.clone())
    .bind(change.requested_by.clone())
    .bind(change.assignment_group.clone())
    .bind(change.cab_date)
    .bind(change.version)
    .bind(change.created_at)
    .bind(change.updated_at)
    .bind(Json(change))
    .bind(search_text(change))
    .bind(change.planned_start)
    .bind(change.planned_end)
    .bind(is_long_window(change))
    .bind(change.template.clone())
    .bind(change.close_code.map(|c| c.as_str()))
    .bind(change.pir.review.as_ref().map(|r| r.reviewed_at))
    .fetch_one(&mut **tx)
    .await?;
    // A new row: nothing to delete first.
    let rows: Vec<(i64, &str)> = change
        .affected_cis
        .iter()
        .map(|ci| (id, ci.as_str()))
        .collect();
    insert_change_cis(tx, &rows).await?;
    Ok(id)
}

/// Windows longer than this are found by conflict detection and the
/// schedule through their own index (`long_window`); shorter ones through a
/// range scan of the windows starting at most this long before.
const LONG_WINDOW_DAYS: i64 = 1;

fn is_long_window(change: &Change) -> bool {
    match (change.planned_start, change.planned_end) {
        (Some(start), Some(end)) => end - start > chrono::Duration::days(LONG_WINDOW_DAYS),
        _ => false,
    }
}

/// Writes the new state of a change, refusing if someone else wrote since
/// `before` was read (the row lock makes that a bug guard on PostgreSQL; on
/// SQLite the immediate transaction does the same).
async fn save_change(tx: &mut Tx, id: i64, before: &Change, after: &Change) -> Result<()> {
    let updated = sqlx::query(
        "UPDATE changes SET state = $1, title = $2, assignment_group = $3, cab_date = $4, version = $5, \
         updated_at = $6, doc = $7, search_text = $10, planned_start = $11, planned_end = $12, long_window = $13, \
         template = $14, close_code = $15, closed_at = $16 WHERE id = $8 AND version = $9",
    )
    .bind(after.state.as_str())
    .bind(after.title.clone())
    .bind(after.assignment_group.clone())
    .bind(after.cab_date)
    .bind(after.version)
    .bind(after.updated_at)
    .bind(Json(after))
    .bind(id)
    .bind(before.version)
    .bind(search_text(after))
    .bind(after.planned_start)
    .bind(after.planned_end)
    .bind(is_long_window(after))
    .bind(after.template.clone())
    .bind(after.close_code.map(|c| c.as_str()))
    .bind(after.pir.review.as_ref().map(|r| r.reviewed_at))
    .execute(&mut **tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(StoreError::StaleVersion {
            expected: before.version,
            current: before.version + 1,
        });
    }
    if after.affected_cis != before.affected_cis {
        write_change_cis(tx, id, after).await?;
    }
    Ok(())
}

async fn write_change_cis(tx: &mut Tx, id: i64, change: &Change) -> Result<()> {
    sqlx::query("DELETE FROM change_cis WHERE change_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    let rows: Vec<(i64, &str)> = change
        .affected_cis
        .iter()
        .map(|ci| (id, ci.as_str()))
        .collect();
    insert_change_cis(tx, &rows).await
}

/// `change_cis` rows per multi-row `INSERT` (2 binds each).
const CHANGE_CIS_PER_STATEMENT: usize = 5_000;

/// Inserts (change id, CI name) rows, many to a statement.
async fn insert_change_cis(tx: &mut Tx, rows: &[(i64, &str)]) -> Result<()> {
    for chunk in rows.chunks(CHANGE_CIS_PER_STATEMENT) {
        let mut query = QueryBuilder::<Db>::new("INSERT INTO change_cis (change_id, ci_name) ");
        query.push_values(chunk, |mut row, (id, ci)| {
            row.push_bind(*id).push_bind((*ci).to_owned());
        });
        query.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// Writes a change's new revision and the audit event `action` recording
/// it (before and after), in the caller's transaction: every change write
/// is audited together with it.
async fn save_change_audited(
    tx: &mut Tx,
    by: &Caller,
    id: i64,
    before: &Change,
    after: &Change,
    action: &str,
) -> Result<()> {
    save_change(tx, id, before, after).await?;
    let key = after.number.to_string();
    audit(
        tx,
        by,
        ("change", &key),
        action,
        Some(json_of(before)?),
        Some(json_of(after)?),
    )
    .await
}

/// Writes an accepted transition: the change, its vote, its audit event and
/// its notifications, all in the caller's transaction, on the writer (see `run_write`).
async fn persist_transition(
    tx: &mut Tx,
    by: &Caller,
    id: i64,
    before: &Change,
    transition: Transition,
) -> Result<Change> {
    let after = transition.change;
    save_change_audited(tx, by, id, before, &after, transition.audit_action).await?;
    if let Some(vote) = &transition.vote {
        insert_vote(tx, id, vote).await?;
    }
    let key = after.number.to_string();
    for note in &transition.notifications {
        enqueue(tx, by.now, &key, note).await?;
    }
    request_timers(tx, before, &after, by.now).await?;
    Ok(after)
}

/// After approvers changed (group membership, a deactivated user), settles
/// every open approval stage that the votes already cast now decide, in the
/// same transaction as the change of approvers (`settings` as that
/// transaction sees them).
async fn reevaluate_open_changes(tx: &mut Tx, by: &Caller, settings: &Settings) -> Result<()> {
    let [first, second] = ChangeState::AWAITING_APPROVAL;
    lock_conflicts(tx).await?;
    let open: Vec<(i64, Json<Change>)> = sqlx::query_as(sql!(
        "SELECT id, doc FROM changes WHERE state IN ($1, $2) ORDER BY id{FOR_UPDATE}"
    ))
    .bind(first.as_str())
    .bind(second.as_str())
    .fetch_all(&mut **tx)
    .await?;
    if open.is_empty() {
        return Ok(());
    }
    for (id, Json(change)) in open {
        let votes = load_votes(tx, id, Some(change.approval.round)).await?;
        let context = Context {
            directory: &settings.directory,
            votes: &votes,
            pending_tasks: 0,
            channel: by.channel,
            now: by.now,
            workflow: None,
            calendar: None,
            cab_schedule: Some(&settings.cab.schedule),
        };
        if let Some(mut transition) = reevaluate(&change, &context) {
            settle_conflicts_on_leaving(tx, by, &change, &mut transition).await?;
            persist_transition(tx, by, id, &change, transition).await?;
        }
    }
    Ok(())
}

/// Asks the domain core to decide `action` on `before`, with the
/// organisation's `settings`, and the votes and tasks read in the caller's
/// transaction. A submission of a normal or emergency change is planned
/// from the workflow that matches it, selected with `risk_level`: the
/// assessment made for this submission, which is attached to the change
/// only after the decision.
async fn decide_in(
    tx: &mut Tx,
    by: &Caller,
    (id, before): (i64, &Change),
    settings: &Settings,
    action: Action,
    risk_level: Option<RiskLevel>,
) -> Result<Transition> {
    // Each read is a round trip on the writer: only what the action reads.
    let votes = if action.reads_votes() {
        load_votes(tx, id, Some(before.approval.round)).await?
    } else {
        Vec::new()
    };
    let pending_tasks = if action.reads_pending_tasks() {
        let tasks = load_tasks(tx, id).await?;
        tasks.iter().filter(|t| t.state.is_pending()).count()
    } else {
        0
    };
    let workflow = match &action {
        Action::Submit if before.change_type != ChangeType::Standard => {
            select_workflow_in(tx, settings, before, risk_level).await?
        }
        _ => None,
    };
    // Only normal changes meet the CAB, and only these actions can place a
    // change on a meeting (by taking it into `authorize`) or decide it there.
    let meets_cab = before.change_type == ChangeType::Normal
        && matches!(
            action,
            Action::Submit | Action::Vote { .. } | Action::CabOutcome { .. }
        );
    // A submission opens an approval round, whose SLA counts business time
    // in the organisation's calendar; the CAB meets in its time zone.
    let submits = matches!(action, Action::Submit);
    let context = Context {
        directory: &settings.directory,
        votes: &votes,
        pending_tasks,
        channel: by.channel,
        now: by.now,
        workflow: workflow.as_ref(),
        calendar: submits.then_some(&settings.calendar),
        cab_schedule: meets_cab.then_some(&settings.cab.schedule),
    };
    Ok(decide(before, action, &by.actor, &context)?)
}

type VoteRow = (i64, i64, String, String, String, String, DateTime<Utc>);

fn vote_of((round, stage, voter, decision, notes, channel, at): VoteRow) -> Result<Vote> {
    Ok(Vote {
        round: u32::try_from(round).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        stage: usize::try_from(stage).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        voter,
        decision: parse("votes.decision", &decision)?,
        notes,
        channel: parse("votes.channel", &channel)?,
        at,
    })
}

async fn load_votes(tx: &mut Tx, change_id: i64, round: Option<u32>) -> Result<Vec<Vote>> {
    let rows: Vec<VoteRow> = sqlx::query_as(
        "SELECT round, stage, voter, decision, notes, channel, created_at FROM votes \
         WHERE change_id = $1 AND ($2 IS NULL OR round = $2) ORDER BY id",
    )
    .bind(change_id)
    .bind(round.map(i64::from))
    .fetch_all(&mut **tx)
    .await?;
    rows.into_iter().map(vote_of).collect()
}

async fn insert_vote(tx: &mut Tx, change_id: i64, vote: &Vote) -> Result<()> {
    sqlx::query(
        "INSERT INTO votes (change_id, round, stage, voter, decision, notes, channel, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(change_id)
    .bind(i64::from(vote.round))
    .bind(vote.stage as i64)
    .bind(vote.voter.clone())
    .bind(vote.decision.as_str())
    .bind(vote.notes.clone())
    .bind(vote.channel.as_str())
    .bind(vote.at)
    .execute(&mut **tx)
    .await
    .map_err(|e| {
        map_unique(e, || {
            format!("{} has already voted in this stage", vote.voter)
        })
    })?;
    Ok(())
}

type AuditRow = (
    i64,
    String,
    String,
    String,
    String,
    String,
    Option<Json<serde_json::Value>>,
    Option<Json<serde_json::Value>>,
    DateTime<Utc>,
);

fn audit_of(row: AuditRow) -> Result<(i64, AuditEvent)> {
    let (id, entity_type, entity_key, actor, action, channel, before, after, at) = row;
    Ok((
        id,
        AuditEvent {
            id,
            entity_type,
            entity_key,
            actor,
            action,
            channel: parse("audit_events.channel", &channel)?,
            before: before.map(|Json(v)| v),
            after: after.map(|Json(v)| v),
            at,
        },
    ))
}

type OutboxRow = (
    i64,
    String,
    String,
    String,
    String,
    Json<Vec<String>>,
    Json<serde_json::Value>,
    DateTime<Utc>,
    i64,
    Option<DateTime<Utc>>,
);

impl Repo {
    /// `create_change`'s transaction, on the writer (see `run_write`).
    async fn write_new_change(&self, by: &Caller, draft: ChangeDraft) -> Result<Change> {
        let mut tx = self.begin_write().await?;
        let template = match &draft.template {
            Some(name) => {
                sqlx::query_scalar::<_, Json<Template>>("SELECT doc FROM templates WHERE name = $1")
                    .bind(name.clone())
                    .fetch_optional(&mut *tx)
                    .await?
                    .map(|Json(t)| t)
            }
            None => None,
        };
        // Checked before a number is taken: the sequence row stays locked
        // from the update until commit, and every other create waits for it,
        // so it is taken as late as possible. A refused draft takes no
        // number, so numbers have no gaps from bad input.
        let mut change = draft.into_change(
            ChangeNumber::new(0),
            &by.actor.username,
            template.as_ref(),
            by.now,
        )?;
        check_references(&mut tx, &change).await?;
        let sequence: i64 = sqlx::query_scalar(
            "UPDATE sequences SET value = value + 1 WHERE name = 'change' RETURNING value",
        )
        .fetch_one(&mut *tx)
        .await?;
        let number = ChangeNumber::new(
            u64::try_from(sequence).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        );
        change.number = number;
        insert_change(&mut tx, &change).await?;
        audit(
            &mut tx,
            by,
            ("change", &number.to_string()),
            "change.created",
            None,
            Some(json_of(&change)?),
        )
        .await?;
        tx.commit().await?;
        Ok(change)
    }

    /// `act_on_change`'s transaction, on the writer (see `run_write`).
    async fn write_act_on_change(
        &self,
        by: &Caller,
        number: ChangeNumber,
        expected_version: Option<i64>,
        action: Action,
    ) -> Result<Change> {
        let mut tx = self.begin_write().await?;
        if may_leave_active(&action) {
            lock_conflicts(&mut tx).await?;
        }
        let (id, before) = load_change(&mut tx, number, true).await?;
        check_version(expected_version, &before)?;
        let is_edit = matches!(action, Action::Edit(_));
        let is_submit = matches!(action, Action::Submit);
        let settings = self.settings_in(&mut tx).await?;
        let mut transition = decide_in(&mut tx, by, (id, &before), &settings, action, None).await?;
        if is_submit {
            return Err(Refusal::conflict(
                "risk_not_assessed",
                format!("{number} is submitted with its risk assessment and conflicts"),
            )
            .into());
        }

        if is_edit {
            check_references(&mut tx, &transition.change).await?;
        }
        settle_conflicts_on_leaving(&mut tx, by, &before, &mut transition).await?;
        let after = persist_transition(&mut tx, by, id, &before, transition).await?;
        tx.commit().await?;
        Ok(after)
    }
}

#[async_trait]
impl ChangeStore for Repo {
    async fn create_change(&self, by: &Caller, draft: ChangeDraft) -> Result<Change> {
        require(&by.actor, Permission::CreateChange)?;
        let by = by.clone();
        run_write(self, move |repo| {
            Box::pin(async move { repo.write_new_change(&by, draft).await })
        })
        .await
    }

    async fn get_change(&self, number: ChangeNumber) -> Result<Option<Change>> {
        let row: Option<Json<Change>> =
            sqlx::query_scalar("SELECT doc FROM changes WHERE number = $1")
                .bind(number.to_string())
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|Json(c)| c))
    }

    async fn list_changes(&self, filter: &ChangeFilter, page: PageRequest) -> Result<Page<Change>> {
        let mut query = QueryBuilder::<Db>::new("SELECT c.id, c.doc FROM changes c WHERE 1 = 1");
        if let Some(state) = filter.state {
            query.push(" AND c.state = ").push_bind(state.as_str());
        }
        if let Some(kind) = filter.change_type {
            query.push(" AND c.change_type = ").push_bind(kind.as_str());
        }
        if let Some(day) = filter.cab_date {
            let start = day.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
            let end = start.map(|s| s + chrono::Duration::days(1));
            query
                .push(" AND c.cab_date >= ")
                .push_bind(start)
                .push(" AND c.cab_date < ")
                .push_bind(end);
        }
        if let Some(person) = &filter.requested_by {
            query
                .push(" AND c.requested_by = ")
                .push_bind(person.clone());
        }
        if let Some(group) = &filter.assignment_group {
            query
                .push(" AND c.assignment_group = ")
                .push_bind(group.clone());
        }
        if let Some(ci) = &filter.ci {
            query
                .push(" AND EXISTS (SELECT 1 FROM change_cis x WHERE x.change_id = c.id AND x.ci_name = ")
                .push_bind(ci.clone())
                .push(")");
        }
        if let Some(text) = &filter.q {
            let pattern = like_pattern(text);
            query
                .push(" AND c.search_text LIKE ")
                .push_bind(pattern)
                .push(" ESCAPE '\\'");
        }
        if let Some(after) = page.after {
            query.push(" AND c.id < ").push_bind(after);
        }
        query
            .push(" ORDER BY c.id DESC LIMIT ")
            .push_bind(i64::from(page.limit) + 1);
        let rows: Vec<(i64, Json<Change>)> = query.build_query_as().fetch_all(&self.pool).await?;
        Ok(page_of(
            rows.into_iter().map(|(id, Json(c))| (id, c)).collect(),
            page.limit,
        ))
    }

    async fn act_on_change(
        &self,
        by: &Caller,
        number: ChangeNumber,
        expected_version: Option<i64>,
        action: Action,
    ) -> Result<Change> {
        let by = by.clone();
        run_write(self, move |repo| {
            Box::pin(async move {
                repo.write_act_on_change(&by, number, expected_version, action)
                    .await
            })
        })
        .await
    }

    async fn list_votes(&self, number: ChangeNumber) -> Result<Vec<Vote>> {
        let mut tx = self.pool.begin().await?;
        let (id, _) = load_change(&mut tx, number, false).await?;
        let votes = load_votes(&mut tx, id, None).await?;
        tx.commit().await?;
        Ok(votes)
    }

    async fn audit_trail(
        &self,
        entity_type: &str,
        entity_key: &str,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>> {
        let rows: Vec<AuditRow> = sqlx::query_as(
            "SELECT id, entity_type, entity_key, actor, action, channel, before_doc, after_doc, created_at \
             FROM audit_events WHERE entity_type = $1 AND entity_key = $2 AND id > $3 ORDER BY id LIMIT $4",
        )
        .bind(entity_type.to_owned())
        .bind(entity_key.to_owned())
        .bind(page.after.unwrap_or(0))
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        Ok(page_of(
            rows.into_iter().map(audit_of).collect::<Result<_>>()?,
            page.limit,
        ))
    }

    async fn pending_outbox(&self, limit: u32) -> Result<Vec<OutboxItem>> {
        let rows: Vec<OutboxRow> = sqlx::query_as(
            "SELECT id, delivery_id, event_type, topic, entity_key, recipients, payload, created_at, attempts, delivered_at \
             FROM outbox WHERE delivered_at IS NULL ORDER BY id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(
                    id,
                    delivery_id,
                    event_type,
                    topic,
                    entity_key,
                    Json(recipients),
                    Json(payload),
                    created_at,
                    attempts,
                    delivered_at,
                )| {
                    OutboxItem {
                        id,
                        delivery_id,
                        event_type,
                        topic,
                        entity_key,
                        recipients,
                        payload,
                        created_at,
                        attempts,
                        delivered_at,
                    }
                },
            )
            .collect())
    }
}
