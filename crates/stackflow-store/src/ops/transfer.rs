// Bulk CMDB import and export.
//
// An import is one write transaction. The file is parsed on a blocking
// thread and its rows arrive here over a bounded channel (so a slow
// database slows the reader, and memory stays flat); they go into TEMP
// staging tables (`import_cis`, `import_relationships`, created by each
// backend's `create_import_staging`), then set-based SQL marks duplicates,
// unknown owner groups and unknown CIs, counts what would change, and
// upserts. Rows that failed their own checks never reach the staging
// tables; they are listed from memory. Any rejected row, or a dry run,
// and the transaction is rolled back: nothing of the file is applied.

/// Rows handed from the parser thread to the writer at a time.
const PARSE_BATCH: usize = 4_096;
/// Staged rows written to the database at a time.
const STAGE_BATCH: usize = 16_384;
/// Above this many changed CIs and new relationships, an import logs one
/// `Reload` for the impact index instead of one entry per row.
const MAX_LOGGED_CHANGES: usize = 10_000;

/// A valid CI row on its way to the staging table.
struct StagedCi {
    seq: i64,
    line: String,
    ci: CiRecord,
}

/// A valid relationship row on its way to the staging table.
struct StagedRelationship {
    seq: i64,
    line: String,
    relationship: RelationshipRecord,
}

/// Rows the parser rejected: listed up to the report's limit, all counted.
#[derive(Default)]
struct ParseRejections {
    listed: Vec<(i64, RejectedRow)>,
    cis: u64,
    relationships: u64,
}

impl ParseRejections {
    fn add(&mut self, seq: i64, at: RowRef, ci_row: bool, reason: String) {
        if ci_row {
            self.cis += 1;
        } else {
            self.relationships += 1;
        }
        if self.listed.len() < transfer::MAX_REJECTED_LISTED {
            self.listed.push((seq, RejectedRow { line: at, reason }));
        }
    }
}

/// "`x` is the same CI as line 3": how a message names another row.
fn row_word(kind: transfer::ImportKind) -> &'static str {
    if kind == transfer::ImportKind::Json {
        ""
    } else {
        "line "
    }
}

fn file_refusal(err: FileError) -> StoreError {
    StoreError::invalid("file", err.to_string())
}

/// Reads the file on a blocking thread, sending batches of rows.
fn spawn_parser(
    source: ImportSource,
    sender: tokio::sync::mpsc::Sender<Vec<ParsedRow>>,
) -> tokio::task::JoinHandle<std::result::Result<transfer::ImportKind, FileError>> {
    tokio::task::spawn_blocking(move || {
        let mut batch = Vec::with_capacity(PARSE_BATCH);
        let kind = transfer::parse(source, &mut |row| {
            batch.push(row);
            batch.len() < PARSE_BATCH
                || sender
                    .blocking_send(std::mem::replace(
                        &mut batch,
                        Vec::with_capacity(PARSE_BATCH),
                    ))
                    .is_ok()
        })?;
        if !batch.is_empty() && sender.blocking_send(batch).is_err() {
            return Err(FileError::Abandoned);
        }
        Ok(kind)
    })
}

/// Takes the parser's rows into the staging tables as they arrive.
async fn stage_rows(
    tx: &mut Tx,
    mut receiver: tokio::sync::mpsc::Receiver<Vec<ParsedRow>>,
    rejections: &mut ParseRejections,
) -> Result<()> {
    let mut cis = Vec::with_capacity(STAGE_BATCH);
    let mut relationships = Vec::with_capacity(STAGE_BATCH);
    while let Some(rows) = receiver.recv().await {
        for row in rows {
            match row {
                ParsedRow::Ci { seq, at, ci } => cis.push(StagedCi {
                    seq,
                    line: at.label(),
                    ci,
                }),
                ParsedRow::Relationship {
                    seq,
                    at,
                    relationship,
                } => relationships.push(StagedRelationship {
                    seq,
                    line: at.label(),
                    relationship,
                }),
                ParsedRow::Rejected {
                    seq,
                    at,
                    ci_row,
                    reason,
                } => rejections.add(seq, at, ci_row, reason),
            }
        }
        if cis.len() >= STAGE_BATCH {
            stage_ci_batch(tx, &cis).await?;
            cis.clear();
        }
        if relationships.len() >= STAGE_BATCH {
            stage_relationship_batch(tx, &relationships).await?;
            relationships.clear();
        }
    }
    if !cis.is_empty() {
        stage_ci_batch(tx, &cis).await?;
    }
    if !relationships.is_empty() {
        stage_relationship_batch(tx, &relationships).await?;
    }
    Ok(())
}

