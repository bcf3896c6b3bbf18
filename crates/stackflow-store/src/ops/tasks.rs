// Implementation tasks of a change.

type TaskRow = (
    i64,
    String,
    Option<String>,
    i64,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
);
const TASK_COLUMNS: &str = "id, title, assignee, position, state, created_at, updated_at";

fn task_of(
    (id, title, assignee, position, state, created_at, updated_at): TaskRow,
) -> Result<Task> {
    Ok(Task {
        id,
        title,
        assignee,
        position,
        state: parse("tasks.state", &state)?,
        created_at,
        updated_at,
    })
}

async fn load_tasks(tx: &mut Tx, change_id: i64) -> Result<Vec<Task>> {
    let rows: Vec<TaskRow> = sqlx::query_as(sql!(
        "SELECT {TASK_COLUMNS} FROM tasks WHERE change_id = $1 ORDER BY position, id"
    ))
    .bind(change_id)
    .fetch_all(&mut **tx)
    .await?;
    rows.into_iter().map(task_of).collect()
}

async fn check_assignee(tx: &mut Tx, assignee: Option<&String>) -> Result<()> {
    if let Some(person) = assignee
        && user_id(tx, person).await?.is_none()
    {
        return Err(StoreError::invalid(
            "assignee",
            format!("no user named `{person}`"),
        ));
    }
    Ok(())
}

/// Bumps the change's version for a write to one of its parts (tasks), so
/// that `If-Match` covers the whole change and concurrent writers serialise.
async fn touch_change(tx: &mut Tx, id: i64, change: &Change, now: DateTime<Utc>) -> Result<Change> {
    let mut next = change.clone();
    next.version += 1;
    next.updated_at = now;
    save_change(tx, id, change, &next).await?;
    Ok(next)
}

/// Moves the task at `from` to `to` (1-based), shifting those between.
async fn move_task(tx: &mut Tx, change_id: i64, task_id: i64, from: i64, to: i64) -> Result<()> {
    if to < from {
        sqlx::query("UPDATE tasks SET position = position + 1 WHERE change_id = $1 AND position >= $2 AND position < $3")
            .bind(change_id)
            .bind(to)
            .bind(from)
            .execute(&mut **tx)
            .await?;
    } else if to > from {
        sqlx::query("UPDATE tasks SET position = position - 1 WHERE change_id = $1 AND position > $2 AND position <= $3")
            .bind(change_id)
            .bind(from)
            .bind(to)
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query("UPDATE tasks SET position = $1 WHERE id = $2")
        .bind(to)
        .bind(task_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[async_trait]
impl TaskStore for Repo {
    async fn list_tasks(&self, number: ChangeNumber) -> Result<Vec<Task>> {
        let mut tx = self.pool.begin().await?;
        let (id, _) = load_change(&mut tx, number, false).await?;
        let tasks = load_tasks(&mut tx, id).await?;
        tx.commit().await?;
        Ok(tasks)
    }

    async fn add_task(
        &self,
        by: &Caller,
        number: ChangeNumber,
        expected_version: Option<i64>,
        task: NewTask,
    ) -> Result<Task> {
        let mut tx = self.begin_write().await?;
        let (change_id, change) = load_change(&mut tx, number, true).await?;
        check_version(expected_version, &change)?;
        let directory = load_directory(&mut tx).await?;
        may_manage_tasks(&change, &by.actor, &directory)?;
        check_task_addable(&change)?;
        check_task_title(&task.title)?;
        check_assignee(&mut tx, task.assignee.as_ref()).await?;
        let count = load_tasks(&mut tx, change_id).await?.len() as i64;
        let position = task.position.unwrap_or(count + 1);
        check_position(position, count + 1).map_err(|e| StoreError::invalid_fields(vec![e]))?;
        sqlx::query(
            "UPDATE tasks SET position = position + 1 WHERE change_id = $1 AND position >= $2",
        )
        .bind(change_id)
        .bind(position)
        .execute(&mut *tx)
        .await?;
        let row: TaskRow = sqlx::query_as(sql!(
            "INSERT INTO tasks (change_id, title, assignee, position, state, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {TASK_COLUMNS}"
        ))
        .bind(change_id)
        .bind(task.title.trim().to_owned())
        .bind(task.assignee.clone())
        .bind(position)
        .bind(TaskState::Open.as_str())
        .bind(by.now)
        .fetch_one(&mut *tx)
        .await?;
        let created = task_of(row)?;
        touch_change(&mut tx, change_id, &change, by.now).await?;
        audit(
            &mut tx,
            by,
            ("change", &number.to_string()),
            "task.created",
            None,
            Some(json_of(&created)?),
        )
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn update_task(
        &self,
        by: &Caller,
        number: ChangeNumber,
        task_id: i64,
        expected_version: Option<i64>,
        patch: TaskPatch,
    ) -> Result<Task> {
        let mut tx = self.begin_write().await?;
        let (change_id, change) = load_change(&mut tx, number, true).await?;
        check_version(expected_version, &change)?;
        let tasks = load_tasks(&mut tx, change_id).await?;
        let before = tasks
            .iter()
            .find(|t| t.id == task_id)
            .cloned()
            .ok_or_else(|| StoreError::NotFound(format!("task {task_id} of {number}")))?;
        let directory = load_directory(&mut tx).await?;
        may_manage_tasks(&change, &by.actor, &directory)?;
        check_task_addable(&change)?;
        let mut after = before.clone();
        if let Some(title) = patch.title {
            check_task_title(&title)?;
            after.title = title.trim().to_owned();
        }
        if let Some(assignee) = patch.assignee {
            check_assignee(&mut tx, assignee.as_ref()).await?;
            after.assignee = assignee;
        }
        if let Some(state) = patch.state {
            check_task_transition(change.state, before.state, state)?;
            after.state = state;
        }
        if let Some(position) = patch.position {
            check_position(position, tasks.len() as i64)
                .map_err(|e| StoreError::invalid_fields(vec![e]))?;
            move_task(&mut tx, change_id, task_id, before.position, position).await?;
            after.position = position;
        }
        after.updated_at = by.now;
        sqlx::query(
            "UPDATE tasks SET title = $1, assignee = $2, state = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(after.title.clone())
        .bind(after.assignee.clone())
        .bind(after.state.as_str())
        .bind(by.now)
        .bind(task_id)
        .execute(&mut *tx)
        .await?;
        touch_change(&mut tx, change_id, &change, by.now).await?;
        audit(
            &mut tx,
            by,
            ("change", &number.to_string()),
            "task.updated",
            Some(json_of(&before)?),
            Some(json_of(&after)?),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }
}
