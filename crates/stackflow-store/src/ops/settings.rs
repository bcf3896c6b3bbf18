// The organisation's settings, read as one set and kept between reads
// while `settings_generation` stays put (see `crate::settings`).

/// The generation of the settings this connection or transaction sees.
async fn settings_generation<'e>(
    executor: impl sqlx::Executor<'e, Database = Db>,
) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT value FROM settings_generation WHERE id = 1")
            .fetch_one(executor)
            .await?,
    )
}

/// Reads every setting in the caller's transaction, the generation first:
/// in a snapshot the settings are then exactly those of that generation,
/// and under PostgreSQL's read committed no older than it.
async fn load_settings(tx: &mut Tx) -> Result<Settings> {
    let generation = settings_generation(&mut **tx).await?;
    let directory = load_directory(tx).await?;
    let workflows = current_workflows(tx)
        .await?
        .iter()
        .map(StoredWorkflow::to_workflow)
        .collect();
    let active_users = active_users(tx).await?;
    let calendar = calendar_in(tx).await?;
    let cab = cab_schedule_with(tx, &calendar).await?;
    let windows = windows_in(tx).await?;
    Ok(Settings {
        generation,
        directory,
        workflows,
        active_users,
        calendar,
        cab,
        windows,
    })
}

impl Repo {
    /// The settings as the database holds them now, from memory unless
    /// they moved: one statement when they did not.
    async fn settings(&self) -> Result<Arc<Settings>> {
        let generation = settings_generation(&self.pool).await?;
        if let Some(kept) = self.settings.get(generation) {
            return Ok(kept);
        }
        let mut tx = begin_snapshot(&self.pool).await?;
        let read = Arc::new(load_settings(&mut tx).await?);
        tx.rollback().await?;
        self.settings.offer(Arc::clone(&read));
        Ok(read)
    }

    /// The settings as the caller's write transaction sees them, from
    /// memory when the generation it sees is the one kept. Read again
    /// otherwise, and then kept only if the transaction has not
    /// `changed_settings` itself: what it wrote is not committed, and may
    /// never be.
    async fn settings_in(&self, tx: &mut Tx, changed_settings: bool) -> Result<Arc<Settings>> {
        let generation = settings_generation(&mut **tx).await?;
        if let Some(kept) = self.settings.get(generation) {
            return Ok(kept);
        }
        let read = Arc::new(load_settings(tx).await?);
        if !changed_settings {
            self.settings.offer(Arc::clone(&read));
        }
        Ok(read)
    }
}