/// True where a row (`new`) differs from the stored CI (`old`) in any field.
fn ci_changed(old: &str, new: &str) -> String {
    ["class", "environment", "criticality", "attributes"]
        .iter()
        .map(|field| format!("{old}.{field} <> {new}.{field}"))
        .chain([format!(
            "{old}.owner_group IS DISTINCT FROM {new}.owner_group"
        )])
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// Marks duplicate CI rows and rows naming an unknown owner group;
/// returns how many were marked.
async fn reject_bad_cis(tx: &mut Tx, kind: transfer::ImportKind) -> Result<u64> {
    let duplicates = sqlx::query(
        "UPDATE import_cis SET reason = 'duplicate of ' || CAST($1 AS TEXT) || \
         (SELECT e.line FROM import_cis e WHERE e.name = import_cis.name ORDER BY e.seq LIMIT 1) \
         || ': CI `' || name || '` appears twice' \
         WHERE EXISTS (SELECT 1 FROM import_cis e WHERE e.name = import_cis.name AND e.seq < import_cis.seq)",
    )
    .bind(row_word(kind))
    .execute(&mut **tx)
    .await?
    .rows_affected();
    let unknown_groups = sqlx::query(
        "UPDATE import_cis SET reason = 'owner_group: no group named `' || owner_group || '`' \
         WHERE reason IS NULL AND owner_group IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM groups g WHERE g.name = import_cis.owner_group)",
    )
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(duplicates + unknown_groups)
}

/// Created and updated counts of the valid staged CIs, before applying.
async fn count_cis(tx: &mut Tx) -> Result<(u64, u64, u64)> {
    let (valid, created, updated): (i64, i64, i64) = sqlx::query_as(sql!(
        "SELECT COUNT(*), \
         COALESCE(SUM(CASE WHEN c.id IS NULL THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN c.id IS NOT NULL AND ({}) THEN 1 ELSE 0 END), 0) \
         FROM import_cis s LEFT JOIN cis c ON c.name = s.name WHERE s.reason IS NULL",
        ci_changed("c", "s")
    ))
    .fetch_one(&mut **tx)
    .await?;
    let as_count = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok((as_count(valid), as_count(created), as_count(updated)))
}

/// The change-log entries of the CIs this import wrote (created or
/// changed), read back after the upsert: every row it wrote carries its time
/// in `updated_at`, and holds the written values under this transaction's
/// row locks. A concurrent writer's row stamped with the same instant adds a
/// harmless entry with current values. One more than the limit is read, to
/// know it is over.
async fn ci_log_entries(tx: &mut Tx, now: DateTime<Utc>) -> Result<Vec<CmdbChange>> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT c.name, c.class, c.criticality FROM import_cis s JOIN cis c ON c.name = s.name \
         WHERE s.reason IS NULL AND c.updated_at = $1 ORDER BY s.seq LIMIT $2",
    )
    .bind(now)
    .bind(i64::try_from(MAX_LOGGED_CHANGES).unwrap_or(i64::MAX) + 1)
    .fetch_all(&mut **tx)
    .await?;
    rows.into_iter()
        .map(|(name, class, criticality)| {
            Ok(CmdbChange::Ci {
                name,
                class,
                criticality: parse("import_cis.criticality", &criticality)?,
            })
        })
        .collect()
}

