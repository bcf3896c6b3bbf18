//! Getting the database to the state the API benchmark measures at: the
//! people it acts as, and a history of changes of the asked size. Both
//! are kept between runs; a second run adds only what is missing.

use super::history::History;
use crate::cli::cli_caller;
use anyhow::Context;
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use stackflow_core::{Actor, GroupKind, Role};
use stackflow_store::{NewGroup, NewToken, NewUser, Store};
use std::sync::Arc;
use std::time::Instant;

/// The requester every benchmark change is created by.
pub(super) const REQUESTER: &str = "bench-requester";
/// The assignment group (and technical assessors) of every change.
pub(super) const GROUP: &str = "bench-implementation";
/// The CAB that authorises normal changes.
const CAB: &str = "bench-cab";
/// Changes written per transaction while seeding the history.
const SEED_BATCH: usize = 20_000;

/// Creates the benchmark's people through the store, when missing: the
/// requester, an implementation group of three and a CAB of three.
pub(super) async fn people(store: &Arc<dyn Store>) -> anyhow::Result<()> {
    let members =
        |prefix: &str| -> Vec<String> { (1..=3).map(|i| format!("{prefix}-{i}")).collect() };
    let mut users = vec![(REQUESTER.to_owned(), Role::Requester)];
    users.extend(
        members("bench-implementer")
            .into_iter()
            .map(|u| (u, Role::Implementer)),
    );
    users.extend(
        members("bench-cab")
            .into_iter()
            .map(|u| (u, Role::ChangeManager)),
    );
    for (username, role) in users {
        if store.get_user(&username).await?.is_none() {
            let user = NewUser {
                email: format!("{username}@bench.invalid"),
                display_name: format!("Benchmark {username}"),
                username,
                role,
            };
            store.create_user(&cli_caller(), user).await?;
        }
    }
    for (name, kind, prefix) in [
        (GROUP, GroupKind::Implementation, "bench-implementer"),
        (CAB, GroupKind::Cab, "bench-cab"),
    ] {
        if store.get_group(name).await?.is_none() {
            let group = NewGroup {
                name: name.to_owned(),
                kind,
                description: "API benchmark".to_owned(),
                members: members(prefix),
            };
            store.create_group(&cli_caller(), group).await?;
        }
    }
    Ok(())
}

/// A token of the requester for this run, expiring in a day.
pub(super) async fn token(store: &Arc<dyn Store>) -> anyhow::Result<String> {
    let caller = cli_caller();
    let token = NewToken {
        name: "bench api".to_owned(),
        expires_at: Some(caller.now + chrono::Duration::days(1)),
    };
    let (_, secret) = store.create_token(&caller, REQUESTER, token).await?;
    Ok(secret)
}

