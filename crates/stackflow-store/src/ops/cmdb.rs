// Configuration items, relationships and standard change templates.

type CiRow = (
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    Json<serde_json::Value>,
    DateTime<Utc>,
    DateTime<Utc>,
);
const CI_COLUMNS: &str =
    "id, name, class, environment, criticality, owner_group, attributes, created_at, updated_at";

fn ci_of(row: CiRow) -> Result<(i64, Ci)> {
    let (
        id,
        name,
        class,
        environment,
        criticality,
        owner_group,
        Json(attributes),
        created_at,
        updated_at,
    ) = row;
    Ok((
        id,
        Ci {
            name,
            class,
            environment,
            criticality: parse("cis.criticality", &criticality)?,
            owner_group,
            attributes,
            created_at,
            updated_at,
        },
    ))
}

/// A CI; `lock` holds its row until commit, so concurrent edits serialise.
async fn load_ci(tx: &mut Tx, name: &str, lock: bool) -> Result<Option<(i64, Ci)>> {
    let lock = if lock { FOR_UPDATE } else { "" };
    let row: Option<CiRow> =
        sqlx::query_as(sql!("SELECT {CI_COLUMNS} FROM cis WHERE name = $1{lock}"))
            .bind(name.to_owned())
            .fetch_optional(&mut **tx)
            .await?;
    row.map(ci_of).transpose()
}

async fn group_exists(tx: &mut Tx, name: &str) -> Result<bool> {
    Ok(
        sqlx::query_scalar::<_, i64>("SELECT id FROM groups WHERE name = $1")
            .bind(name.to_owned())
            .fetch_optional(&mut **tx)
            .await?
            .is_some(),
    )
}

/// A CI's own fields; references (the owner group) are checked against
/// the database by the caller.
fn check_ci(ci: &Ci) -> Result<()> {
    validate::name("name", &ci.name)?;
    validate::ci_class(&ci.class)?;
    if ci.environment.chars().count() > 64 {
        return Err(StoreError::invalid("environment", "at most 64 characters"));
    }
    if !ci.attributes.is_object() {
        return Err(StoreError::invalid("attributes", "must be a JSON object"));
    }
    Ok(())
}

/// Relationships in which the CI is either end (at most `MAX_LIST`).
async fn relationships_of(tx: &mut Tx, ci: &str) -> Result<Vec<Relationship>> {
    let rows: Vec<RelRow> = sqlx::query_as(
        "SELECT r.id, f.name, t.name, r.rel_type, r.created_at FROM relationships r \
         JOIN cis f ON f.id = r.from_ci JOIN cis t ON t.id = r.to_ci \
         WHERE f.name = $1 OR t.name = $1 ORDER BY r.id LIMIT $2",
    )
    .bind(ci.to_owned())
    .bind(MAX_LIST)
    .fetch_all(&mut **tx)
    .await?;
    rows.into_iter().map(rel_of).collect()
}

type RelRow = (i64, String, String, String, DateTime<Utc>);

fn rel_of((id, from, to, rel_type, created_at): RelRow) -> Result<Relationship> {
    Ok(Relationship {
        id,
        from,
        to,
        rel_type: parse("relationships.rel_type", &rel_type)?,
        created_at,
    })
}

