// Users, groups, group membership and API tokens.

type UserRow = (i64, String, String, String, String, bool, DateTime<Utc>);
const USER_COLUMNS: &str = "id, username, email, display_name, role, active, created_at";

fn user_of(row: UserRow) -> Result<(i64, User)> {
    let (id, username, email, display_name, role, active, created_at) = row;
    Ok((
        id,
        User {
            username,
            email,
            display_name,
            role: parse("users.role", &role)?,
            active,
            created_at,
        },
    ))
}

async fn user_id(tx: &mut Tx, username: &str) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar::<_, i64>("SELECT id FROM users WHERE username = $1")
            .bind(username.to_owned())
            .fetch_optional(&mut **tx)
            .await?,
    )
}

/// The ids of the named users, refusing with the unknown ones listed.
async fn user_ids(tx: &mut Tx, field: &str, usernames: &[String]) -> Result<Vec<i64>> {
    let mut ids = Vec::with_capacity(usernames.len());
    let mut unknown = Vec::new();
    for name in usernames {
        match user_id(tx, name).await? {
            Some(id) => ids.push(id),
            None => unknown.push(name.as_str()),
        }
    }
    if unknown.is_empty() {
        Ok(ids)
    } else {
        Err(StoreError::invalid(
            field,
            format!("unknown users: {}", unknown.join(", ")),
        ))
    }
}

async fn group_members(tx: &mut Tx, group_id: i64) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar::<_, String>(
        "SELECT u.username FROM group_members m JOIN users u ON u.id = m.user_id \
         WHERE m.group_id = $1 ORDER BY u.username",
    )
    .bind(group_id)
    .fetch_all(&mut **tx)
    .await?)
}

/// A group with its members; `lock` holds its row until commit, so two
/// replacements of its members run one after the other.
async fn load_group(tx: &mut Tx, name: &str, lock: bool) -> Result<Option<(i64, Group)>> {
    let row: Option<(i64, String, String, String)> = sqlx::query_as(sql!(
        "SELECT id, name, kind, description FROM groups WHERE name = $1{}",
        if lock { FOR_UPDATE } else { "" }
    ))
    .bind(name.to_owned())
    .fetch_optional(&mut **tx)
    .await?;
    let Some((id, name, kind, description)) = row else {
        return Ok(None);
    };
    let members = group_members(tx, id).await?;
    Ok(Some((
        id,
        Group {
            name,
            kind: parse("groups.kind", &kind)?,
            description,
            members,
        },
    )))
}