/// Seeds changes until the database holds `target`; returns how many it
/// holds then. Batches are generated on a blocking thread while the
/// previous one is written.
pub(super) async fn top_up_changes(
    store: &Arc<dyn Store>,
    cis: Arc<Vec<String>>,
    target: u64,
    seed: u64,
    open_share: f64,
) -> anyhow::Result<u64> {
    let existing = count(store, "changes").await?;
    if existing >= target {
        eprintln!("reusing the {existing} changes already in the database");
        return Ok(existing);
    }
    let missing = target - existing;
    eprintln!("seeding {missing} changes ({existing} already there) in batches of {SEED_BATCH}");
    let started = Instant::now();
    let directory = store.directory().await?;
    let (batches, mut receiver) = tokio::sync::mpsc::channel::<anyhow::Result<Vec<_>>>(1);
    let generator = tokio::task::spawn_blocking(move || {
        let history = History {
            directory,
            requester: Actor::new(REQUESTER, Role::Requester),
            group: GROUP.to_owned(),
            cis: &cis,
            now: chrono::Utc::now(),
            open_share,
        };
        let mut rng = Pcg64Mcg::seed_from_u64(seed ^ existing.rotate_left(17) ^ 0xc4a7_6e5e);
        let mut next = existing;
        while next < target {
            let size = (target - next).min(SEED_BATCH as u64);
            let batch: anyhow::Result<Vec<_>> = (next..next + size)
                .map(|i| history.change(&mut rng, i as f64 / target as f64))
                .collect();
            let failed = batch.is_err();
            if batches.blocking_send(batch).is_err() || failed {
                break;
            }
            next += size;
        }
    });
    let mut written = 0u64;
    while let Some(batch) = receiver.recv().await {
        let batch = batch?;
        let size = batch.len() as u64;
        store
            .seed_changes_for_benchmark(batch)
            .await
            .context("seeding changes")?;
        written += size;
        eprintln!(
            "  {written}/{missing} changes seeded ({:.0}/s)",
            written as f64 / started.elapsed().as_secs_f64().max(1e-9)
        );
    }
    generator.await?;
    eprintln!("seeded in {:.1} s", started.elapsed().as_secs_f64());
    let settling = Instant::now();
    store.settle_for_benchmark().await.context("settling")?;
    eprintln!(
        "statistics refreshed and log checkpointed in {:.1} s",
        settling.elapsed().as_secs_f64()
    );
    Ok(existing + written)
}

