// Calendar feeds: secret addresses calendar clients subscribe to for the
// change schedule (docs/schedule.md). Each write is one transaction with
// its audit event, on the owner's user like an API token's.

/// Longest feed label.
const MAX_FEED_NAME_CHARS: usize = 200;

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

impl Repo {
    async fn write_create_calendar_feed(
        &self,
        by: &Caller,
        username: &str,
        feed: NewCalendarFeed,
    ) -> Result<(CalendarFeed, String)> {
        if by.actor.username != username && by.actor.role != Role::Admin {
            return Err(StoreError::Refused(Refusal::forbidden(
                "feeds_of_others",
                "only admins may create calendar feeds for other people",
            )));
        }
        if feed.name.chars().count() > MAX_FEED_NAME_CHARS {
            return Err(StoreError::invalid(
                "name",
                format!("at most {MAX_FEED_NAME_CHARS} characters"),
            ));
        }
        let mut tx = self.begin_write().await?;
        let owner = user_id(&mut tx, username)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user `{username}`")))?;
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

    async fn read_calendar_feeds(&self, by: &Caller) -> Result<Vec<CalendarFeed>> {
        let rows: Vec<FeedRow> = if by.actor.role == Role::Admin {
            sqlx::query_as(sql!("SELECT {FEED_COLUMNS} ORDER BY f.id"))
                .fetch_all(&self.pool)
                .await?
        } else {
            sqlx::query_as(sql!(
                "SELECT {FEED_COLUMNS} WHERE u.username = $1 ORDER BY f.id"
            ))
            .bind(by.actor.username.clone())
            .fetch_all(&self.pool)
            .await?
        };
        Ok(rows.into_iter().map(feed_of).collect())
    }

    async fn write_revoke_calendar_feed(&self, by: &Caller, id: i64) -> Result<CalendarFeed> {
        let mut tx = self.begin_write().await?;
        let row: Option<FeedRow> =
            sqlx::query_as(sql!("SELECT {FEED_COLUMNS} WHERE f.id = $1{FOR_UPDATE}"))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        // Someone else's feed is "not found" to a non-admin, as a token is:
        // ids are sequential, and a 403 would tell them it exists.
        let before = row
            .map(feed_of)
            .filter(|f| by.actor.username == f.username || by.actor.role == Role::Admin)
            .ok_or_else(|| StoreError::NotFound(format!("calendar feed {id}")))?;
        if before.revoked_at.is_some() {
            return Ok(before);
        }
        sqlx::query("UPDATE calendar_feeds SET revoked_at = $1 WHERE id = $2")
            .bind(by.now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
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

    async fn read_calendar_feed_owner(&self, key: &str) -> Result<Option<Actor>> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT u.username, u.role FROM calendar_feeds f JOIN users u ON u.id = f.user_id \
             WHERE f.key_hash = $1 AND f.revoked_at IS NULL AND u.active = $2",
        )
        .bind(secret::hash(key))
        .bind(true)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(username, role)| Ok(Actor::new(username, parse("users.role", &role)?)))
            .transpose()
    }
}
