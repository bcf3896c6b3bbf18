// Durable background work: the job table of migration 0007. Jobs are
// requested inside business transactions (`request_job_in`), claimed with
// a lease, and deleted when done; see `docs/jobs.md`.

/// The columns a job is read back with, in `JobRow` order.
const JOB_COLUMNS: &str =
    "id, kind, job_key, payload, run_at, generation, attempts, last_error, locked_by, locked_until";

type JobRow = (
    i64,
    String,
    String,
    Json<serde_json::Value>,
    DateTime<Utc>,
    i64,
    i32,
    Option<String>,
    Option<String>,
    Option<DateTime<Utc>>,
);

fn job_of(row: JobRow) -> Job {
    let (
        id,
        kind,
        key,
        Json(payload),
        run_at,
        generation,
        attempts,
        last_error,
        locked_by,
        locked_until,
    ) = row;
    Job {
        id,
        kind: kind.parse::<JobKind>().map_err(|_| kind),
        key,
        payload,
        run_at,
        generation,
        attempts,
        last_error,
        locked_by,
        locked_until,
    }
}

/// How a request meets a pending job of the same kind and key: the pending
/// job absorbs it, runs no later than either asked, with the newer payload,
/// and its generation moves on so that a worker running it right now runs
/// it once more rather than deleting it.
const ABSORBED_BY_PENDING_JOB: &str = "ON CONFLICT (kind, job_key) DO UPDATE SET \
     run_at = CASE WHEN excluded.run_at < jobs.run_at THEN excluded.run_at ELSE jobs.run_at END, \
     payload = excluded.payload, generation = jobs.generation + 1";

