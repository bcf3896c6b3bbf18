//! The durable job table: requests coalesce, claims lease, a job requested
//! again while it runs runs once more, a dead worker's job is taken over
//! after its lease, failures back off, and several workers on one database
//! never get the same job.

use chrono::Duration;
use stackflow_store::{Job, JobKind, NewJob};

const LEASE: Duration = Duration::minutes(5);

fn reassess(key: &str, run_at: chrono::DateTime<chrono::Utc>) -> NewJob {
    NewJob::new(JobKind::RiskReassess, key, run_at)
}

fn keys(jobs: &[Job]) -> Vec<&str> {
    jobs.iter().map(|j| j.key.as_str()).collect()
}

backend_test!(requests_coalesce_and_run_when_due, |app| async move {
    let now = app.now();
    let store = &app.store;
    store
        .request_job(&reassess("CHG0000001", now + Duration::hours(1)), now)
        .await
        .expect("request");
    // Asked again for sooner: one job, due at the sooner time.
    store
        .request_job(&reassess("CHG0000001", now + Duration::minutes(10)), now)
        .await
        .expect("request again");
    // And again for later: still the sooner time.
    store
        .request_job(&reassess("CHG0000001", now + Duration::hours(2)), now)
        .await
        .expect("request later");
    let pending = store.pending_jobs().await.expect("pending");
    assert_eq!(keys(&pending), ["CHG0000001"]);
    assert_eq!(pending[0].run_at, now + Duration::minutes(10));
    assert_eq!(pending[0].kind, Ok(JobKind::RiskReassess));

    let early = store.claim_jobs("a", now, LEASE, 10).await.expect("claim");
    assert!(early.is_empty(), "not due yet: {early:?}");
    let due = now + Duration::minutes(10);
    let claimed = store.claim_jobs("a", due, LEASE, 10).await.expect("claim");
    assert_eq!(keys(&claimed), ["CHG0000001"]);
    assert_eq!(claimed[0].attempts, 1);
    assert_eq!(claimed[0].locked_until, Some(due + LEASE));
    // Leased: nobody else gets it meanwhile.
    let other = store.claim_jobs("b", due, LEASE, 10).await.expect("claim");
    assert!(other.is_empty());
    assert!(
        store
            .complete_job(&claimed[0], "a")
            .await
            .expect("complete")
    );
    assert!(store.pending_jobs().await.expect("pending").is_empty());
});

backend_test!(
    a_job_requested_again_while_it_runs_runs_once_more,
    |app| async move {
        let now = app.now();
        let store = &app.store;
        store
            .request_job(&reassess("CHG0000002", now), now)
            .await
            .expect("request");
        let claimed = store.claim_jobs("a", now, LEASE, 10).await.expect("claim");
        assert_eq!(claimed.len(), 1);
        // A write moves the change again while the worker reads the old state.
        store
            .request_job(&reassess("CHG0000002", now), now)
            .await
            .expect("request during the run");
        assert!(
            store
                .complete_job(&claimed[0], "a")
                .await
                .expect("complete")
        );
        let again = store.claim_jobs("a", now, LEASE, 10).await.expect("claim");
        assert_eq!(keys(&again), ["CHG0000002"], "released, not deleted");
        assert!(store.complete_job(&again[0], "a").await.expect("complete"));
        assert!(store.pending_jobs().await.expect("pending").is_empty());
    }
);

