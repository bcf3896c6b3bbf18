// Lifecycle of the store itself: migrations, health, shutdown.

#[async_trait]
impl Store for Repo {
    fn backend(&self) -> crate::Backend {
        BACKEND
    }

    async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await?;
        self.install_default_workflows().await?;
        Ok(())
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn pending_migrations(&self) -> Result<Vec<String>> {
        // No table yet means nothing applied: the query's failure says so.
        let applied: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success = $1")
                .bind(true)
                .fetch_all(&self.pool)
                .await
                .unwrap_or_default();
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
