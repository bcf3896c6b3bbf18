// Approval workflow documents, versioned: every save is a new row and the
// highest version of a name is current. Validation is the core's
// (`workflow::validate`) against the groups read in the same transaction,
// so a group deleted concurrently cannot slip past it; each save is
// audited with the version it replaced.

/// The columns of a stored workflow version, in `WorkflowRow` order.
const WORKFLOW_COLUMNS: &str = "w.name, w.version, w.doc, w.created_at, w.created_by";

type WorkflowRow = (String, i32, Json<WorkflowDocument>, DateTime<Utc>, String);

fn workflow_of(row: WorkflowRow) -> Result<StoredWorkflow> {
    let (name, version, Json(document), created_at, created_by) = row;
    Ok(StoredWorkflow {
        name,
        version: u32::try_from(version)
            .map_err(|e| StoreError::Corrupt(format!("workflows.version: {e}")))?,
        active: document.active,
        priority: document.priority,
        document,
        created_at,
        created_by,
    })
}

/// The current version of every workflow, by name.
async fn current_workflows(tx: &mut Transaction<'_, Db>) -> Result<Vec<StoredWorkflow>> {
    let rows: Vec<WorkflowRow> = sqlx::query_as(sql!(
        "SELECT {WORKFLOW_COLUMNS} FROM workflows w \
         WHERE w.version = (SELECT MAX(x.version) FROM workflows x WHERE x.name = w.name) \
         ORDER BY w.name"
    ))
    .fetch_all(&mut **tx)
    .await?;
    rows.into_iter().map(workflow_of).collect()
}

/// One version of a workflow (the current one when `version` is `None`);
/// `lock` holds the row against a concurrent save on PostgreSQL.
async fn workflow_version(
    tx: &mut Tx,
    name: &str,
    version: Option<u32>,
    lock: bool,
) -> Result<Option<StoredWorkflow>> {
    let row: Option<WorkflowRow> = sqlx::query_as(sql!(
        "SELECT {WORKFLOW_COLUMNS} FROM workflows w WHERE w.name = $1 AND ($2 IS NULL OR w.version = $2) \
         ORDER BY w.version DESC LIMIT 1{}",
        if lock { FOR_UPDATE } else { "" }
    ))
    .bind(name.to_owned())
    .bind(version.map(i64::from))
    .fetch_optional(&mut **tx)
    .await?;
    row.map(workflow_of).transpose()
}

