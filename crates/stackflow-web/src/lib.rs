//! StackFlow's HTTP layer: the REST API under `/api`, problem+json errors,
//! the OpenAPI document, and health endpoints.
//!
//! Handlers are thin: they authenticate, parse, call one store operation
//! (which asks the domain core for the decision) and render the result.

pub mod api;
pub mod body;
pub mod cab_mail;
pub mod clock;
pub mod extract;
pub mod health;
pub mod impact;
pub mod jobs;
pub mod pagination;
pub mod problem;
pub mod risk;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use clock::Clock;
use impact::ImpactIndex;
use problem::AppError;
use stackflow_core::risk::RiskPolicy;
use stackflow_store::Store;
use std::sync::Arc;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

/// Largest request body accepted (1 MiB); larger is 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The data layer.
    pub store: Arc<dyn Store>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The blast-radius index over the CMDB.
    pub impact: Arc<ImpactIndex>,
    /// Risk weights and thresholds (the `[risk]` configuration section).
    pub risk_policy: RiskPolicy,
    /// Where clients reach this service (`https://stackflow.example.com`,
    /// no trailing `/`), for absolute links in exports such as the
    /// iCalendar schedule; `None` links relatively.
    pub public_url: Option<String>,
    /// Conflict detection looks other changes up by CI while a change's
    /// conflict scope (its CIs, their dependents and their dependencies)
    /// has at most this many CIs, and reads every change planned at the
    /// same time beyond it ([`risk::CONFLICT_SCOPE_LIMIT`] unless set).
    pub conflict_scope_limit: usize,
}

/// [`AppState::uid_domain`] of a public URL.
fn uid_domain_of(public_url: Option<&str>) -> String {
    public_url
        .and_then(|url| axum::http::Uri::try_from(url).ok())
        .and_then(|uri| uri.host().map(str::to_owned))
        .unwrap_or_else(|| "stackflow".to_owned())
}

impl AppState {
    /// State over a store, a clock and an impact index built from that
    /// store.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, impact: Arc<ImpactIndex>) -> Self {
        AppState {
            store,
            clock,
            impact,
            risk_policy: RiskPolicy::default(),
            public_url: None,
            conflict_scope_limit: risk::CONFLICT_SCOPE_LIMIT,
        }
    }

    /// The same state looking conflict candidates up by CI only while a
    /// change's conflict scope has at most `limit` CIs (0: only for a
    /// change with no CIs, which conflicts with no other change).
    pub fn with_conflict_scope_limit(self, limit: usize) -> Self {
        AppState {
            conflict_scope_limit: limit,
            ..self
        }
    }

    /// The same state scoring risk by `policy` (validated by the caller).
    pub fn with_risk_policy(self, policy: RiskPolicy) -> Self {
        AppState {
            risk_policy: policy,
            ..self
        }
    }

    /// The same state linking to itself under `url` (a trailing `/` is
    /// dropped).
    pub fn with_public_url(self, url: &str) -> Self {
        AppState {
            public_url: Some(url.trim_end_matches('/').to_owned()),
            ..self
        }
    }

    /// The domain calendar event UIDs end with (`CHG0000456@<domain>`):
    /// the public URL's host, `stackflow` without one. RFC 5545 asks UIDs
    /// to be globally unique, and two installations (staging and
    /// production, say) imported into one calendar would otherwise
    /// replace each other's events of the same number.
    pub fn uid_domain(&self) -> String {
        uid_domain_of(self.public_url.as_deref())
    }

    /// A link to `path` (which starts with `/`) on this service: absolute
    /// under the public URL when there is one.
    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.public_url.as_deref().unwrap_or(""))
    }

    /// State over a store and a clock, building the impact index from the
    /// store.
    pub async fn build(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> stackflow_store::Result<Self> {
        let impact = ImpactIndex::build(store.clone()).await?;
        Ok(AppState::new(store, clock, impact))
    }
}

/// The whole HTTP application. Tests call it in process; `serve` binds it.
pub fn router(state: AppState) -> Router {
    let (api, mut openapi) = api::routes().split_for_parts();
    api::finish_document(&mut openapi);
    // Rendered once: the document never changes while the process runs.
    let document: Arc<str> = serde_json::to_string(&openapi)
        .unwrap_or_else(|_| "{}".to_owned())
        .into();
    Router::new()
        .merge(api)
        .route(
            "/api/openapi.json",
            axum::routing::get(move || {
                let document = document.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        document.to_string(),
                    )
                }
            }),
        )
        .merge(health::routes())
        .fallback(|| async { AppError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            AppError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not accept that method",
            )
        })
        .layer(axum::middleware::from_fn(refuse_nul_in_path))
        .layer(CatchPanicLayer::custom(panic_problem))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(request_trace())
        .with_state(state)
}

/// tower-http's request log, with [`request_span`]'s fields.
type RequestTrace = TraceLayer<
    tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>,
    fn(&axum::http::Request<axum::body::Body>) -> tracing::Span,
>;

/// The request log layer of [`router`].
fn request_trace() -> RequestTrace {
    TraceLayer::new_for_http().make_span_with(request_span as fn(&_) -> _)
}

