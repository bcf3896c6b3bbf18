//! `stackflow serve`: migrate, then serve HTTP until SIGINT or SIGTERM.

use crate::config::Config;
use anyhow::Context;
use stackflow_store::Store;
use stackflow_web::{AppState, clock::SystemClock, router};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How often the impact index polls the CMDB change log for writes made by
/// other instances (queries also catch up before answering).
const IMPACT_POLL_INTERVAL: Duration = Duration::from_millis(250);

/// How long CMDB change-log entries are kept. An instance that has not
/// caught up for longer (stopped, cut off) rebuilds its index instead.
const CMDB_LOG_RETENTION_DAYS: i64 = 7;
/// How often old change-log entries are deleted.
const CMDB_LOG_PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Deletes change-log entries past their retention, hourly, for as long as
/// the server runs. Several instances may do it at once: it is idempotent.
async fn prune_cmdb_log(store: Arc<dyn Store>) {
    let mut ticker = tokio::time::interval(CMDB_LOG_PRUNE_EVERY);
    loop {
        ticker.tick().await;
        let before = chrono::Utc::now() - chrono::Duration::days(CMDB_LOG_RETENTION_DAYS);
        match store.prune_cmdb_log(before).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, "pruned the CMDB change log"),
            Err(error) => tracing::warn!(%error, "pruning the CMDB change log"),
        }
    }
}

/// How often CMDB changes that reached this instance's index from other
/// instances are checked against the changes awaiting approval.
const REASSESS_INTERVAL: Duration = Duration::from_secs(5);

/// Another instance's CMDB writes reach this index through the follower;
/// that instance reassesses the affected changes itself, and this loop is
/// the safety net if it stopped before it could (a reassessment that finds
/// the same records nothing).
async fn reassess_after_other_instances(state: AppState) {
    let mut ticker = tokio::time::interval(REASSESS_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        stackflow_web::risk::reassess_after_cmdb_change(&state).await;
    }
}

/// Serves the API on `listen` until a shutdown signal, then drains
/// in-flight requests.
pub async fn serve(
    store: Arc<dyn Store>,
    config: &Config,
    on_ready: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let listen = config.listen;
    let state = AppState::build(store.clone(), Arc::new(SystemClock))
        .await
        .context("building the impact index")?
        .with_risk_policy(config.risk)
        .with_public_url(&config.public_url);
    // A reassessment the last run owed but had not made (one a CMDB write
    // asked for, kept in memory) is not lost with it: every change awaiting
    // approval is reassessed once by the job worker (one that comes to the
    // same finding records nothing).
    match store
        .request_reassessment_of_waiting_changes(chrono::Utc::now())
        .await
    {
        Ok(0) => {}
        Ok(requested) => tracing::info!(requested, "reassessing the changes awaiting approval"),
        Err(error) => tracing::warn!(%error, "requesting the reassessment of waiting changes"),
    }
    // Another instance's CMDB writes reach this one's index within one poll.
    let _follower = state.impact.follow(IMPACT_POLL_INTERVAL);
    let _pruner = tokio::spawn(prune_cmdb_log(store.clone()));
    let _reassessor = tokio::spawn(reassess_after_other_instances(state.clone()));
    // The chain of agenda mail timers needs its first link once; every
    // instance asks, and the requests coalesce.
    stackflow_web::cab_mail::request_next_or_log(&state).await;
    let jobs = stackflow_web::jobs::spawn_worker(state.clone(), stackflow_web::jobs::POLL_INTERVAL);
    let app = router(state);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let bound = listener.local_addr()?;
    tracing::info!(address = %bound, backend = ?store.backend(), "serving");
    on_ready(bound);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving HTTP")?;
    // Stopped between jobs or inside one: a job it held is released when
    // its lease runs out, and its effects were all or nothing.
    jobs.abort();
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; draining requests");
}