/// Writes `document` as `version` of its name.
async fn insert_workflow(
    tx: &mut Tx,
    by: &Caller,
    document: WorkflowDocument,
    version: u32,
) -> Result<StoredWorkflow> {
    sqlx::query(
        "INSERT INTO workflows (name, version, doc, active, priority, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(document.name.clone())
    .bind(i64::from(version))
    .bind(Json(&document))
    .bind(document.active)
    .bind(document.priority)
    .bind(by.now)
    .bind(by.actor.username.clone())
    .execute(&mut **tx)
    .await
    // The unique (name, version) key: another save of this name won.
    .map_err(|e| {
        map_unique(e, || {
            format!(
                "workflow `{}` was saved by someone else at the same time; read it again",
                document.name
            )
        })
    })?;
    Ok(StoredWorkflow {
        name: document.name.clone(),
        version,
        active: document.active,
        priority: document.priority,
        document,
        created_at: by.now,
        created_by: by.actor.username.clone(),
    })
}

/// Checks a document against the groups as they are in this transaction.
async fn validate_workflow_in(tx: &mut Tx, document: &WorkflowDocument) -> Result<()> {
    let directory = load_directory(tx).await?;
    Ok(validate_workflow(document, &directory)?)
}

/// The workflow that applies to `change` on submit, with the facts it is
/// resolved against; `None` when no active workflow matches, and the
/// built-in policy plans the round. `risk_level` is the assessment made for
/// this submission, which is attached to the change only after deciding.
async fn select_workflow_in(
    tx: &mut Tx,
    settings: &Settings,
    change: &Change,
    risk_level: Option<RiskLevel>,
) -> Result<Option<SelectedWorkflow>> {
    let mut facts = ChangeFacts::new(change.change_type, change.requested_by.clone());
    facts.risk_level = risk_level;
    facts.assignment_group = change.assignment_group.clone();
    (facts.ci_classes, facts.ci_owner_groups) = ci_facts(tx, &change.affected_cis).await?;
    let Some(workflow) = select(&settings.workflows, &facts).cloned() else {
        return Ok(None);
    };
    // Every active user goes with the facts only when a lane names a role.
    let names_a_role = workflow.document.stages.iter().any(|stage| {
        stage
            .lanes
            .iter()
            .any(|lane| matches!(lane.approvers, ApproverSpec::Role(_)))
    });
    if names_a_role {
        facts.users = settings.active_users.clone();
    }
    Ok(Some(SelectedWorkflow { workflow, facts }))
}

/// The distinct classes and owner groups of the named CIs.
async fn ci_facts(tx: &mut Tx, cis: &[String]) -> Result<(Vec<String>, Vec<String>)> {
    if cis.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut query = QueryBuilder::<Db>::new("SELECT class, owner_group FROM cis WHERE name IN (");
    let mut names = query.separated(", ");
    for ci in cis {
        names.push_bind(ci.clone());
    }
    query.push(")");
    let rows: Vec<(String, Option<String>)> = query.build_query_as().fetch_all(&mut **tx).await?;
    let (mut classes, owners): (Vec<String>, Vec<Option<String>>) = rows.into_iter().unzip();
    let mut owners: Vec<String> = owners.into_iter().flatten().collect();
    classes.sort();
    classes.dedup();
    owners.sort();
    owners.dedup();
    Ok((classes, owners))
}

/// Every active user with their role, for `role` approvers.
async fn active_users(tx: &mut Transaction<'_, Db>) -> Result<Vec<Actor>> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT username, role FROM users WHERE active = $1 ORDER BY username")
            .bind(true)
            .fetch_all(&mut **tx)
            .await?;
    rows.into_iter()
        .map(|(username, role)| Ok(Actor::new(username, parse("users.role", &role)?)))
        .collect()
}

impl Repo {
    /// Installs the default workflows when no workflow exists at all, so
    /// that running `migrate` again installs nothing and an organisation
    /// that edited or deactivated the defaults keeps its edits.
    async fn install_default_workflows(&self) -> Result<()> {
        let by = Caller::new(
            Actor::new(SYSTEM_AUTHOR, Role::Admin),
            Channel::System,
            Utc::now(),
        );
        let mut tx = self.begin_settings_write().await?;
        let any: Option<String> = sqlx::query_scalar("SELECT name FROM workflows LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
        if any.is_some() {
            return Ok(());
        }
        for document in default_workflows() {
            let stored = match insert_workflow(&mut tx, &by, document, 1).await {
                Ok(stored) => stored,
                // Another instance migrating at the same moment installed them.
                Err(StoreError::Duplicate(_)) => return Ok(()),
                Err(err) => return Err(err),
            };
            audit(
                &mut tx,
                &by,
                ("workflow", &stored.name),
                "workflow.created",
                None,
                Some(json_of(&stored)?),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl WorkflowStore for Repo {
    async fn list_workflows(&self) -> Result<Vec<StoredWorkflow>> {
        let mut tx = self.pool.begin().await?;
        let workflows = current_workflows(&mut tx).await?;
        tx.commit().await?;
        Ok(workflows)
    }

    async fn get_workflow(
        &self,
        name: &str,
        version: Option<u32>,
    ) -> Result<Option<WorkflowHistory>> {
        let mut tx = self.pool.begin().await?;
        let Some(workflow) = workflow_version(&mut tx, name, version, false).await? else {
            return Ok(None);
        };
        let rows: Vec<WorkflowRow> = sqlx::query_as(sql!(
            "SELECT {WORKFLOW_COLUMNS} FROM workflows w WHERE w.name = $1 ORDER BY w.version"
        ))
        .bind(name.to_owned())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let versions = rows
            .into_iter()
            .map(|row| {
                workflow_of(row).map(|stored| WorkflowVersion {
                    version: stored.version,
                    active: stored.active,
                    priority: stored.priority,
                    created_at: stored.created_at,
                    created_by: stored.created_by,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Some(WorkflowHistory { workflow, versions }))
    }

    async fn create_workflow(
        &self,
        by: &Caller,
        document: WorkflowDocument,
    ) -> Result<StoredWorkflow> {
        require(&by.actor, Permission::ManageWorkflows)?;
        let mut tx = self.begin_settings_write().await?;
        validate_workflow_in(&mut tx, &document).await?;
        if workflow_version(&mut tx, &document.name, None, true)
            .await?
            .is_some()
        {
            return Err(StoreError::Duplicate(format!(
                "a workflow named `{}` already exists: PUT /api/workflows/{} saves a new version",
                document.name, document.name
            )));
        }
        let stored = insert_workflow(&mut tx, by, document, 1).await?;
        audit(
            &mut tx,
            by,
            ("workflow", &stored.name),
            "workflow.created",
            None,
            Some(json_of(&stored)?),
        )
        .await?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn update_workflow(
        &self,
        by: &Caller,
        name: &str,
        expected_version: Option<u32>,
        document: WorkflowDocument,
    ) -> Result<StoredWorkflow> {
        require(&by.actor, Permission::ManageWorkflows)?;
        let mut tx = self.begin_settings_write().await?;
        let current = workflow_version(&mut tx, name, None, true)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("workflow {name}")))?;
        if let Some(expected) = expected_version
            && expected != current.version
        {
            return Err(Refusal::conflict(
                "stale_version",
                format!(
                    "workflow `{name}` is at version {}, not {expected}",
                    current.version
                ),
            )
            .into());
        }
        if document.name != name {
            // Versions belong to a name; a new name is a new workflow.
            return Err(StoreError::invalid(
                "name",
                format!("must be `{name}`: a workflow cannot be renamed"),
            ));
        }
        validate_workflow_in(&mut tx, &document).await?;
        let stored = insert_workflow(&mut tx, by, document, current.version + 1).await?;
        audit(
            &mut tx,
            by,
            ("workflow", name),
            "workflow.updated",
            Some(json_of(&current)?),
            Some(json_of(&stored)?),
        )
        .await?;
        tx.commit().await?;
        Ok(stored)
    }
}