backend_test!(
    a_dead_workers_job_is_taken_over_after_its_lease,
    |app| async move {
        let now = app.now();
        let store = &app.store;
        store
            .request_job(&reassess("CHG0000003", now), now)
            .await
            .expect("request");
        let lost = store
            .claim_jobs("dead", now, LEASE, 10)
            .await
            .expect("claim");
        assert_eq!(lost.len(), 1);
        let before_expiry = now + LEASE - Duration::seconds(1);
        assert!(
            (store.claim_jobs("b", before_expiry, LEASE, 10).await)
                .expect("claim")
                .is_empty()
        );
        let after_expiry = now + LEASE;
        let taken = store
            .claim_jobs("b", after_expiry, LEASE, 10)
            .await
            .expect("claim");
        assert_eq!(keys(&taken), ["CHG0000003"]);
        assert_eq!(taken[0].attempts, 2);
        // The first worker comes back: the job is no longer its to finish.
        assert!(
            !store
                .complete_job(&lost[0], "dead")
                .await
                .expect("complete")
        );
        assert_eq!(store.pending_jobs().await.expect("pending").len(), 1);
        assert!(store.complete_job(&taken[0], "b").await.expect("complete"));
        assert!(store.pending_jobs().await.expect("pending").is_empty());
    }
);

backend_test!(
    a_failed_job_keeps_its_error_and_backs_off,
    |app| async move {
        let now = app.now();
        let store = &app.store;
        store
            .request_job(&reassess("CHG0000004", now), now)
            .await
            .expect("request");
        let claimed = store.claim_jobs("a", now, LEASE, 10).await.expect("claim");
        let retry = stackflow_web::jobs::retry_at(now, claimed[0].attempts);
        assert_eq!(retry, now + Duration::seconds(2));
        store
            .fail_job(&claimed[0], "a", "database unreachable", retry)
            .await
            .expect("fail");
        let pending = store.pending_jobs().await.expect("pending");
        assert_eq!(
            pending[0].last_error.as_deref(),
            Some("database unreachable")
        );
        assert_eq!(pending[0].run_at, retry);
        assert_eq!(pending[0].locked_by, None);
        assert!(
            store
                .claim_jobs("a", now, LEASE, 10)
                .await
                .expect("claim")
                .is_empty()
        );
        let second = store
            .claim_jobs("a", retry, LEASE, 10)
            .await
            .expect("claim");
        assert_eq!(second[0].attempts, 2);
        // Backoff doubles, and stops growing at an hour.
        assert_eq!(
            stackflow_web::jobs::retry_at(now, 2),
            now + Duration::seconds(4)
        );
        assert_eq!(
            stackflow_web::jobs::retry_at(now, 40),
            now + Duration::hours(1)
        );
    }
);

backend_test!(
    concurrent_workers_never_claim_the_same_job,
    |app| async move {
        let now = app.now();
        for n in 0..40 {
            app.store
                .request_job(&reassess(&format!("CHG{n:07}"), now), now)
                .await
                .expect("request");
        }
        // A second instance with its own connection pool, claiming at the
        // same moment in small batches.
        let other = app.second_instance().await;
        let claim_all = |store: std::sync::Arc<dyn stackflow_store::Store>,
                         worker: &'static str| async move {
            let mut mine = Vec::new();
            loop {
                let batch = store
                    .claim_jobs(worker, now, LEASE, 3)
                    .await
                    .expect("claim");
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch.into_iter().map(|j| j.key));
            }
        };
        let (first, second) = tokio::join!(
            tokio::spawn(claim_all(app.store.clone(), "a")),
            tokio::spawn(claim_all(other.store.clone(), "b")),
        );
        let (first, second) = (first.expect("worker a"), second.expect("worker b"));
        let mut all: Vec<String> = first.iter().chain(&second).cloned().collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 40, "every job claimed");
        assert_eq!(first.len() + second.len(), 40, "none claimed twice");
        other.store.close().await;
    }
);

backend_test!(requested_jobs_survive_a_restart, |app| async move {
    let now = app.now();
    app.store
        .request_job(&reassess("CHG0000005", now), now)
        .await
        .expect("request");
    // Another process opening the same database later finds it.
    let restarted = app.second_instance().await;
    app.store.close().await;
    let pending = restarted.store.pending_jobs().await.expect("pending");
    assert_eq!(keys(&pending), ["CHG0000005"]);
    restarted.store.close().await;
});