/// Inserts new CIs and updates changed ones, in file order (so ids follow
/// the file and an export of the result lists CIs as the file did).
async fn upsert_cis(tx: &mut Tx, now: DateTime<Utc>) -> Result<()> {
    sqlx::query(sql!(
        "INSERT INTO cis (name, class, environment, criticality, owner_group, attributes, created_at, updated_at) \
         SELECT name, class, environment, criticality, owner_group, attributes, $1, $1 \
         FROM import_cis WHERE reason IS NULL ORDER BY seq \
         ON CONFLICT (name) DO UPDATE SET class = excluded.class, environment = excluded.environment, \
         criticality = excluded.criticality, owner_group = excluded.owner_group, \
         attributes = excluded.attributes, updated_at = excluded.updated_at \
         WHERE {}",
        ci_changed("cis", "excluded")
    ))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Marks duplicate relationship rows and rows naming a CI that does not
/// exist (CIs of the same file are applied by now); returns how many.
async fn reject_bad_relationships(tx: &mut Tx, kind: transfer::ImportKind) -> Result<u64> {
    let duplicates = sqlx::query(
        "UPDATE import_relationships SET reason = 'duplicate of ' || CAST($1 AS TEXT) || \
         (SELECT e.line FROM import_relationships e WHERE e.from_name = import_relationships.from_name \
          AND e.to_name = import_relationships.to_name AND e.rel_type = import_relationships.rel_type \
          ORDER BY e.seq LIMIT 1) || ': the same relationship appears twice' \
         WHERE EXISTS (SELECT 1 FROM import_relationships e WHERE e.from_name = import_relationships.from_name \
          AND e.to_name = import_relationships.to_name AND e.rel_type = import_relationships.rel_type \
          AND e.seq < import_relationships.seq)",
    )
    .bind(row_word(kind))
    .execute(&mut **tx)
    .await?
    .rows_affected();
    // The rows are found with one pass of joins (hash joins on PostgreSQL);
    // the reason is worked out only for the rows found, usually none.
    let unknown = sqlx::query(
        "UPDATE import_relationships SET reason = 'no CI named `' || \
         CASE WHEN NOT EXISTS (SELECT 1 FROM cis c WHERE c.name = import_relationships.from_name) \
         THEN from_name ELSE to_name END || '`' \
         WHERE seq IN (SELECT s.seq FROM import_relationships s \
         LEFT JOIN cis f ON f.name = s.from_name LEFT JOIN cis t ON t.name = s.to_name \
         WHERE s.reason IS NULL AND (f.id IS NULL OR t.id IS NULL))",
    )
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(duplicates + unknown)
}

/// Inserts the relationships that do not exist yet, in file order; returns
/// how many were new.
async fn insert_relationships(tx: &mut Tx, now: DateTime<Utc>) -> Result<u64> {
    Ok(sqlx::query(
        "INSERT INTO relationships (from_ci, to_ci, rel_type, created_at) \
         SELECT f.id, t.id, s.rel_type, $1 FROM import_relationships s \
         JOIN cis f ON f.name = s.from_name JOIN cis t ON t.name = s.to_name \
         WHERE s.reason IS NULL ORDER BY s.seq ON CONFLICT DO NOTHING",
    )
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

/// Rows the database rejected, in file order, at most the report's limit.
async fn database_rejections(tx: &mut Tx) -> Result<Vec<(i64, RejectedRow)>> {
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT seq, line, reason FROM import_cis WHERE reason IS NOT NULL \
         UNION ALL SELECT seq, line, reason FROM import_relationships WHERE reason IS NOT NULL \
         ORDER BY 1 LIMIT $1",
    )
    .bind(i64::try_from(transfer::MAX_REJECTED_LISTED).unwrap_or(i64::MAX))
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(seq, line, reason)| {
            let line = RowRef::from_label(&line);
            (seq, RejectedRow { line, reason })
        })
        .collect())
}

/// Logs what the impact index must learn: each changed CI and each new
/// relationship, or one `Reload` when that would be too many entries.
async fn log_import(tx: &mut Tx, now: DateTime<Utc>, relationships_created: u64) -> Result<()> {
    let ci_entries = ci_log_entries(tx, now).await?;
    let total = ci_entries.len() as u64 + relationships_created;
    if total == 0 {
        return Ok(());
    }
    if total > MAX_LOGGED_CHANGES as u64 {
        return log_cmdb(tx, now, &CmdbChange::Reload).await;
    }
    for entry in &ci_entries {
        log_cmdb(tx, now, entry).await?;
    }
    if relationships_created > 0 {
        // The relationships this import inserted carry its time; as for CIs,
        // a concurrent one of the same instant only adds a harmless entry.
        let created: Vec<(String, String)> = sqlx::query_as(
            "SELECT f.name, t.name FROM import_relationships s \
             JOIN cis f ON f.name = s.from_name JOIN cis t ON t.name = s.to_name \
             JOIN relationships r ON r.from_ci = f.id AND r.to_ci = t.id AND r.rel_type = s.rel_type \
             WHERE s.reason IS NULL AND r.created_at = $1 ORDER BY s.seq",
        )
        .bind(now)
        .fetch_all(&mut **tx)
        .await?;
        for (from, to) in created {
            log_cmdb(tx, now, &CmdbChange::Relationship { from, to }).await?;
        }
    }
    Ok(())
}

/// Puts the listed rejections of both sources in file order, cut to the limit.
fn merge_rejections(
    mut parsed: Vec<(i64, RejectedRow)>,
    database: Vec<(i64, RejectedRow)>,
) -> Vec<RejectedRow> {
    parsed.extend(database);
    parsed.sort_by_key(|(seq, _)| *seq);
    parsed.truncate(transfer::MAX_REJECTED_LISTED);
    parsed.into_iter().map(|(_, row)| row).collect()
}