#[async_trait]
impl CmdbStore for Repo {
    async fn create_ci(&self, by: &Caller, ci: NewCi) -> Result<Ci> {
        require(&by.actor, Permission::ManageCmdb)?;
        let created = Ci {
            name: ci.name,
            class: ci.class,
            environment: ci.environment,
            criticality: ci.criticality,
            owner_group: ci.owner_group,
            attributes: ci.attributes.unwrap_or_else(|| serde_json::json!({})),
            created_at: by.now,
            updated_at: by.now,
        };
        check_ci(&created)?;
        let mut tx = self.begin_write().await?;
        if let Some(group) = &created.owner_group
            && !group_exists(&mut tx, group).await?
        {
            return Err(StoreError::invalid(
                "owner_group",
                format!("no group named `{group}`"),
            ));
        }
        sqlx::query(
            "INSERT INTO cis (name, class, environment, criticality, owner_group, attributes, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(created.name.clone())
        .bind(created.class.clone())
        .bind(created.environment.clone())
        .bind(created.criticality.as_str())
        .bind(created.owner_group.clone())
        .bind(Json(&created.attributes))
        .bind(by.now)
        .execute(&mut *tx)
        .await
        .map_err(|e| map_unique(e, || format!("CI `{}` already exists", created.name)))?;
        audit(
            &mut tx,
            by,
            ("ci", &created.name),
            "ci.created",
            None,
            Some(json_of(&created)?),
        )
        .await?;
        log_cmdb(&mut tx, by.now, &ci_change(&created)).await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn update_ci(&self, by: &Caller, name: &str, patch: CiPatch) -> Result<Ci> {
        require(&by.actor, Permission::ManageCmdb)?;
        let mut tx = self.begin_write().await?;
        let (id, before) = load_ci(&mut tx, name, true)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("CI `{name}`")))?;
        let after = Ci {
            class: patch.class.unwrap_or_else(|| before.class.clone()),
            environment: patch
                .environment
                .unwrap_or_else(|| before.environment.clone()),
            criticality: patch.criticality.unwrap_or(before.criticality),
            owner_group: patch
                .owner_group
                .unwrap_or_else(|| before.owner_group.clone()),
            attributes: patch
                .attributes
                .unwrap_or_else(|| before.attributes.clone()),
            updated_at: by.now,
            ..before.clone()
        };
        check_ci(&after)?;
        if let Some(group) = &after.owner_group
            && !group_exists(&mut tx, group).await?
        {
            return Err(StoreError::invalid(
                "owner_group",
                format!("no group named `{group}`"),
            ));
        }
        sqlx::query(
            "UPDATE cis SET class = $1, environment = $2, criticality = $3, owner_group = $4, attributes = $5, updated_at = $6 \
             WHERE id = $7",
        )
        .bind(after.class.clone())
        .bind(after.environment.clone())
        .bind(after.criticality.as_str())
        .bind(after.owner_group.clone())
        .bind(Json(&after.attributes))
        .bind(by.now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            by,
            ("ci", name),
            "ci.updated",
            Some(json_of(&before)?),
            Some(json_of(&after)?),
        )
        .await?;
        if (&after.class, after.criticality) != (&before.class, before.criticality) {
            log_cmdb(&mut tx, by.now, &ci_change(&after)).await?;
        }
        tx.commit().await?;
        Ok(after)
    }

    async fn get_ci(&self, name: &str) -> Result<Option<Ci>> {
        let mut tx = self.pool.begin().await?;
        let ci = load_ci(&mut tx, name, false).await?.map(|(_, ci)| ci);
        tx.commit().await?;
        Ok(ci)
    }

    async fn list_cis(&self, filter: &CiFilter, page: PageRequest) -> Result<Page<Ci>> {
        let mut query =
            QueryBuilder::<Db>::new(format!("SELECT {CI_COLUMNS} FROM cis WHERE id > "));
        query.push_bind(page.after.unwrap_or(0));
        if let Some(class) = &filter.class {
            query.push(" AND class = ").push_bind(class.clone());
        }
        if let Some(criticality) = filter.criticality {
            query
                .push(" AND criticality = ")
                .push_bind(criticality.as_str());
        }
        if let Some(group) = &filter.owner_group {
            query.push(" AND owner_group = ").push_bind(group.clone());
        }
        if let Some(prefix) = &filter.prefix {
            query
                .push(" AND name LIKE ")
                .push_bind(prefix_pattern(prefix))
                .push(" ESCAPE '\\'");
        }
        query
            .push(" ORDER BY id LIMIT ")
            .push_bind(i64::from(page.limit) + 1);
        let rows: Vec<CiRow> = query.build_query_as().fetch_all(&self.pool).await?;
        Ok(page_of(
            rows.into_iter().map(ci_of).collect::<Result<_>>()?,
            page.limit,
        ))
    }