/// The span of a request in the debug log: tower-http's fields, with a
/// calendar feed's key masked, since the key is the feed's credential.
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    tracing::debug_span!(
        "request",
        method = %request.method(),
        uri = %loggable_uri(request.uri()),
        version = ?request.version(),
    )
}

/// A request's URI as it may be logged. When it holds a calendar feed key
/// (`sfcal_…`, however it is cased or percent-encoded, wherever it sits:
/// a mistyped address or a key pasted into a query string fails, but is
/// still a secret), every path segment holding one becomes `…` and the
/// query is left out.
fn loggable_uri(uri: &axum::http::Uri) -> String {
    let holds_key = |text: &str| {
        percent_encoding::percent_decode_str(text)
            .decode_utf8_lossy()
            .to_ascii_lowercase()
            .contains(stackflow_store::FEED_KEY_PREFIX)
    };
    let whole = uri.to_string();
    if !holds_key(&whole) {
        return whole;
    }
    let segments: Vec<&str> = (uri.path().split('/'))
        .map(|segment| if holds_key(segment) { "…" } else { segment })
        .collect();
    segments.join("/")
}

/// A path with an encoded NUL names nothing we store (PostgreSQL cannot even
/// compare such text): 404 before any handler runs.
async fn refuse_nul_in_path(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if request.uri().path().contains("%00") {
        return AppError::not_found("no such resource").into_response();
    }
    next.run(request).await
}

/// A panic in a handler is a bug: log it once and answer with a problem, so
/// the client gets a response and the server keeps serving.
fn panic_problem(panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = message, "handler panicked");
    AppError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "an internal error occurred; it has been logged",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::{loggable_uri, request_trace, uid_domain_of};
    use std::sync::{Arc, Mutex};
    use tower::ServiceExt;

    #[test]
    fn calendar_uids_end_with_the_public_hosts_name() {
        assert_eq!(
            uid_domain_of(Some("https://changes.example.com/stackflow")),
            "changes.example.com"
        );
        assert_eq!(uid_domain_of(Some("http://127.0.0.1:8080")), "127.0.0.1");
        assert_eq!(uid_domain_of(None), "stackflow");
        assert_eq!(uid_domain_of(Some("not a url")), "stackflow");
    }

    /// Log output kept in memory.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("log buffer").extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn the_request_log_shows_a_feed_request_without_its_key() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _logging = tracing::subscriber::set_default(subscriber);
        let app = axum::Router::new()
            .route(
                "/feeds/{key}/schedule.ics",
                axum::routing::get(|| async { "BEGIN:VCALENDAR" }),
            )
            .layer(request_trace());
        let request = axum::http::Request::get("/feeds/sfcal_0123abcd/schedule.ics?from=x")
            .body(axum::body::Body::empty())
            .expect("request");
        let response = app.oneshot(request).await.expect("infallible");
        assert_eq!(response.status(), axum::http::StatusCode::OK);
        let logged =
            String::from_utf8(captured.0.lock().expect("log buffer").clone()).expect("utf-8 log");
        assert!(logged.contains("uri=/feeds/…/schedule.ics"), "{logged}");
        assert!(!logged.contains("sfcal_"), "{logged}");
    }

    #[test]
    fn a_feed_key_never_reaches_the_request_log() {
        let cases = [
            (
                "/feeds/sfcal_0123abcd/schedule.ics?from=2026-12-01T00:00:00Z",
                "/feeds/…/schedule.ics",
            ),
            ("/feeds/sfcal_0123abcd", "/feeds/…"),
            (
                "//feeds/sfcal_0123abcd/schedule.ics",
                "//feeds/…/schedule.ics",
            ),
            (
                "/stackflow/feeds/sfcal_0123abcd/schedule.ics",
                "/stackflow/feeds/…/schedule.ics",
            ),
            (
                "/%66eeds/sfcal_0123abcd/schedule.ics",
                "/%66eeds/…/schedule.ics",
            ),
            (
                "/feeds/%73fcal_0123abcd/schedule.ics",
                "/feeds/…/schedule.ics",
            ),
            (
                "/feeds/SFCAL_0123ABCD/schedule.ics",
                "/feeds/…/schedule.ics",
            ),
            // Mistyped, or pasted where it does not belong.
            (
                "/feeds/%20sfcal_0123abcd/schedule.ics",
                "/feeds/…/schedule.ics",
            ),
            (
                "/api/schedule.ics?key=sfcal_0123abcd&from=2026-12-01T00:00:00Z",
                "/api/schedule.ics",
            ),
        ];
        for (requested, logged) in cases {
            let uri = requested.parse().unwrap();
            assert_eq!(loggable_uri(&uri), logged, "{requested}");
        }
        // Paths without a key are logged as they came.
        for plain in [
            "/feeds",
            "/api/schedule/feeds/12",
            "/api/schedule.ics?from=2026-12-01T00:00:00Z",
        ] {
            assert_eq!(loggable_uri(&plain.parse().unwrap()), plain);
        }
    }
}