/// Requests a job inside the caller's transaction, so it exists exactly
/// when the write that implies it does (see [`ABSORBED_BY_PENDING_JOB`]).
async fn request_job_in(tx: &mut Tx, job: &NewJob, now: DateTime<Utc>) -> Result<()> {
    sqlx::query(sql!(
        "INSERT INTO jobs (kind, job_key, payload, run_at, created_at) VALUES ($1, $2, $3, $4, $5) \
         {ABSORBED_BY_PENDING_JOB}"
    ))
    .bind(job.kind.as_str())
    .bind(job.key.clone())
    .bind(Json(&job.payload))
    .bind(job.run_at)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Requests a `risk.reassess` job for every change awaiting approval, or
/// for those `among` the numbers given, in the caller's transaction;
/// returns how many were asked. One statement however many changes.
///
/// Every waiting change: a write that any score may depend on (the
/// business calendar, a maintenance or blackout window) requests them with
/// itself, so whether it came through the API or the CLI, and even if the
/// process stops right after it commits, the job worker reassesses each
/// change (and retries each one on its own). Some: the changes a CMDB
/// write affects, which may be thousands under a shared service.
async fn request_reassessment(
    tx: &mut Tx,
    among: Option<&[ChangeNumber]>,
    now: DateTime<Utc>,
) -> Result<u64> {
    let [first, second] = ChangeState::AWAITING_APPROVAL;
    // The numbers, when given, are `$1` (as `IN_JSON_NAMES` names them);
    // the other parameters follow.
    let (filter, shift) = match among {
        Some(_) => (format!("number {IN_JSON_NAMES} AND "), 1),
        None => (String::new(), 0),
    };
    let at = |n: usize| format!("${}", n + shift);
    let mut query = sqlx::query(sql!(
        "INSERT INTO jobs (kind, job_key, payload, run_at, created_at) \
         SELECT {}, number, {}, {}, {} FROM changes WHERE {filter}state IN ({}, {}) \
         {ABSORBED_BY_PENDING_JOB}",
        at(1),
        at(2),
        at(3),
        at(3),
        at(4),
        at(5)
    ));
    if let Some(numbers) = among {
        let numbers: Vec<String> = numbers.iter().map(ToString::to_string).collect();
        query = query.bind(Json(numbers));
    }
    let requested = query
        .bind(JobKind::RiskReassess.as_str())
        .bind(Json(serde_json::Value::Null))
        .bind(now)
        .bind(first.as_str())
        .bind(second.as_str())
        .execute(&mut **tx)
        .await?;
    Ok(requested.rows_affected())
}

/// Asks for the blackout records of every approved change (`scheduled`,
/// `implement`) planned to end after `from` to be worked out again: a
/// `risk.reassess` job each, which for such a change records its blackout
/// conflicts without scoring it again. Asked when a blackout window from
/// `from` on is created or deleted.
async fn request_blackout_checks(tx: &mut Tx, from: DateTime<Utc>, now: DateTime<Utc>) -> Result<u64> {
    let [first, second] = stackflow_core::conflict::APPROVED_ACTIVE_STATES;
    let requested = sqlx::query(sql!(
        "INSERT INTO jobs (kind, job_key, payload, run_at, created_at) \
         SELECT $1, number, $2, $3, $3 FROM changes \
         WHERE state IN ($4, $5) AND planned_end > $6 \
         {ABSORBED_BY_PENDING_JOB}"
    ))
    .bind(JobKind::RiskReassess.as_str())
    .bind(Json(serde_json::Value::Null))
    .bind(now)
    .bind(first.as_str())
    .bind(second.as_str())
    .bind(from)
    .execute(&mut **tx)
    .await?;
    Ok(requested.rows_affected())
}

/// The approval SLA timer of a change's open round, if one is open.
fn approval_timer(change: &Change) -> Option<NewJob> {
    let approval = &change.approval;
    let due = approval.due_at?;
    let number = change.number.to_string();
    (approval.status == stackflow_core::ApprovalStatus::Requested).then(|| NewJob {
        kind: JobKind::ApprovalSla,
        key: format!("{number}/{}", approval.round),
        payload: serde_json::json!({"change": number, "round": approval.round}),
        run_at: due,
    })
}

/// The overdue-review timer of a change whose review is due and not
/// recorded.
fn review_timer(change: &Change) -> Option<NewJob> {
    let due = change.pir.due_at?;
    let number = change.number.to_string();
    change.pir.review.is_none().then(|| NewJob {
        kind: JobKind::ReviewOverdue,
        key: number.clone(),
        payload: serde_json::json!({"change": number}),
        run_at: due,
    })
}

/// Sets the timers a transition implies, in its transaction: the approval
/// SLA of a round that just opened, and the review's due time when it was
/// set or moved. Timers of rounds or due times that no longer apply stay
/// and find nothing to do when they fire.
async fn request_timers(
    tx: &mut Tx,
    before: &Change,
    after: &Change,
    now: DateTime<Utc>,
) -> Result<()> {
    if after.approval.round != before.approval.round
        && let Some(job) = approval_timer(after)
    {
        request_job_in(tx, &job, now).await?;
    }
    if after.pir.due_at != before.pir.due_at
        && let Some(job) = review_timer(after)
    {
        request_job_in(tx, &job, now).await?;
    }
    Ok(())
}

/// Once, when the job table is created on a database that already holds
/// changes: the timers of the rounds already open and the reviews already
/// due, which no transition will set any more.
async fn backfill_timers(tx: &mut Tx, now: DateTime<Utc>) -> Result<usize> {
    let open: Vec<Json<Change>> =
        sqlx::query_scalar("SELECT doc FROM changes WHERE state IN ($1, $2, $3, $4, $5)")
            .bind(ChangeState::Assess.as_str())
            .bind(ChangeState::Authorize.as_str())
            .bind(ChangeState::Scheduled.as_str())
            .bind(ChangeState::Implement.as_str())
            .bind(ChangeState::Review.as_str())
            .fetch_all(&mut **tx)
            .await?;
    let mut set = 0;
    for Json(change) in open {
        for job in [approval_timer(&change), review_timer(&change)]
            .into_iter()
            .flatten()
        {
            request_job_in(tx, &job, now).await?;
            set += 1;
        }
    }
    Ok(set)
}

/// Who hears of escalations: the members of every `change_management`
/// group and every active user with the `change_manager` role.
async fn change_managers(tx: &mut Tx) -> Result<Vec<String>> {
    let mut people: Vec<String> = sqlx::query_scalar(
        "SELECT u.username FROM users u WHERE u.active = $1 AND u.role = $2 \
         UNION SELECT u.username FROM users u JOIN group_members m ON m.user_id = u.id \
         JOIN groups g ON g.id = m.group_id WHERE u.active = $1 AND g.kind = $3",
    )
    .bind(true)
    .bind(Role::ChangeManager.as_str())
    .bind(stackflow_core::GroupKind::ChangeManagement.as_str())
    .fetch_all(&mut **tx)
    .await?;
    people.sort();
    people.dedup();
    Ok(people)
}

/// Deletes a claimed job in the caller's transaction if `worker` still
/// holds the generation it claimed; `false` (nothing deleted) otherwise.
async fn take_held_job(tx: &mut Tx, job: &Job, worker: &str) -> Result<bool> {
    let deleted =
        sqlx::query("DELETE FROM jobs WHERE id = $1 AND generation = $2 AND locked_by = $3")
            .bind(job.id)
            .bind(job.generation)
            .bind(worker.to_owned())
            .execute(&mut **tx)
            .await?
            .rows_affected();
    Ok(deleted > 0)
}

/// The change a timer is about, from its payload.
fn timer_change(job: &Job) -> Result<(ChangeNumber, Option<u32>)> {
    let number = job.payload["change"]
        .as_str()
        .ok_or_else(|| StoreError::Corrupt(format!("job {}: no change in the payload", job.id)))?;
    let round = job.payload["round"]
        .as_u64()
        .and_then(|r| u32::try_from(r).ok());
    Ok((parse("jobs.payload.change", number)?, round))
}

impl Repo {
    /// `claim_jobs`'s transaction, on the writer (see `run_write`).
    async fn write_claim_jobs(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: u32,
    ) -> Result<Vec<Job>> {
        let mut tx = self.begin_write().await?;
        // PostgreSQL: rows another worker is claiming are skipped, not
        // waited for, and never handed out twice. SQLite: claims run one at
        // a time on the single writer.
        let rows: Vec<JobRow> = sqlx::query_as(sql!(
            "UPDATE jobs SET locked_by = $1, locked_until = $2, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM jobs WHERE run_at <= $3 \
             AND (locked_until IS NULL OR locked_until <= $3) \
             ORDER BY run_at, id LIMIT $4{SKIP_LOCKED}) \
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(worker.to_owned())
        .bind(now + lease)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut jobs: Vec<Job> = rows.into_iter().map(job_of).collect();
        jobs.sort_by_key(|job| (job.run_at, job.id));
        Ok(jobs)
    }

    /// `complete_job`'s transaction, on the writer (see `run_write`).
    async fn write_complete_job(&self, job: &Job, worker: &str) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let held = take_held_job(&mut tx, job, worker).await?
            || sqlx::query(
                "UPDATE jobs SET locked_by = NULL, locked_until = NULL, last_error = NULL \
                 WHERE id = $1 AND locked_by = $2",
            )
            .bind(job.id)
            .bind(worker.to_owned())
            .execute(&mut *tx)
            .await?
            .rows_affected()
                > 0;
        tx.commit().await?;
        Ok(held)
    }

    /// `fail_job`'s transaction, on the writer (see `run_write`).
    async fn write_fail_job(
        &self,
        job: &Job,
        worker: &str,
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE jobs SET locked_by = NULL, locked_until = NULL, last_error = $3, \
             run_at = CASE WHEN generation = $4 THEN $5 ELSE run_at END \
             WHERE id = $1 AND locked_by = $2",
        )
        .bind(job.id)
        .bind(worker.to_owned())
        .bind(error.to_owned())
        .bind(job.generation)
        .bind(retry_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// `finish_job_with`'s transaction, on the writer (see `run_write`).
    async fn write_finish_job_with(
        &self,
        job: &Job,
        worker: &str,
        now: DateTime<Utc>,
        entity_key: &str,
        notifications: &[Notification],
        follow_ups: &[NewJob],
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        if !take_held_job(&mut tx, job, worker).await? {
            return Ok(false);
        }
        for note in notifications {
            enqueue(&mut tx, now, entity_key, note).await?;
        }
        for next in follow_ups {
            request_job_in(&mut tx, next, now).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// `fire_timer`'s transaction, on the writer (see `run_write`).
    async fn write_fire_timer(
        &self,
        job: &Job,
        worker: &str,
        now: DateTime<Utc>,
    ) -> Result<TimerOutcome> {
        let (number, round) = timer_change(job)?;
        let mut tx = self.begin_write().await?;
        // The change first, as every writer locks it before it writes a
        // job (`persist_transition`), so the two never wait for each other.
        let found = match load_change(&mut tx, number, true).await {
            Ok(found) => Some(found),
            Err(StoreError::NotFound(_)) => None,
            Err(e) => return Err(e),
        };
        // Then, in the same transaction as the effect: only the worker
        // holding this generation of the timer acts, and the timer leaves
        // with the escalation, so no crash or second worker repeats it.
        if !take_held_job(&mut tx, job, worker).await? {
            return Ok(TimerOutcome::NotHeld);
        }
        let Some((id, before)) = found else {
            tx.commit().await?;
            return Ok(TimerOutcome::Fired(None));
        };
        let managers = change_managers(&mut tx).await?;
        let transition = match job.kind {
            Ok(JobKind::ApprovalSla) => round.and_then(|round| {
                stackflow_core::escalation::breach_approval_sla(&before, round, managers, now)
            }),
            Ok(JobKind::ReviewOverdue) => match before.pir.due_at {
                // The due time moved later after this timer was set: set
                // it again for the new time.
                Some(due) if due > now && before.pir.review.is_none() => {
                    let again = NewJob {
                        kind: JobKind::ReviewOverdue,
                        key: job.key.clone(),
                        payload: job.payload.clone(),
                        run_at: due,
                    };
                    request_job_in(&mut tx, &again, now).await?;
                    None
                }
                _ => stackflow_core::escalation::escalate_overdue_review(&before, managers, now),
            },
            _ => {
                return Err(StoreError::Corrupt(format!(
                    "job {} is not a timer",
                    job.id
                )));
            }
        };
        let escalated = match transition {
            Some(transition) => {
                let by = Caller::new(
                    Actor::new("stackflow", Role::Admin),
                    stackflow_core::Channel::System,
                    now,
                );
                Some(persist_transition(&mut tx, &by, id, &before, transition).await?)
            }
            None => None,
        };
        tx.commit().await?;
        Ok(TimerOutcome::Fired(escalated.map(Box::new)))
    }
}

#[async_trait]
impl JobStore for Repo {
    async fn request_job(&self, job: &NewJob, now: DateTime<Utc>) -> Result<()> {
        let mut tx = self.begin_write().await?;
        request_job_in(&mut tx, job, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn claim_jobs(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: u32,
    ) -> Result<Vec<Job>> {
        let worker = worker.to_owned();
        run_write(self, move |repo| {
            Box::pin(async move { repo.write_claim_jobs(&worker, now, lease, limit).await })
        })
        .await
    }

    async fn complete_job(&self, job: &Job, worker: &str) -> Result<bool> {
        let job = job.clone();
        let worker = worker.to_owned();
        run_write(self, move |repo| {
            Box::pin(async move { repo.write_complete_job(&job, &worker).await })
        })
        .await
    }

    async fn fail_job(
        &self,
        job: &Job,
        worker: &str,
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> Result<()> {
        let job = job.clone();
        let worker = worker.to_owned();
        let error = error.to_owned();
        run_write(self, move |repo| {
            Box::pin(async move { repo.write_fail_job(&job, &worker, &error, retry_at).await })
        })
        .await
    }

    async fn pending_jobs(&self) -> Result<Vec<Job>> {
        let rows: Vec<JobRow> =
            sqlx::query_as(sql!("SELECT {JOB_COLUMNS} FROM jobs ORDER BY run_at, id"))
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(job_of).collect())
    }

    async fn finish_job_with(
        &self,
        job: &Job,
        worker: &str,
        now: DateTime<Utc>,
        entity_key: &str,
        notifications: &[Notification],
        follow_ups: &[NewJob],
    ) -> Result<bool> {
        let job = job.clone();
        let worker = worker.to_owned();
        let entity_key = entity_key.to_owned();
        let notifications = notifications.to_vec();
        let follow_ups = follow_ups.to_vec();
        run_write(self, move |repo| {
            Box::pin(async move {
                repo.write_finish_job_with(
                    &job,
                    &worker,
                    now,
                    &entity_key,
                    &notifications,
                    &follow_ups,
                )
                .await
            })
        })
        .await
    }

    async fn fire_timer(
        &self,
        job: &Job,
        worker: &str,
        now: DateTime<Utc>,
    ) -> Result<TimerOutcome> {
        let job = job.clone();
        let worker = worker.to_owned();
        run_write(self, move |repo| {
            Box::pin(async move { repo.write_fire_timer(&job, &worker, now).await })
        })
        .await
    }
}
