//! `stackflow serve`: migrate, then serve HTTP until SIGINT or SIGTERM.

use anyhow::Context;
use stackflow_store::Store;
use stackflow_web::{AppState, clock::SystemClock, router};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How often the impact index polls the CMDB change log for writes made by
/// other instances (queries also catch up before answering).
const IMPACT_POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Serves the API on `listen` until a shutdown signal, then drains
/// in-flight requests.
pub async fn serve(
    store: Arc<dyn Store>,
    listen: SocketAddr,
    on_ready: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let state = AppState::build(store.clone(), Arc::new(SystemClock))
        .await
        .context("building the impact index")?;
    // Another instance's CMDB writes reach this one's index within one poll.
    let _follower = state.impact.follow(IMPACT_POLL_INTERVAL);
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