    async fn delete_ci(&self, by: &Caller, name: &str) -> Result<Ci> {
        require(&by.actor, Permission::ManageCmdb)?;
        let mut tx = self.begin_write().await?;
        let (id, ci) = load_ci(&mut tx, name, true)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("CI `{name}`")))?;
        let open: Vec<String> = sqlx::query_scalar(
            "SELECT c.number FROM change_cis x JOIN changes c ON c.id = x.change_id \
             WHERE x.ci_name = $1 AND c.state <> $2 AND c.state <> $3 ORDER BY c.id",
        )
        .bind(name.to_owned())
        .bind(ChangeState::Closed.as_str())
        .bind(ChangeState::Canceled.as_str())
        .fetch_all(&mut *tx)
        .await?;
        let open: Vec<ChangeNumber> = open
            .iter()
            .map(|n| parse("changes.number", n))
            .collect::<Result<_>>()?;
        stackflow_core::cmdb::check_deletable(name, &open)?;
        let relationships = relationships_of(&mut tx, name).await?;
        let dependencies: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT t.name FROM relationships r JOIN cis t ON t.id = r.to_ci WHERE r.from_ci = $1",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM cis WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let before =
            serde_json::json!({"ci": json_of(&ci)?, "relationships": json_of(&relationships)?});
        audit(&mut tx, by, ("ci", name), "ci.deleted", Some(before), None).await?;
        // The index drops the CI's dependents itself; its own dependencies
        // are logged so they leave the reversed graph too.
        for to in dependencies {
            let from = name.to_owned();
            log_cmdb(
                &mut tx,
                by.now,
                &CmdbChange::RelationshipDeleted { from, to },
            )
            .await?;
        }
        let name = name.to_owned();
        log_cmdb(&mut tx, by.now, &CmdbChange::CiDeleted { name }).await?;
        tx.commit().await?;
        Ok(ci)
    }

    async fn delete_relationship(&self, by: &Caller, id: i64) -> Result<Relationship> {
        require(&by.actor, Permission::ManageCmdb)?;
        let mut tx = self.begin_write().await?;
        let row: Option<(i64, i64)> = sqlx::query_as(sql!(
            "SELECT from_ci, to_ci FROM relationships WHERE id = $1{FOR_UPDATE}"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let (from_id, to_id) =
            row.ok_or_else(|| StoreError::NotFound(format!("relationship {id}")))?;
        let row: RelRow = sqlx::query_as(
            "SELECT r.id, f.name, t.name, r.rel_type, r.created_at FROM relationships r \
             JOIN cis f ON f.id = r.from_ci JOIN cis t ON t.id = r.to_ci WHERE r.id = $1",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let relationship = rel_of(row)?;
        sqlx::query("DELETE FROM relationships WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        // Another relationship of another type may keep the dependency. Ask
        // under the log lock, so a concurrent create or delete of a sibling
        // is either seen here or logged after this entry.
        lock_log_order(&mut tx).await?;
        let remaining: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM relationships WHERE from_ci = $1 AND to_ci = $2 LIMIT 1",
        )
        .bind(from_id)
        .bind(to_id)
        .fetch_optional(&mut *tx)
        .await?;
        audit(
            &mut tx,
            by,
            ("ci", &relationship.from),
            "relationship.deleted",
            Some(json_of(&relationship)?),
            None,
        )
        .await?;
        if remaining.is_none() {
            let (from, to) = (relationship.from.clone(), relationship.to.clone());
            log_cmdb(
                &mut tx,
                by.now,
                &CmdbChange::RelationshipDeleted { from, to },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(relationship)
    }

    async fn create_relationship(&self, by: &Caller, rel: NewRelationship) -> Result<Relationship> {
        require(&by.actor, Permission::ManageCmdb)?;
        if rel.from == rel.to {
            return Err(StoreError::invalid("to", "a CI cannot depend on itself"));
        }
        let mut tx = self.begin_write().await?;
        let from = load_ci(&mut tx, &rel.from, false).await?;
        let to = load_ci(&mut tx, &rel.to, false).await?;
        let mut errors = Vec::new();
        if from.is_none() {
            errors.push(FieldError::new(
                "from",
                format!("no CI named `{}`", rel.from),
            ));
        }
        if to.is_none() {
            errors.push(FieldError::new("to", format!("no CI named `{}`", rel.to)));
        }
        let (Some((from_id, _)), Some((to_id, _))) = (from, to) else {
            return Err(StoreError::invalid_fields(errors));
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO relationships (from_ci, to_ci, rel_type, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(from_id)
        .bind(to_id)
        .bind(rel.rel_type.as_str())
        .bind(by.now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| map_unique(e, || format!("`{}` already {} `{}`", rel.from, rel.rel_type, rel.to)))?;
        let created = Relationship {
            id,
            from: rel.from,
            to: rel.to,
            rel_type: rel.rel_type,
            created_at: by.now,
        };
        audit(
            &mut tx,
            by,
            ("ci", &created.from),
            "relationship.created",
            None,
            Some(json_of(&created)?),
        )
        .await?;
        let (from, to) = (created.from.clone(), created.to.clone());
        log_cmdb(&mut tx, by.now, &CmdbChange::Relationship { from, to }).await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn list_relationships(&self, ci: &str) -> Result<Vec<Relationship>> {
        let mut tx = self.pool.begin().await?;
        let relationships = relationships_of(&mut tx, ci).await?;
        tx.commit().await?;
        Ok(relationships)
    }

    async fn cmdb_snapshot(&self, sink: &mut (dyn CmdbSink + Send)) -> Result<i64> {
        // Optimistic and parallel: CIs and relationships are read at once
        // on two connections, each in a snapshot of its own. Every write
        // the index cares about appends to the change log, so equal log
        // positions mean the two snapshots hold the same CMDB.
        for _ in 0..PARALLEL_SNAPSHOT_TRIES {
            let pool = self.pool.clone();
            let relationships = tokio::spawn(async move { read_relationships(&pool).await });
            let mut tx = begin_snapshot(&self.pool).await?;
            let seq = log_position(&mut tx).await?;
            stream_cis(&mut tx, sink).await?;
            tx.commit().await?;
            let (at, relationships) = relationships
                .await
                .map_err(|e| StoreError::Io(std::io::Error::other(e)))??;
            if at == seq {
                for (from, to) in relationships {
                    sink.relationship(from, to);
                }
                return Ok(seq);
            }
            sink.restart();
        }
        // The CMDB kept changing: read both in one snapshot.
        let mut tx = begin_snapshot(&self.pool).await?;
        let seq = log_position(&mut tx).await?;
        stream_cis(&mut tx, sink).await?;
        for (from, to) in relationships_in(&mut tx).await? {
            sink.relationship(from, to);
        }
        tx.commit().await?;
        Ok(seq)
    }

    async fn cmdb_changes_since(&self, after: i64, limit: u32) -> Result<Vec<(i64, CmdbChange)>> {
        // Past the pruning horizon the entries may be gone: a `reload` at
        // the horizon comes first then, so the reader rebuilds. One query,
        // so the horizon and the entries come from the same snapshot.
        let rows: Vec<LogRow> = sqlx::query_as(
            "SELECT pruned_through, 'reload', NULL, NULL, NULL, NULL FROM cmdb_log_horizon \
             WHERE pruned_through > $1 \
             UNION ALL SELECT seq, kind, name, other, class, criticality FROM cmdb_log \
             WHERE seq > $1 ORDER BY 1 LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(cmdb_change_of).collect()
    }

    async fn prune_cmdb_log(&self, before: DateTime<Utc>) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let through: Option<i64> =
            sqlx::query_scalar("SELECT MAX(seq) FROM cmdb_log WHERE at < $1")
                .bind(before)
                .fetch_one(&mut *tx)
                .await?;
        let Some(through) = through else {
            return Ok(0);
        };
        let pruned = sqlx::query("DELETE FROM cmdb_log WHERE seq <= $1")
            .bind(through)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("UPDATE cmdb_log_horizon SET pruned_through = $1 WHERE pruned_through < $1")
            .bind(through)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(pruned)
    }

    async fn blast_radius_count_sql(&self, roots: &[String], depth: Option<u32>) -> Result<u64> {
        if roots.is_empty() {
            return Ok(0);
        }
        // `UNION` (not `UNION ALL`) drops rows already produced, which is
        // what makes the unlimited walk terminate on cycles. With a depth
        // limit the depth is part of the row, so a CI may be produced once
        // per depth; the outer query counts it once.
        let mut query = QueryBuilder::<Db>::new(match depth {
            None => "WITH RECURSIVE reached(id) AS (SELECT id FROM cis WHERE name IN (",
            Some(_) => {
                "WITH RECURSIVE reached(id, depth) AS (SELECT id, 0 FROM cis WHERE name IN ("
            }
        });
        let mut names = query.separated(", ");
        for root in roots {
            names.push_bind(root.clone());
        }
        query.push(")");
        match depth {
            None => query.push(
                " UNION SELECT r.from_ci FROM relationships r JOIN reached ON r.to_ci = reached.id)",
            ),
            Some(limit) => query
                .push(
                    " UNION SELECT r.from_ci, reached.depth + 1 FROM relationships r \
                     JOIN reached ON r.to_ci = reached.id WHERE reached.depth < ",
                )
                .push_bind(i64::from(limit))
                .push(")"),
        };
        query.push(
            " SELECT COUNT(DISTINCT id) FROM reached WHERE id NOT IN (SELECT id FROM cis WHERE name IN (",
        );
        let mut names = query.separated(", ");
        for root in roots {
            names.push_bind(root.clone());
        }
        query.push("))");
        let count: i64 = query.build_query_scalar().fetch_one(&self.pool).await?;
        Ok(count as u64)
    }

    async fn create_template(&self, by: &Caller, template: Template) -> Result<Template> {
        require(&by.actor, Permission::ManageTemplates)?;
        validate::name("name", &template.name)?;
        template.validate()?;
        let mut tx = self.begin_write().await?;
        if let Some(group) = &template.assignment_group
            && !group_exists(&mut tx, group).await?
        {
            return Err(StoreError::invalid(
                "assignment_group",
                format!("no group named `{group}`"),
            ));
        }
        sqlx::query("INSERT INTO templates (name, active, doc, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)")
            .bind(template.name.clone())
            .bind(template.active)
            .bind(Json(&template))
            .bind(by.now)
            .execute(&mut *tx)
            .await
            .map_err(|e| map_unique(e, || format!("template `{}` already exists", template.name)))?;
        audit(
            &mut tx,
            by,
            ("template", &template.name),
            "template.created",
            None,
            Some(json_of(&template)?),
        )
        .await?;
        tx.commit().await?;
        Ok(template)
    }

    async fn get_template(&self, name: &str) -> Result<Option<Template>> {
        let row: Option<Json<Template>> =
            sqlx::query_scalar("SELECT doc FROM templates WHERE name = $1")
                .bind(name.to_owned())
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|Json(t)| t))
    }

    async fn list_templates(&self) -> Result<Vec<Template>> {
        let rows: Vec<Json<Template>> =
            sqlx::query_scalar("SELECT doc FROM templates ORDER BY name")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|Json(t)| t).collect())
    }
}

fn ci_change(ci: &Ci) -> CmdbChange {
    CmdbChange::Ci {
        name: ci.name.clone(),
        class: ci.class.clone(),
        criticality: ci.criticality,
    }
}

/// Takes the change-log order lock (PostgreSQL), held until the transaction
/// ends. Take it only after every row lock the transaction needs: a holder
/// must never wait for a row, or writers could deadlock.
async fn lock_log_order(tx: &mut Tx) -> Result<()> {
    if let Some(lock) = LOG_ORDER_LOCK {
        sqlx::query(AssertSqlSafe(lock)).execute(&mut **tx).await?;
    }
    Ok(())
}

/// Records a CMDB change in the change log, in the writer's transaction.
async fn log_cmdb(tx: &mut Tx, now: DateTime<Utc>, change: &CmdbChange) -> Result<()> {
    lock_log_order(tx).await?;
    let (kind, name, other, class, criticality) = match change {
        CmdbChange::Ci {
            name,
            class,
            criticality,
        } => (
            "ci",
            Some(name),
            None,
            Some(class.as_str()),
            Some(criticality.as_str()),
        ),
        CmdbChange::CiDeleted { name } => ("ci_deleted", Some(name), None, None, None),
        CmdbChange::Relationship { from, to } => ("rel", Some(from), Some(to), None, None),
        CmdbChange::RelationshipDeleted { from, to } => {
            ("rel_deleted", Some(from), Some(to), None, None)
        }
        CmdbChange::Reload => ("reload", None, None, None, None),
    };
    sqlx::query(
        "INSERT INTO cmdb_log (kind, name, other, class, criticality, at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(kind)
    .bind(name.cloned())
    .bind(other.cloned())
    .bind(class.map(str::to_owned))
    .bind(criticality.map(str::to_owned))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

type LogRow = (
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn cmdb_change_of(
    (seq, kind, name, other, class, criticality): LogRow,
) -> Result<(i64, CmdbChange)> {
    let corrupt = || StoreError::Corrupt(format!("cmdb_log {seq}: incomplete `{kind}` entry"));
    let change = match kind.as_str() {
        "ci" => CmdbChange::Ci {
            name: name.ok_or_else(corrupt)?,
            class: class.ok_or_else(corrupt)?,
            criticality: parse("cmdb_log.criticality", &criticality.ok_or_else(corrupt)?)?,
        },
        "ci_deleted" => CmdbChange::CiDeleted {
            name: name.ok_or_else(corrupt)?,
        },
        "rel" => CmdbChange::Relationship {
            from: name.ok_or_else(corrupt)?,
            to: other.ok_or_else(corrupt)?,
        },
        "rel_deleted" => CmdbChange::RelationshipDeleted {
            from: name.ok_or_else(corrupt)?,
            to: other.ok_or_else(corrupt)?,
        },
        "reload" => CmdbChange::Reload,
        _ => {
            return Err(StoreError::Corrupt(format!(
                "cmdb_log {seq}: kind `{kind}`"
            )));
        }
    };
    Ok((seq, change))
}

/// Parallel snapshot attempts before falling back to one transaction.
const PARALLEL_SNAPSHOT_TRIES: usize = 3;

/// Starts a read transaction whose statements all see one snapshot, on a
/// connection of `pool`.
async fn begin_snapshot(pool: &sqlx::Pool<Db>) -> Result<Tx> {
    begin_snapshot_on(pool.acquire().await?).await
}

/// [`begin_snapshot`] on a given connection: one of a pool's, or one the
/// caller holds.
async fn begin_snapshot_on<'c>(
    connection: impl Into<sqlx::pool::MaybePoolConnection<'c, Db>>,
) -> Result<Transaction<'c, Db>> {
    let statement = BEGIN_SNAPSHOT.map(|s| sqlx::SqlSafeStr::into_sql_str(AssertSqlSafe(s)));
    Ok(Transaction::begin(connection, statement).await?)
}

/// The change-log position a snapshot reflects (its first read, which on
/// SQLite also fixes the snapshot).
async fn log_position(tx: &mut Tx) -> Result<i64> {
    // The pruning horizon counts too: with every entry pruned, the
    // snapshot is still past it.
    let seq: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(seq) FROM (SELECT MAX(seq) AS seq FROM cmdb_log \
         UNION ALL SELECT pruned_through FROM cmdb_log_horizon) positions",
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(seq.unwrap_or(0))
}

/// CIs per chunk when the snapshot is read in chunks.
const SNAPSHOT_CHUNK: i64 = 50_000;

/// Streams every CI into the sink.
async fn stream_cis(tx: &mut Tx, sink: &mut (dyn CmdbSink + Send)) -> Result<()> {
    if SNAPSHOT_IN_CHUNKS {
        return stream_cis_in_chunks(tx, sink).await;
    }
    let mut rows = sqlx::query_as::<_, (i64, String, String, String)>(
        "SELECT id, name, class, criticality FROM cis ORDER BY id",
    )
    .fetch(&mut **tx);
    while let Some((id, name, class, criticality)) = rows.try_next().await? {
        sink.ci(id, &name, &class, parse("cis.criticality", &criticality)?);
    }
    Ok(())
}

/// Every relationship as CI ids, and the log position of its snapshot.
async fn read_relationships(pool: &sqlx::Pool<Db>) -> Result<(i64, Vec<(i64, i64)>)> {
    let mut tx = begin_snapshot(pool).await?;
    let seq = log_position(&mut tx).await?;
    let relationships = relationships_in(&mut tx).await?;
    tx.commit().await?;
    Ok((seq, relationships))
}

/// Every relationship as CI ids, read in the snapshot of `tx`.
async fn relationships_in(tx: &mut Tx) -> Result<Vec<(i64, i64)>> {
    if SNAPSHOT_IN_CHUNKS {
        return read_relationships_in_chunks(tx).await;
    }
    Ok(
        sqlx::query_as::<_, (i64, i64)>("SELECT from_ci, to_ci FROM relationships")
            .fetch(&mut **tx)
            .try_collect()
            .await?,
    )
}

/// The largest id of a table (0 when empty).
async fn max_id(tx: &mut Tx, table: &str) -> Result<i64> {
    let max: Option<i64> = sqlx::query_scalar(sql!("SELECT MAX(id) FROM {table}"))
        .fetch_one(&mut **tx)
        .await?;
    Ok(max.unwrap_or(0))
}

/// SQLite hands rows to the driver one by one, and at a million CIs and
/// four million relationships the per-row cost is most of the build time.
/// So the database concatenates a chunk of rows into one text value (CI
/// names and classes never contain tabs or newlines: `validate` refuses
/// control characters), and the chunk is split here.
async fn stream_cis_in_chunks(tx: &mut Tx, sink: &mut (dyn CmdbSink + Send)) -> Result<()> {
    let last = max_id(tx, "cis").await?;
    let mut after = 0;
    while after < last {
        let chunk: Option<String> = sqlx::query_scalar(
            "SELECT group_concat(id || char(9) || name || char(9) || class || char(9) || criticality, char(10)) \
             FROM cis WHERE id > $1 AND id <= $2",
        )
        .bind(after)
        .bind(after + SNAPSHOT_CHUNK)
        .fetch_one(&mut **tx)
        .await?;
        for line in chunk
            .as_deref()
            .unwrap_or("")
            .split('\n')
            .filter(|l| !l.is_empty())
        {
            let corrupt = || StoreError::Corrupt(format!("cis snapshot row `{line}`"));
            let mut fields = line.split('\t');
            let mut next = || fields.next().ok_or_else(corrupt);
            let id: i64 = next()?.parse().map_err(|_| corrupt())?;
            let (name, class, criticality) = (next()?, next()?, next()?);
            sink.ci(id, name, class, parse("cis.criticality", criticality)?);
        }
        after += SNAPSHOT_CHUNK;
    }
    Ok(())
}

/// Relationships in chunks, as [`stream_cis_in_chunks`] reads CIs.
async fn read_relationships_in_chunks(tx: &mut Tx) -> Result<Vec<(i64, i64)>> {
    let last = max_id(tx, "relationships").await?;
    let mut relationships = Vec::new();
    let mut after = 0;
    while after < last {
        let chunk: Option<String> = sqlx::query_scalar(
            "SELECT group_concat(from_ci || ',' || to_ci, ';') FROM relationships WHERE id > $1 AND id <= $2",
        )
        .bind(after)
        .bind(after + 4 * SNAPSHOT_CHUNK)
        .fetch_one(&mut **tx)
        .await?;
        for pair in chunk
            .as_deref()
            .unwrap_or("")
            .split(';')
            .filter(|p| !p.is_empty())
        {
            let corrupt = || StoreError::Corrupt(format!("relationships snapshot row `{pair}`"));
            let (from, to) = pair.split_once(',').ok_or_else(corrupt)?;
            relationships.push((
                from.parse().map_err(|_| corrupt())?,
                to.parse().map_err(|_| corrupt())?,
            ));
        }
        after += 4 * SNAPSHOT_CHUNK;
    }
    Ok(relationships)
}
