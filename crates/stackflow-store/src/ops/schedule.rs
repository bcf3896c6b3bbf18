// The business calendar and maintenance and blackout windows. The core
// validates both (`CalendarDocument::validate`, `NewWindow::into_window`);
// here each write is one transaction with its audit event.

/// The audit key of the one business calendar.
const CALENDAR_KEY: &str = "calendar";

/// The business calendar as this transaction sees it (the default one
/// until one is set).
async fn calendar_in(tx: &mut Transaction<'_, Db>) -> Result<BusinessCalendar> {
    let row: Option<Json<BusinessCalendar>> =
        sqlx::query_scalar("SELECT doc FROM business_calendar WHERE id = 1")
            .fetch_optional(&mut **tx)
            .await?;
    Ok(row.map_or_else(BusinessCalendar::default_calendar, |Json(c)| c))
}

/// Every maintenance and blackout window as this transaction sees them.
async fn windows_in(tx: &mut Transaction<'_, Db>) -> Result<Vec<ChangeWindow>> {
    let rows: Vec<(i64, Json<ChangeWindow>)> =
        sqlx::query_as("SELECT id, doc FROM windows ORDER BY id")
            .fetch_all(&mut **tx)
            .await?;
    Ok(rows.into_iter().map(window_of).collect())
}

#[async_trait]
impl CalendarStore for Repo {
    async fn get_calendar(&self) -> Result<BusinessCalendar> {
        Ok(self.settings().await?.calendar.clone())
    }

    async fn put_calendar(
        &self,
        by: &Caller,
        calendar: CalendarDocument,
    ) -> Result<BusinessCalendar> {
        require(&by.actor, Permission::ManageSchedule)?;
        let calendar = calendar.validate()?;
        let mut tx = self.begin_settings_write().await?;
        let before: Option<Json<BusinessCalendar>> = sqlx::query_scalar(sql!(
            "SELECT doc FROM business_calendar WHERE id = 1{FOR_UPDATE}"
        ))
        .fetch_optional(&mut *tx)
        .await?;
        let before = before.map_or_else(BusinessCalendar::default_calendar, |Json(c)| c);
        sqlx::query(
            "INSERT INTO business_calendar (id, doc, updated_by, updated_at) VALUES (1, $1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, updated_by = excluded.updated_by, \
             updated_at = excluded.updated_at",
        )
        .bind(Json(&calendar))
        .bind(by.actor.username.clone())
        .bind(by.now)
        .execute(&mut *tx)
        .await?;
        // A CAB schedule without a zone of its own follows the calendar's:
        // refuse a zone it cannot hold (its first meeting in a skipped
        // hour), rather than leave every normal change unable to move.
        match read_cab_schedule(&mut tx).await {
            Err(StoreError::Corrupt(why)) => {
                return Err(Refusal::conflict(
                    "cab_schedule_invalid_in_zone",
                    format!("{why}; give the CAB schedule a time_zone of its own first"),
                )
                .into());
            }
            other => {
                other?;
            }
        }
        audit(
            &mut tx,
            by,
            ("calendar", CALENDAR_KEY),
            "calendar.updated",
            Some(json_of(&before)?),
            Some(json_of(&calendar)?),
        )
        .await?;
        // Business hours and SLA clocks moved: every waiting score may.
        request_reassessment(&mut tx, None, by.now).await?;
        tx.commit().await?;
        Ok(calendar)
    }

    async fn create_window(&self, by: &Caller, window: NewWindow) -> Result<ChangeWindow> {
        require(&by.actor, Permission::ManageSchedule)?;
        let calendar_zone = self.settings().await?.calendar.time_zone;
        let mut window = window
            .in_zone_unless_given(calendar_zone.name())
            .into_window(0, &by.actor.username, by.now)?;
        let mut tx = self.begin_settings_write().await?;
        // The id comes from the row; the document is written with it.
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO windows (name, kind, start_at, end_at, recurring, doc, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(window.name.clone())
        .bind(window.kind.as_str())
        .bind(window.start)
        .bind(window.end)
        .bind(window.recurrence.is_some())
        .bind(Json(&window))
        .bind(by.now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            map_unique(e, || {
                format!("a window named `{}` already exists", window.name)
            })
        })?;
        window.id = id;
        sqlx::query("UPDATE windows SET doc = $1 WHERE id = $2")
            .bind(Json(&window))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            by,
            ("window", &id.to_string()),
            "window.created",
            None,
            Some(json_of(&window)?),
        )
        .await?;
        // Waiting changes were scored against the schedule without it;
        // approved ones may now run into a freeze.
        request_reassessment(&mut tx, None, by.now).await?;
        if window.kind == stackflow_core::WindowKind::Blackout {
            request_blackout_checks(&mut tx, window.start, by.now).await?;
        }
        tx.commit().await?;
        Ok(window)
    }

    async fn list_windows(&self) -> Result<Vec<ChangeWindow>> {
        Ok(self.settings().await?.windows.clone())
    }

    async fn calendar_and_windows(&self) -> Result<(i64, BusinessCalendar, Vec<ChangeWindow>)> {
        let settings = self.settings().await?;
        Ok((
            settings.generation,
            settings.calendar.clone(),
            settings.windows.clone(),
        ))
    }

    async fn get_window(&self, id: i64) -> Result<Option<ChangeWindow>> {
        let row: Option<(i64, Json<ChangeWindow>)> =
            sqlx::query_as("SELECT id, doc FROM windows WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(window_of))
    }

    async fn delete_window(&self, by: &Caller, id: i64) -> Result<ChangeWindow> {
        require(&by.actor, Permission::ManageSchedule)?;
        let mut tx = self.begin_settings_write().await?;
        let row: Option<(i64, Json<ChangeWindow>)> = sqlx::query_as(sql!(
            "SELECT id, doc FROM windows WHERE id = $1{FOR_UPDATE}"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let window = row
            .map(window_of)
            .ok_or_else(|| StoreError::NotFound(format!("window {id}")))?;
        sqlx::query("DELETE FROM windows WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            by,
            ("window", &id.to_string()),
            "window.deleted",
            Some(json_of(&window)?),
            None,
        )
        .await?;
        // Waiting changes were scored against the schedule with it;
        // approved ones may have been recorded as running into it.
        request_reassessment(&mut tx, None, by.now).await?;
        if window.kind == stackflow_core::WindowKind::Blackout {
            request_blackout_checks(&mut tx, window.start, by.now).await?;
        }
        tx.commit().await?;
        Ok(window)
    }
}

/// A stored window, its id taken from the row.
fn window_of((id, Json(mut window)): (i64, Json<ChangeWindow>)) -> ChangeWindow {
    window.id = id;
    window
}