/// The row count of one table.
async fn count(store: &Arc<dyn Store>, table: &str) -> anyhow::Result<u64> {
    let counts = store.table_counts_for_benchmark().await?;
    let rows = counts
        .iter()
        .find(|(name, _)| *name == table)
        .map_or(0, |(_, n)| *n);
    Ok(u64::try_from(rows)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use stackflow_core::{Change, ChangeDraft, ChangeNumber, ChangeState, ChangeType, CloseCode};
    use stackflow_store::testing::TestDatabase;
    use stackflow_store::{Backend, ChangeFilter, PageRequest};

    /// The seeded history is real: numbered from the sequence, listed and
    /// filtered like changes the API made, followed by the next number,
    /// and topped up rather than duplicated.
    async fn seeded_history_on(backend: Backend) {
        let Some(db) = TestDatabase::new(backend).await else {
            return;
        };
        let store = db.store.clone();
        let cmdb = crate::synthetic::generate(2_000, 7);
        crate::bench::cmdb::ensure_loaded(&store, &cmdb, 7, "test")
            .await
            .expect("load the CMDB");
        let cis: Arc<Vec<String>> = Arc::new(cmdb.cis.iter().map(|c| c.name.clone()).collect());
        people(&store).await.expect("people");
        // An eighth open: the newest 50 of 400 (0.875 is exact in binary).
        let held = top_up_changes(&store, cis.clone(), 400, 7, 0.125)
            .await
            .expect("seed");
        assert_eq!(held, 400);
        assert_eq!(
            top_up_changes(&store, cis.clone(), 300, 7, 0.125)
                .await
                .expect("reuse"),
            400
        );

        let first = store.get_change(ChangeNumber::new(1)).await.expect("read");
        let first = first.expect("CHG0000001 exists");
        assert_eq!(first.state, ChangeState::Closed);
        assert!(first.pir.review.is_some() && !first.affected_cis.is_empty());
        let page = PageRequest {
            limit: 500,
            after: None,
        };
        let assess = ChangeFilter {
            state: Some(ChangeState::Assess),
            ..ChangeFilter::default()
        };
        let assessing = store.list_changes(&assess, page).await.expect("list");
        assert!(!assessing.items.is_empty());
        assert!(
            assessing
                .items
                .iter()
                .all(|c| c.state == ChangeState::Assess)
        );
        let scheduled = ChangeFilter {
            state: Some(ChangeState::Scheduled),
            ..ChangeFilter::default()
        };
        let scheduled = store.list_changes(&scheduled, page).await.expect("list");
        assert_eq!(assessing.items.len() + scheduled.items.len(), 50);
        assert!(
            (assessing.items.iter().chain(&scheduled.items)).all(|c| c.number.sequence() > 350),
            "only the newest changes are open"
        );
        // The groups' daily closures (kept by trigger as the history is
        // inserted) give the same 30-day record as the changes themselves.
        let all = store
            .list_changes(&ChangeFilter::default(), page)
            .await
            .expect("list all");
        let closed_at = |c: &Change| c.pir.review.as_ref().map(|r| r.reviewed_at);
        let now = closed_at(&all.items[200]).expect("closed") + chrono::Duration::days(10);
        let since = now - chrono::Duration::days(stackflow_store::GROUP_HISTORY_DAYS);
        let in_period: Vec<&Change> = (all.items.iter())
            .filter(|c| closed_at(c).is_some_and(|at| since <= at && at <= now))
            .collect();
        assert!(in_period.len() > 5, "the period holds closures");
        let query = stackflow_store::RiskHistoryQuery {
            number: ChangeNumber::new(999_999),
            assignment_group: Some(GROUP.to_owned()),
            template: None,
            cis: Vec::new(),
            now,
        };
        let record = store.risk_history(&query).await.expect("history");
        let record = record.group.expect("the group's record");
        assert_eq!(record.closed as usize, in_period.len());
        let successful = (in_period.iter())
            .filter(|c| {
                matches!(
                    c.close_code,
                    Some(CloseCode::Successful | CloseCode::SuccessfulWithIssues)
                )
            })
            .count();
        assert_eq!(record.successful as usize, successful);
        let on_ci = ChangeFilter {
            ci: Some(first.affected_cis[0].clone()),
            ..ChangeFilter::default()
        };
        let listed = store.list_changes(&on_ci, page).await.expect("list by CI");
        assert!(listed.items.iter().any(|c| c.number == first.number));

        // The seeded changes awaiting approval have no assessment until
        // the benchmark assesses them, once; the reassessments that asks
        // for come to an end.
        assert!(assessing.items.iter().all(|c| c.risk_assessment.is_none()));
        let state = stackflow_web::AppState::build(
            store.clone(),
            Arc::new(stackflow_web::clock::SystemClock),
        )
        .await
        .expect("state");
        let assessed = stackflow_web::risk::assess_unassessed_awaiting_approval(&state)
            .await
            .expect("assess");
        assert_eq!(assessed, assessing.items.len());
        let reassessed = store.list_changes(&assess, page).await.expect("list");
        assert!(
            (reassessed.items.iter()).all(|c| c.risk_assessment.is_some()),
            "every seeded change in assessment is assessed"
        );
        stackflow_web::jobs::run_due(&state, "test")
            .await
            .expect("run the reassessments");
        assert_eq!(
            stackflow_web::risk::assess_unassessed_awaiting_approval(&state)
                .await
                .expect("assess again"),
            0
        );

        let caller = stackflow_store::Caller::new(
            Actor::new(REQUESTER, Role::Requester),
            stackflow_core::Channel::Api,
            chrono::Utc::now(),
        );
        let draft = ChangeDraft {
            change_type: Some(ChangeType::Normal),
            title: Some("After the history".to_owned()),
            ..ChangeDraft::default()
        };
        let next = store.create_change(&caller, draft).await.expect("create");
        assert_eq!(next.number, ChangeNumber::new(401));
        assert_eq!(
            top_up_changes(&store, cis, 410, 7, 0.125)
                .await
                .expect("top up"),
            410
        );
        let last = store
            .get_change(ChangeNumber::new(410))
            .await
            .expect("read");
        assert!(
            last.is_some(),
            "the top-up numbers after the created change"
        );
        db.cleanup().await;
    }

    #[tokio::test]
    async fn seeded_history_on_sqlite() {
        seeded_history_on(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn seeded_history_on_postgres() {
        seeded_history_on(Backend::Postgres).await;
    }
}
