// Lifecycle of the store itself: migrations, health, shutdown.

/// The migration that creates the job table (see `backfill_timers`).
const JOBS_MIGRATION: &str = "0007_";

#[async_trait]
impl Store for Repo {
    fn backend(&self) -> crate::Backend {
        BACKEND
    }

    async fn migrate(&self) -> Result<()> {
        let creates_jobs = (self.pending_migrations().await?)
            .iter()
            .any(|m| m.starts_with(JOBS_MIGRATION));
        MIGRATOR.run(&self.pool).await?;
        self.install_default_workflows().await?;
        if creates_jobs {
            let mut tx = self.begin_write().await?;
            let set = backfill_timers(&mut tx, Utc::now()).await?;
            tx.commit().await?;
            if set > 0 {
                tracing::info!(set, "set the timers of changes already in flight");
            }
        }
        Ok(())
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn pending_migrations(&self) -> Result<Vec<String>> {
        // No table yet means nothing applied; any other failure is one.
        let applied: Vec<i64> =
            match sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success = $1")
                .bind(true)
                .fetch_all(&self.pool)
                .await
            {
                Ok(applied) => applied,
                Err(sqlx::Error::Database(e))
                    if e.message().contains("no such table")
                        || e.message().contains("does not exist") =>
                {
                    Vec::new()
                }
                Err(e) => return Err(e.into()),
            };
        Ok(MIGRATOR
            .iter()
            .filter(|m| !m.migration_type.is_down_migration() && !applied.contains(&m.version))
            .map(|m| format!("{:04}_{}", m.version, m.description.replace(' ', "_")))
            .collect())
    }

    async fn close(&self) {
        self.pool.close().await;
        self.writer().close().await;
    }
}