async fn replace_members(tx: &mut Tx, group_id: i64, member_ids: &[i64]) -> Result<()> {
    sqlx::query("DELETE FROM group_members WHERE group_id = $1")
        .bind(group_id)
        .execute(&mut **tx)
        .await?;
    for user in member_ids {
        sqlx::query(
            "INSERT INTO group_members (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(group_id)
        .bind(*user)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The groups and their active members. `active_users` stays empty: the
/// settings fill it (`load_settings`), which is the directory approvals are
/// evaluated against; the other readers only check group membership.
async fn load_directory(tx: &mut Transaction<'_, Db>) -> Result<Directory> {
    let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT g.name, g.kind, u.username FROM groups g \
         LEFT JOIN group_members m ON m.group_id = g.id \
         LEFT JOIN users u ON u.id = m.user_id AND u.active = $1 \
         ORDER BY g.name, u.username",
    )
    .bind(true)
    .fetch_all(&mut **tx)
    .await?;
    let mut directory = Directory::default();
    for (name, kind, member) in rows {
        if directory.groups.last().is_none_or(|g| g.name != name) {
            directory.groups.push(GroupInfo {
                name,
                kind: parse("groups.kind", &kind)?,
                members: Vec::new(),
            });
        }
        if let (Some(member), Some(group)) = (member, directory.groups.last_mut()) {
            group.members.push(member);
        }
    }
    Ok(directory)
}

type TokenRow = (
    i64,
    String,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);
const TOKEN_COLUMNS: &str = "t.id, u.username, t.name, t.created_at, t.expires_at, t.revoked_at FROM api_tokens t JOIN users u ON u.id = t.user_id";

fn token_of((id, username, name, created_at, expires_at, revoked_at): TokenRow) -> TokenInfo {
    TokenInfo {
        id,
        username,
        name,
        created_at,
        expires_at,
        revoked_at,
    }
}

/// Whether the caller may manage what `username` owns (tokens, calendar
/// feeds): their own, or anyone's for an admin.
fn may_act_for(by: &Caller, username: &str) -> bool {
    by.actor.username == username || by.actor.role == Role::Admin
}

/// Longest label of a token or a calendar feed.
const MAX_LABEL_CHARS: usize = 200;

/// Checks a token's or a feed's label: at most [`MAX_LABEL_CHARS`], and no
/// control characters, which would break the CLI's tab-separated lists.
fn check_label(label: &str) -> Result<()> {
    if label.chars().count() > MAX_LABEL_CHARS {
        return Err(StoreError::invalid(
            "name",
            format!("at most {MAX_LABEL_CHARS} characters"),
        ));
    }
    if label.chars().any(char::is_control) {
        return Err(StoreError::invalid(
            "name",
            "no control characters (tabs, line breaks)",
        ));
    }
    Ok(())
}

/// People may manage their own tokens; admins anyone's.
fn require_self_or_admin(by: &Caller, username: &str) -> Result<()> {
    if may_act_for(by, username) {
        Ok(())
    } else {
        Err(StoreError::Refused(Refusal::forbidden(
            "tokens_of_others",
            "only admins may manage other people's tokens",
        )))
    }
}

#[async_trait]
impl PeopleStore for Repo {
    async fn create_user(&self, by: &Caller, user: NewUser) -> Result<User> {
        require(&by.actor, Permission::ManagePeople)?;
        validate::username(&user.username)?;
        validate::email(&user.email)?;
        let mut tx = self.begin_settings_write().await?;
        let row: UserRow = sqlx::query_as(sql!(
            "INSERT INTO users (username, email, display_name, role, active, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {USER_COLUMNS}"
        ))
        .bind(user.username.clone())
        .bind(user.email.clone())
        .bind(user.display_name.clone())
        .bind(user.role.as_str())
        .bind(true)
        .bind(by.now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| map_unique(e, || format!("user `{}` already exists", user.username)))?;
        let (_, created) = user_of(row)?;
        audit(
            &mut tx,
            by,
            ("user", &created.username),
            "user.created",
            None,
            Some(json_of(&created)?),
        )
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn update_user(&self, by: &Caller, username: &str, patch: UserPatch) -> Result<User> {
        require(&by.actor, Permission::ManagePeople)?;
        if let Some(email) = &patch.email {
            validate::email(email)?;
        }
        let mut tx = self.begin_settings_write().await?;
        let row: Option<UserRow> = sqlx::query_as(sql!(
            "SELECT {USER_COLUMNS} FROM users WHERE username = $1{FOR_UPDATE}"
        ))
        .bind(username.to_owned())
        .fetch_optional(&mut *tx)
        .await?;
        let (id, before) =
            user_of(row.ok_or_else(|| StoreError::NotFound(format!("user `{username}`")))?)?;
        let after = User {
            email: patch.email.unwrap_or_else(|| before.email.clone()),
            display_name: patch
                .display_name
                .unwrap_or_else(|| before.display_name.clone()),
            role: patch.role.unwrap_or(before.role),
            active: patch.active.unwrap_or(before.active),
            ..before.clone()
        };
        sqlx::query(
            "UPDATE users SET email = $1, display_name = $2, role = $3, active = $4 WHERE id = $5",
        )
        .bind(after.email.clone())
        .bind(after.display_name.clone())
        .bind(after.role.as_str())
        .bind(after.active)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            by,
            ("user", username),
            "user.updated",
            Some(json_of(&before)?),
            Some(json_of(&after)?),
        )
        .await?;
        if after.active != before.active {
            // Reactivating someone taken out of the CAB while inactive must
            // not bring back an ECAB member outside it.
            // Changed by this transaction: read in it, never kept.
            let settings = load_settings(&mut tx).await?;
            settings.directory.check_ecab_within_cab()?;
            reevaluate_open_changes(&mut tx, by, &settings).await?;
        }
        tx.commit().await?;
        Ok(after)
    }

    async fn get_user(&self, username: &str) -> Result<Option<User>> {
        let row: Option<UserRow> =
            sqlx::query_as(sql!("SELECT {USER_COLUMNS} FROM users WHERE username = $1"))
                .bind(username.to_owned())
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(user_of).transpose()?.map(|(_, user)| user))
    }

    async fn list_users(&self, page: PageRequest) -> Result<Page<User>> {
        let rows: Vec<UserRow> = sqlx::query_as(sql!(
            "SELECT {USER_COLUMNS} FROM users WHERE id > $1 ORDER BY id LIMIT $2"
        ))
        .bind(page.after.unwrap_or(0))
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        Ok(page_of(
            rows.into_iter().map(user_of).collect::<Result<_>>()?,
            page.limit,
        ))
    }

    async fn create_group(&self, by: &Caller, group: NewGroup) -> Result<Group> {
        require(&by.actor, Permission::ManagePeople)?;
        validate::name("name", &group.name)?;
        let mut tx = self.begin_settings_write().await?;
        let member_ids = user_ids(&mut tx, "members", &group.members).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO groups (name, kind, description, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(group.name.clone())
        .bind(group.kind.as_str())
        .bind(group.description.clone())
        .bind(by.now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| map_unique(e, || format!("group `{}` already exists", group.name)))?;
        replace_members(&mut tx, id, &member_ids).await?;
        load_directory(&mut tx).await?.check_ecab_within_cab()?;
        let (_, created) = load_group(&mut tx, &group.name, false)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("group `{}`", group.name)))?;
        audit(
            &mut tx,
            by,
            ("group", &created.name),
            "group.created",
            None,
            Some(json_of(&created)?),
        )
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn set_group_members(
        &self,
        by: &Caller,
        name: &str,
        members: Vec<String>,
    ) -> Result<Group> {
        require(&by.actor, Permission::ManagePeople)?;
        let mut tx = self.begin_settings_write().await?;
        let (id, before) = load_group(&mut tx, name, true)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("group `{name}`")))?;
        let member_ids = user_ids(&mut tx, "members", &members).await?;
        replace_members(&mut tx, id, &member_ids).await?;
        // Changed by this transaction: read in it, never kept.
        let settings = load_settings(&mut tx).await?;
        settings.directory.check_ecab_within_cab()?;
        reevaluate_open_changes(&mut tx, by, &settings).await?;
        let (_, after) = load_group(&mut tx, name, false)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("group `{name}`")))?;
        audit(
            &mut tx,
            by,
            ("group", name),
            "group.members_changed",
            Some(json_of(&before)?),
            Some(json_of(&after)?),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    async fn get_group(&self, name: &str) -> Result<Option<Group>> {
        let mut tx = self.pool.begin().await?;
        let group = load_group(&mut tx, name, false).await?.map(|(_, g)| g);
        tx.commit().await?;
        Ok(group)
    }

    async fn list_groups(&self, page: PageRequest) -> Result<Page<Group>> {
        let mut tx = self.pool.begin().await?;
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, name FROM groups WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(page.after.unwrap_or(0))
                .bind(i64::from(page.limit) + 1)
                .fetch_all(&mut *tx)
                .await?;
        let mut groups = Vec::with_capacity(rows.len());
        for (id, name) in rows {
            if let Some((_, group)) = load_group(&mut tx, &name, false).await? {
                groups.push((id, group));
            }
        }
        tx.commit().await?;
        Ok(page_of(groups, page.limit))
    }

    async fn directory(&self) -> Result<Directory> {
        Ok(self.settings().await?.directory.clone())
    }

    async fn create_token(
        &self,
        by: &Caller,
        username: &str,
        token: NewToken,
    ) -> Result<(TokenInfo, String)> {
        require_self_or_admin(by, username)?;
        check_label(&token.name)?;
        if let Some(expiry) = token.expires_at
            && expiry <= by.now
        {
            return Err(StoreError::invalid("expires_at", "must be in the future"));
        }
        let mut tx = self.begin_write().await?;
        let owner = user_id(&mut tx, username)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user `{username}`")))?;
        let secret = secret::new_secret();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(owner)
        .bind(token.name.clone())
        .bind(secret::hash(&secret))
        .bind(by.now)
        .bind(token.expires_at)
        .fetch_one(&mut *tx)
        .await?;
        let info = TokenInfo {
            id,
            username: username.to_owned(),
            name: token.name,
            created_at: by.now,
            expires_at: token.expires_at,
            revoked_at: None,
        };
        audit(
            &mut tx,
            by,
            ("user", username),
            "token.created",
            None,
            Some(json_of(&info)?),
        )
        .await?;
        tx.commit().await?;
        Ok((info, secret))
    }

    async fn list_tokens(&self, by: &Caller, username: &str) -> Result<Vec<TokenInfo>> {
        require_self_or_admin(by, username)?;
        let rows: Vec<TokenRow> = sqlx::query_as(sql!(
            "SELECT {TOKEN_COLUMNS} WHERE u.username = $1 ORDER BY t.id"
        ))
        .bind(username.to_owned())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(token_of).collect())
    }

    async fn get_token(&self, id: i64) -> Result<Option<TokenInfo>> {
        let row: Option<TokenRow> = sqlx::query_as(sql!("SELECT {TOKEN_COLUMNS} WHERE t.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(token_of))
    }

    async fn revoke_token(&self, by: &Caller, id: i64) -> Result<TokenInfo> {
        let mut tx = self.begin_write().await?;
        let row: Option<TokenRow> =
            sqlx::query_as(sql!("SELECT {TOKEN_COLUMNS} WHERE t.id = $1{FOR_UPDATE}"))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        // Someone else's token is "not found" to a non-admin: ids are
        // sequential, and a 403 would tell them it exists.
        let before = row
            .map(token_of)
            .filter(|t| require_self_or_admin(by, &t.username).is_ok())
            .ok_or_else(|| StoreError::NotFound(format!("token {id}")))?;
        if before.revoked_at.is_some() {
            return Ok(before);
        }
        sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2")
            .bind(by.now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let after = TokenInfo {
            revoked_at: Some(by.now),
            ..before.clone()
        };
        audit(
            &mut tx,
            by,
            ("user", &before.username),
            "token.revoked",
            Some(json_of(&before)?),
            Some(json_of(&after)?),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    async fn authenticate(&self, secret: &str, now: DateTime<Utc>) -> Result<Option<Actor>> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT u.username, u.role FROM api_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2) \
             AND u.active = $3",
        )
        .bind(secret::hash(secret))
        .bind(now)
        .bind(true)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(username, role)| Ok(Actor::new(username, parse("users.role", &role)?)))
            .transpose()
    }
}
