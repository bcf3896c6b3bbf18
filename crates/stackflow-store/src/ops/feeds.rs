// Calendar feeds: secret addresses calendar clients subscribe to for the
// change schedule (docs/schedule.md). Each write is one transaction with
// its audit event, on the owner's user like an API token's; the key is
// kept only as a hash (`secret::hash`), never in the audit trail.

type FeedRow = (i64, String, String, DateTime<Utc>, Option<DateTime<Utc>>);

const FEED_COLUMNS: &str = "f.id, u.username, f.name, f.created_at, f.revoked_at FROM calendar_feeds f JOIN users u ON u.id = f.user_id";

fn feed_of((id, username, name, created_at, revoked_at): FeedRow) -> CalendarFeed {
    CalendarFeed {
        id,
        username,
        name,
        created_at,
        revoked_at,
    }
}

/// One feed as this transaction sees it.
async fn load_feed(tx: &mut Tx, id: i64) -> Result<Option<CalendarFeed>> {
    let row: Option<FeedRow> = sqlx::query_as(sql!("SELECT {FEED_COLUMNS} WHERE f.id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.map(feed_of))
}

#[async_trait]
impl CalendarFeedStore for Repo {
    async fn create_calendar_feed(
        &self,
        by: &Caller,
        username: &str,
        feed: NewCalendarFeed,
    ) -> Result<(CalendarFeed, String)> {
        if !may_act_for(by, username) {
            return Err(StoreError::Refused(Refusal::forbidden(
                "feeds_of_others",
                "only admins may create calendar feeds for other people",
            )));
        }
        check_label(&feed.name)?;
        let mut tx = self.begin_write().await?;
        let owner: Option<(i64, bool)> =
            sqlx::query_as("SELECT id, active FROM users WHERE username = $1")
                .bind(username.to_owned())
                .fetch_optional(&mut *tx)
                .await?;
        let owner = match owner {
            Some((id, true)) => id,
            // Its address would answer 404 from the start.
            Some((_, false)) => {
                return Err(StoreError::invalid(
                    "username",
                    format!("`{username}` is deactivated"),
                ));
            }
            None => return Err(StoreError::NotFound(format!("user `{username}`"))),
        };
        let key = secret::new_feed_key();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO calendar_feeds (user_id, name, key_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(owner)
        .bind(feed.name.clone())
        .bind(secret::hash(&key))
        .bind(by.now)
        .fetch_one(&mut *tx)
        .await?;
        let created = CalendarFeed {
            id,
            username: username.to_owned(),
            name: feed.name,
            created_at: by.now,
            revoked_at: None,
        };
        audit(
            &mut tx,
            by,
            ("user", username),
            "calendar_feed.created",
            None,
            Some(json_of(&created)?),
        )
        .await?;
        tx.commit().await?;
        Ok((created, key))
    }

    async fn list_calendar_feeds(
        &self,
        by: &Caller,
        page: PageRequest,
    ) -> Result<Page<CalendarFeed>> {
        // An admin's list is everyone's: NULL matches every owner.
        let owner = (by.actor.role != Role::Admin).then(|| by.actor.username.clone());
        let rows: Vec<FeedRow> = sqlx::query_as(sql!(
            "SELECT {FEED_COLUMNS} WHERE f.id > $1 AND ($2 IS NULL OR u.username = $2) \
             ORDER BY f.id LIMIT $3"
        ))
        .bind(page.after.unwrap_or(0))
        .bind(owner)
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        Ok(page_of(
            rows.into_iter().map(|row| (row.0, feed_of(row))).collect(),
            page.limit,
        ))
    }

    async fn revoke_calendar_feed(&self, by: &Caller, id: i64) -> Result<CalendarFeed> {
        let mut tx = self.begin_write().await?;
        // Someone else's feed is "not found" to a non-admin, as a token is:
        // ids are sequential, and a 403 would tell them it exists.
        let before = load_feed(&mut tx, id)
            .await?
            .filter(|f| may_act_for(by, &f.username))
            .ok_or_else(|| StoreError::NotFound(format!("calendar feed {id}")))?;
        // Only the revocation that finds the feed unrevoked records one, so
        // two at once leave one audit event.
        let revoked = sqlx::query(
            "UPDATE calendar_feeds SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(by.now)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if revoked == 0 {
            let current = load_feed(&mut tx, id).await?.unwrap_or(before);
            tx.commit().await?;
            return Ok(current);
        }
        let after = CalendarFeed {
            revoked_at: Some(by.now),
            ..before.clone()
        };
        audit(
            &mut tx,
            by,
            ("user", &before.username),
            "calendar_feed.revoked",
            Some(json_of(&before)?),
            Some(json_of(&after)?),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    async fn calendar_feed_of_key(&self, key: &str) -> Result<Option<(i64, String)>> {
        Ok(sqlx::query_as(
            "SELECT f.id, u.username FROM calendar_feeds f JOIN users u ON u.id = f.user_id \
             WHERE f.key_hash = $1 AND f.revoked_at IS NULL AND u.active = $2",
        )
        .bind(secret::hash(key))
        .bind(true)
        .fetch_optional(&self.pool)
        .await?)
    }
}