#[async_trait]
impl CmdbTransferStore for Repo {
    async fn import_cmdb(
        &self,
        by: &Caller,
        source: ImportSource,
        options: ImportOptions,
    ) -> Result<ImportReport> {
        require(&by.actor, Permission::ManageCmdb)?;
        let (sender, receiver) = tokio::sync::mpsc::channel(8);
        let parser = spawn_parser(source, sender);
        let mut tx = self.begin_write().await?;
        create_import_staging(&mut tx).await?;
        // Staging changes connection settings (SQLite's page cache): undo
        // them on every way out, errors included.
        let staged = async {
            let mut parse_rejections = ParseRejections::default();
            stage_rows(&mut tx, receiver, &mut parse_rejections).await?;
            let kind = match parser.await {
                Ok(Ok(kind)) => kind,
                Ok(Err(err)) => return Err(file_refusal(err)),
                Err(failure) => {
                    return Err(StoreError::Io(std::io::Error::other(format!(
                        "the import parser failed: {failure}"
                    ))));
                }
            };
            index_import_staging(&mut tx).await?;

            let ci_rejected = parse_rejections.cis + reject_bad_cis(&mut tx, kind).await?;
            let (ci_valid, ci_created, ci_updated) = count_cis(&mut tx).await?;
            let may_apply =
                !options.dry_run && ci_rejected == 0 && parse_rejections.relationships == 0;
            upsert_cis(&mut tx, by.now).await?;

            let relationship_rejected =
                parse_rejections.relationships + reject_bad_relationships(&mut tx, kind).await?;
            let relationship_valid: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM import_relationships WHERE reason IS NULL",
            )
            .fetch_one(&mut *tx)
            .await?;
            let relationships_created = insert_relationships(&mut tx, by.now).await?;

            let rejected_total = ci_rejected + relationship_rejected;
            let listed =
                merge_rejections(parse_rejections.listed, database_rejections(&mut tx).await?);
            let report = ImportReport {
                kind,
                applied: may_apply && rejected_total == 0,
                dry_run: options.dry_run,
                cis: transfer::CiCounts {
                    created: ci_created,
                    updated: ci_updated,
                    unchanged: ci_valid - ci_created - ci_updated,
                    rejected: ci_rejected,
                },
                relationships: transfer::RelationshipCounts {
                    created: relationships_created,
                    unchanged: u64::try_from(relationship_valid).unwrap_or(0)
                        - relationships_created,
                    rejected: relationship_rejected,
                },
                rejected_rows_truncated: rejected_total > listed.len() as u64,
                rejected_rows: listed,
            };
            if report.applied {
                // Read from the staging tables, so before they go.
                log_import(&mut tx, by.now, relationships_created).await?;
            }
            Ok(report)
        }
        .await;
        let cleaned = drop_import_staging(&mut tx).await;
        let report: ImportReport = staged?;
        cleaned?;
        if !report.applied {
            tx.rollback().await?;
            return Ok(report);
        }
        let counts = serde_json::json!({"cis": report.cis, "relationships": report.relationships});
        audit(
            &mut tx,
            by,
            ("cmdb", report.kind.as_str()),
            "cmdb.imported",
            None,
            Some(counts),
        )
        .await?;
        tx.commit().await?;
        let written = report.cis.created + report.cis.updated + report.relationships.created;
        if written > MAX_LOGGED_CHANGES as u64 {
            // A bulk load leaves the planner's statistics stale (on
            // PostgreSQL until autovacuum gets to it), and plans made from
            // them scan whole tables. Refreshing costs well under a second.
            for statement in REFRESH_STATISTICS {
                if let Err(error) = sqlx::query(*statement).execute(&self.pool).await {
                    tracing::warn!(%error, "refreshing planner statistics after an import");
                }
            }
        }
        Ok(report)
    }

    async fn export_cmdb(&self, sink: &mut (dyn ExportSink + Send)) -> Result<()> {
        let mut tx = begin_snapshot(&self.pool).await?;
        {
            let mut rows =
                sqlx::query_as::<_, CiRow>(sql!("SELECT {CI_COLUMNS} FROM cis ORDER BY id"))
                    .fetch(&mut *tx);
            while let Some(row) = rows.try_next().await? {
                let (_, ci) = ci_of(row)?;
                sink.ci(&CiRecord {
                    name: ci.name,
                    class: ci.class,
                    criticality: ci.criticality,
                    environment: ci.environment,
                    owner_group: ci.owner_group,
                    attributes: ci.attributes,
                })?;
            }
        }
        {
            let mut rows = sqlx::query_as::<_, (String, String, String)>(
                "SELECT f.name, t.name, r.rel_type FROM relationships r \
                 JOIN cis f ON f.id = r.from_ci JOIN cis t ON t.id = r.to_ci ORDER BY r.id",
            )
            .fetch(&mut *tx);
            while let Some((from, to, rel_type)) = rows.try_next().await? {
                sink.relationship(&RelationshipRecord {
                    from,
                    to,
                    rel_type: parse("relationships.rel_type", &rel_type)?,
                })?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}
