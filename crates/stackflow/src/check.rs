//! `stackflow check`: are the prerequisites of running change enablement
//! in place? Prints each with what is missing and how to fix it; exits
//! non-zero when anything is missing.
//!
//! The shell ([`run`]) gathers [`Facts`] from the database; [`findings`]
//! judges them, pure and tested directly.

use crate::config::Config;
use stackflow_core::{Directory, GroupKind};
use stackflow_store::{Job, Store};

/// What `check` read from the database.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The database answered (else the error).
    pub database: Option<String>,
    /// Migrations not applied yet.
    pub pending_migrations: Vec<String>,
    /// Groups and their active members.
    pub directory: Directory,
    /// Names of the active `change_approval` workflows.
    pub active_workflows: Vec<String>,
    /// Jobs whose last run failed.
    pub failing_jobs: Vec<Job>,
}

/// How one prerequisite stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// In place.
    Ok,
    /// Missing: `check` fails.
    Missing,
    /// Not part of this version, so not checked.
    NotChecked,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Where it stands.
    pub status: Status,
    /// What was checked and found.
    pub what: String,
    /// How to fix it, when missing.
    pub fix: Option<String>,
}

fn ok(what: impl Into<String>) -> Finding {
    Finding {
        status: Status::Ok,
        what: what.into(),
        fix: None,
    }
}

fn missing(what: impl Into<String>, fix: impl Into<String>) -> Finding {
    Finding {
        status: Status::Missing,
        what: what.into(),
        fix: Some(fix.into()),
    }
}

/// The emergency rule needs two distinct approvers besides the requester.
const MIN_ECAB_MEMBERS: usize = 2;

/// Judges the facts, one finding per prerequisite.
pub fn findings(facts: &Facts) -> Vec<Finding> {
    if let Some(error) = &facts.database {
        return vec![missing(
            format!("the database does not answer: {error}"),
            "check --db / STACKFLOW_DATABASE_URL and that the server is running",
        )];
    }
    let mut found = vec![ok("the database answers")];
    if !facts.pending_migrations.is_empty() {
        // Nothing else can be read before the schema is there.
        found.push(missing(
            format!(
                "migrations not applied: {}",
                facts.pending_migrations.join(", ")
            ),
            "run `stackflow migrate` (serve migrates on start as well), then check again",
        ));
        return found;
    }
    found.push(ok("every migration is applied"));
    found.push(group_check(&facts.directory, GroupKind::Cab, 1, "CAB"));
    found.push(group_check(
        &facts.directory,
        GroupKind::Ecab,
        MIN_ECAB_MEMBERS,
        "ECAB",
    ));
    found.push(match facts.active_workflows.as_slice() {
        [] => missing(
            "no active change_approval workflow: submissions fall back to the built-in policy",
            "load one with `stackflow workflow load FILE` (docs/workflows.md), or reactivate a default",
        ),
        names => ok(format!("active approval workflows: {}", names.join(", "))),
    });
    found.push(if facts.failing_jobs.is_empty() {
        ok("no background job is failing")
    } else {
        let jobs: Vec<String> = (facts.failing_jobs.iter())
            .map(|job| {
                let kind = job
                    .kind
                    .as_ref()
                    .map_or_else(|k| k.clone(), |k| k.to_string());
                let error = job.last_error.as_deref().unwrap_or("");
                format!("{kind} {} ({} attempts: {error})", job.key, job.attempts)
            })
            .collect();
        missing(
            format!("background jobs failing: {}", jobs.join("; ")),
            "see the log lines `job failed` and docs/jobs.md",
        )
    });
    found.push(Finding {
        status: Status::NotChecked,
        what: "mail sender and SMTP relay, event topic signing secret: outbound e-mail and webhooks are not part of this version".into(),
        fix: None,
    });
    found
}

/// A group of `kind` with at least `least` active members.
fn group_check(directory: &Directory, kind: GroupKind, least: usize, label: &str) -> Finding {
    let groups: Vec<_> = directory.groups.iter().filter(|g| g.kind == kind).collect();
    let add = format!(
        "stackflow group add {label} --kind {kind} --members a,b{}",
        if least > 2 { ",c" } else { "" }
    );
    match groups.iter().find(|g| g.members.len() >= least) {
        Some(group) => ok(format!(
            "{label}: group `{}` with {} active member(s)",
            group.name,
            group.members.len()
        )),
        None if groups.is_empty() => missing(format!("no group of kind `{kind}` ({label})"), add),
        None => missing(
            format!("the {label} group has fewer than {least} active member(s)"),
            format!(
                "stackflow group members {} --set a,b (at least {least})",
                groups[0].name
            ),
        ),
    }
}

