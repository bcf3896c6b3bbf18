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

/// Requests a job inside the caller's transaction, so it exists exactly
/// when the write that implies it does. A pending job of the same kind and
/// key absorbs the request: it runs no later than either asked, with the
/// newer payload, and its generation moves on so that a worker running it
/// right now runs it once more rather than deleting it.
async fn request_job_in(tx: &mut Tx, job: &NewJob, now: DateTime<Utc>) -> Result<()> {
    sqlx::query(
        "INSERT INTO jobs (kind, job_key, payload, run_at, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (kind, job_key) DO UPDATE SET \
         run_at = CASE WHEN excluded.run_at < jobs.run_at THEN excluded.run_at ELSE jobs.run_at END, \
         payload = excluded.payload, generation = jobs.generation + 1",
    )
    .bind(job.kind.as_str())
    .bind(job.key.clone())
    .bind(Json(&job.payload))
    .bind(job.run_at)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
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

    async fn complete_job(&self, job: &Job, worker: &str) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let deleted =
            sqlx::query("DELETE FROM jobs WHERE id = $1 AND generation = $2 AND locked_by = $3")
                .bind(job.id)
                .bind(job.generation)
                .bind(worker.to_owned())
                .execute(&mut *tx)
                .await?
                .rows_affected();
        let held = deleted > 0
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

    async fn fail_job(
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

    async fn pending_jobs(&self) -> Result<Vec<Job>> {
        let rows: Vec<JobRow> =
            sqlx::query_as(sql!("SELECT {JOB_COLUMNS} FROM jobs ORDER BY run_at, id"))
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(job_of).collect())
    }
}
