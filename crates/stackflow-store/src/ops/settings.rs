// The organisation's settings, read as one set and kept between reads
// while `settings_generation` stays put (see `crate::settings`).

/// Holds the settings generation still until a submission's transaction
/// ends, taken first in it. On PostgreSQL that is a share lock on the row
/// every settings writer locks first (`begin_settings_write`): a window or
/// calendar written meanwhile has either committed, and is read by
/// [`submission_horizon`], or waits, and then finds the change awaiting
/// approval and asks for its reassessment. Settings writers take the
/// conflict-record lock after that row (`reevaluate_open_changes`), so the
/// submission takes the row before that lock too: the other order could
/// deadlock. SQLite's one writer orders them already: nothing to do.
async fn hold_settings_generation(tx: &mut Tx) -> Result<()> {
    if !FOR_SHARE.is_empty() {
        sqlx::query(sql!(
            "SELECT value FROM settings_generation WHERE id = 1{FOR_SHARE}"
        ))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// What a submission's assessment must not have missed, read last in its
/// transaction, just before it commits: the settings generation (held
/// since [`hold_settings_generation`]) and the CMDB change log's last
/// sequence number. CMDB writes take neither lock, so the later the log is
/// read, the shorter the time in which one can commit unseen.
async fn submission_horizon(tx: &mut Tx) -> Result<(i64, i64)> {
    Ok(sqlx::query_as(
        "SELECT value, (SELECT COALESCE(MAX(seq), 0) FROM cmdb_log) \
         FROM settings_generation WHERE id = 1",
    )
    .fetch_one(&mut **tx)
    .await?)
}

/// The generation of the settings this connection or transaction sees.
async fn settings_generation<'e>(executor: impl sqlx::Executor<'e, Database = Db>) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT value FROM settings_generation WHERE id = 1")
            .fetch_one(executor)
            .await?,
    )
}

/// Reads every setting in the caller's transaction, the generation first:
/// in a snapshot the settings are then exactly those of that generation,
/// and under PostgreSQL's read committed no older than it.
async fn load_settings(tx: &mut Transaction<'_, Db>) -> Result<Settings> {
    let generation = settings_generation(&mut **tx).await?;
    let mut directory = load_directory(tx).await?;
    let workflows = current_workflows(tx)
        .await?
        .iter()
        .map(StoredWorkflow::to_workflow)
        .collect();
    let active_users = active_users(tx).await?;
    // Approvers named one by one (a `users` lane, a role's holders) count
    // only while active: evaluated against this at every vote.
    directory.active_users = active_users.iter().map(|u| u.username.clone()).collect();
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
    /// Begins a write transaction that will change settings: the
    /// generation row is locked first. Its triggers lock it anyway at the
    /// first settings write, and taken that late, after row locks of the
    /// transaction's own (a user `FOR UPDATE`, say), two such writers on
    /// PostgreSQL could each hold what the other waits for. (SQLite's
    /// writers queue for the one write lock already.)
    async fn begin_settings_write(&self) -> Result<Tx> {
        let mut tx = self.begin_write().await?;
        if !FOR_UPDATE.is_empty() {
            sqlx::query(sql!(
                "SELECT value FROM settings_generation WHERE id = 1{FOR_UPDATE}"
            ))
            .execute(&mut *tx)
            .await?;
        }
        Ok(tx)
    }

    /// The settings as the database holds them now, from memory unless
    /// they moved: one statement when they did not.
    async fn settings(&self) -> Result<Arc<Settings>> {
        let mut connection = self.pool.acquire().await?;
        self.settings_on(&mut connection).await
    }

    /// `settings`, on a connection of the pool (outside any transaction):
    /// read again in one snapshot when the generation moved, and kept.
    async fn settings_on(
        &self,
        connection: &mut sqlx::pool::PoolConnection<Db>,
    ) -> Result<Arc<Settings>> {
        let generation = settings_generation(&mut **connection).await?;
        if let Some(kept) = self.settings.get(generation) {
            return Ok(kept);
        }
        let mut snapshot = begin_snapshot_on(&mut **connection).await?;
        let read = Arc::new(load_settings(&mut snapshot).await?);
        snapshot.rollback().await?;
        self.settings.keep(Arc::clone(&read));
        Ok(read)
    }

    /// The settings as the caller's write transaction sees them, when it
    /// has not changed them itself: from memory when it sees the
    /// generation kept. Otherwise from a free connection of the pool
    /// (committed settings, in one snapshot, kept), when they are at least
    /// as new as the transaction's (under PostgreSQL's read committed, the
    /// transaction's next statement would see them too). Else read in the
    /// transaction and not kept. A busy pool is not waited for: this
    /// transaction holds a connection already, and under load every
    /// connection could end up held by a transaction waiting for another.
    async fn settings_in(&self, tx: &mut Tx) -> Result<Arc<Settings>> {
        let generation = settings_generation(&mut **tx).await?;
        if let Some(kept) = self.settings.get(generation) {
            return Ok(kept);
        }
        if let Some(mut connection) = self.pool.try_acquire() {
            let committed = self.settings_on(&mut connection).await?;
            if committed.generation >= generation {
                return Ok(committed);
            }
        }
        Ok(Arc::new(load_settings(tx).await?))
    }
}