/// Gathers the facts from the configured database, prints the report and
/// returns whether everything is in place.
pub async fn run(config: &Config) -> anyhow::Result<bool> {
    println!(
        "stackflow check: {}",
        crate::cli::redact(&config.database_url)
    );
    let facts = gather(config).await;
    let report = findings(&facts);
    for finding in &report {
        let label = match finding.status {
            Status::Ok => "ok",
            Status::Missing => "MISSING",
            Status::NotChecked => "n/a",
        };
        println!("  {label:<8} {}", finding.what);
        if let Some(fix) = &finding.fix {
            println!("  {:<8}   fix: {fix}", "");
        }
    }
    let missing = report
        .iter()
        .filter(|f| f.status == Status::Missing)
        .count();
    if missing == 0 {
        println!("everything is in place");
    } else {
        println!("{missing} prerequisite(s) missing");
    }
    Ok(missing == 0)
}

async fn gather(config: &Config) -> Facts {
    let store = match stackflow_store::connect(&config.database_url).await {
        Ok(store) => store,
        Err(error) => {
            return Facts {
                database: Some(error.to_string()),
                ..Facts::default()
            };
        }
    };
    let facts = read(&*store).await.unwrap_or_else(|error| Facts {
        database: Some(error.to_string()),
        ..Facts::default()
    });
    store.close().await;
    facts
}

async fn read(store: &dyn Store) -> stackflow_store::Result<Facts> {
    store.ping().await?;
    let pending_migrations = store.pending_migrations().await?;
    if !pending_migrations.is_empty() {
        // The rest would read tables that may not exist yet.
        return Ok(Facts {
            pending_migrations,
            ..Facts::default()
        });
    }
    let directory = store.directory().await?;
    let failing_jobs = (store.pending_jobs().await?)
        .into_iter()
        .filter(|job| job.last_error.is_some())
        .collect();
    Ok(Facts {
        database: None,
        pending_migrations,
        directory,
        active_workflows: (store.list_workflows().await?)
            .into_iter()
            .filter(|w| w.active)
            .map(|w| w.name)
            .collect(),
        failing_jobs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use stackflow_core::GroupInfo;

    fn group(name: &str, kind: GroupKind, members: &[&str]) -> GroupInfo {
        GroupInfo {
            name: name.into(),
            kind,
            members: members.iter().map(|m| (*m).into()).collect(),
        }
    }

    fn ready() -> Facts {
        Facts {
            directory: Directory::of_groups(vec![
                group("CAB", GroupKind::Cab, &["bob", "carol", "dave"]),
                group("ECAB", GroupKind::Ecab, &["bob", "carol"]),
            ]),
            active_workflows: vec!["emergency-default".into(), "normal-default".into()],
            ..Facts::default()
        }
    }

    fn missing_lines(facts: &Facts) -> Vec<String> {
        findings(facts)
            .into_iter()
            .filter(|f| f.status == Status::Missing)
            .map(|f| f.what)
            .collect()
    }

    #[test]
    fn an_organisation_with_its_boards_and_workflows_is_ready() {
        assert!(missing_lines(&ready()).is_empty());
        // What this version cannot check is said, not counted.
        assert!(
            findings(&ready())
                .iter()
                .any(|f| f.status == Status::NotChecked && f.what.contains("SMTP"))
        );
    }

    #[test]
    fn each_missing_prerequisite_is_named_with_its_fix() {
        let mut facts = ready();
        facts.directory.groups.retain(|g| g.kind != GroupKind::Cab);
        facts.directory.groups[0].members.truncate(1);
        facts.active_workflows.clear();
        let report = findings(&facts);
        let missing: Vec<_> = report
            .iter()
            .filter(|f| f.status == Status::Missing)
            .collect();
        assert_eq!(missing.len(), 3, "{report:?}");
        assert!(missing[0].what.contains("no group of kind `cab`"));
        assert!(
            (missing[0].fix.as_deref()).is_some_and(|fix| fix.contains("group add CAB --kind cab"))
        );
        assert!(missing[1].what.contains("ECAB group has fewer than 2"));
        assert!(
            missing[2]
                .what
                .contains("no active change_approval workflow")
        );
    }

    #[test]
    fn an_unmigrated_or_unreachable_database_stops_the_report() {
        let unmigrated = Facts {
            pending_migrations: vec!["0007_jobs".into()],
            ..Facts::default()
        };
        assert_eq!(
            missing_lines(&unmigrated),
            vec!["migrations not applied: 0007_jobs".to_owned()]
        );
        let down = Facts {
            database: Some("connection refused".into()),
            ..Facts::default()
        };
        let report = findings(&down);
        assert_eq!(report.len(), 1);
        assert!(report[0].what.contains("connection refused"));
    }
}
