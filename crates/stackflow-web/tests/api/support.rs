//! The test harness.
//!
//! A [`TestApp`] serves StackFlow's whole `router()` in process: requests go
//! through `tower::ServiceExt::oneshot` on a clone of the router, so there
//! are no sockets and any number of requests can run in parallel. Each test
//! gets a fresh database (a SQLite file, or a PostgreSQL database of its own
//! when `STACKFLOW_TEST_POSTGRES_URL` is set), a [`ManualClock`] stopped at
//! [`START`] that tests move instead of sleeping, and the organisation of
//! [`crate::fixtures::seed_org`] with one API token per person.
//!
//! Tests are declared with [`backend_test!`], which runs each one once per
//! backend through [`run`]: `run` owns the [`TestDatabase`] and drops it
//! (closing the pool, dropping the PostgreSQL database) after the test,
//! also when the test panics.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header};
use chrono::{DateTime, Utc};
use serde_json::Value;
use stackflow_core::{Actor, Channel, Role};
use stackflow_store::testing::TestDatabase;
use stackflow_store::{Backend, Store};
use stackflow_web::clock::{Clock, ManualClock};
use stackflow_web::{AppState, router};
use std::collections::HashMap;
use std::sync::Arc;
use tower::ServiceExt;

/// Where every test's clock starts: a Wednesday morning.
pub const START: &str = "2026-11-25T10:00:00Z";

/// The public URL the application under test links to itself with.
pub const PUBLIC_URL: &str = "https://stackflow.test";

/// Declares a test once per backend: `backend_test!(name, |app| async move { … })`
/// expands to `mod name { fn sqlite() …; fn postgres() … }`. Attributes
/// before the name (`#[ignore = "…"]`) go on both. The PostgreSQL test
/// passes without running when no test server is configured.
macro_rules! backend_test {
    ($(#[$attr:meta])* $name:ident, |$app:ident| $body:expr) => {
        mod $name {
            use super::*;

            $(#[$attr])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                $crate::support::run(::stackflow_store::Backend::Sqlite, |$app| $body).await;
            }

            $(#[$attr])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                $crate::support::run(::stackflow_store::Backend::Postgres, |$app| $body).await;
            }
        }
    };
}

/// Runs one test on a fresh database of `backend` and removes the database
/// afterwards, whether the test passed or panicked (the test runs in its own
/// task so that a panic comes back here as a `JoinError` first).
pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(TestApp) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(database) = TestDatabase::new(backend).await else {
        return;
    };
    let store = database.store.clone();
    let url: Arc<str> = database.url.clone().into();
    let outcome = tokio::spawn(async move { test(TestApp::start(store, url).await).await }).await;
    database.cleanup().await;
    if let Err(failure) = outcome {
        match failure.try_into_panic() {
            Ok(payload) => std::panic::resume_unwind(payload),
            Err(failure) => panic!("the test task did not finish: {failure}"),
        }
    }
}

/// The application under test: router, clock, store and the seeded people's
/// tokens. Cheap to clone (everything is shared), so concurrent requests can
/// each take a clone into their own task.
#[derive(Clone)]
pub struct TestApp {
    router: Router,
    /// The state behind the router, for running its background jobs.
    state: AppState,
    /// The clock every handler reads; move it with `advance`/`set`.
    pub clock: Arc<ManualClock>,
    /// The store behind the router, for what the API does not expose (the
    /// outbox).
    pub store: Arc<dyn Store>,
    tokens: Arc<HashMap<String, String>>,
    /// The database URL, for a second instance.
    url: Arc<str>,
}

impl TestApp {
    async fn start(store: Arc<dyn Store>, url: Arc<str>) -> TestApp {
        let clock = Arc::new(ManualClock::new(at(START)));
        let tokens = crate::fixtures::seed_org(&store, clock.now()).await;
        let state = AppState::build(store.clone(), clock.clone())
            .await
            .expect("build the impact index")
            .with_public_url(PUBLIC_URL);
        TestApp {
            router: router(state.clone()),
            state,
            clock,
            store,
            tokens: Arc::new(tokens),
            url,
        }
    }

    /// A second StackFlow instance on the same database: its own connection
    /// pool and its own impact index, the same clock and people. Close its
    /// `store` when done.
    pub async fn second_instance(&self) -> TestApp {
        let store = stackflow_store::connect(&self.url)
            .await
            .expect("connect a second instance");
        let state = AppState::build(store.clone(), self.clock.clone())
            .await
            .expect("build the second impact index")
            .with_public_url(PUBLIC_URL);
        TestApp {
            router: router(state.clone()),
            state,
            store,
            ..self.clone()
        }
    }

    /// Runs the background jobs due at the test clock's time, as the
    /// worker inside `serve` would; returns how many ran.
    pub async fn run_jobs(&self) -> usize {
        stackflow_web::jobs::run_due(&self.state, "test-worker")
            .await
            .expect("run due jobs")
    }

    /// `username` with `role` acting through `channel` now, for calls to
    /// the store that the API does not make.
    pub fn caller(&self, username: &str, role: Role, channel: Channel) -> stackflow_store::Caller {
        stackflow_store::Caller::new(Actor::new(username, role), channel, self.now())
    }

    /// Brings the impact index up to the CMDB written through the store,
    /// then forgets which CIs that touched, as a restart would: nothing
    /// is reassessed for those writes unless something asks again.
    pub async fn index_cmdb_writes_as_after_a_restart(&self) {
        self.state.impact.catch_up().await.expect("index caught up");
        self.state.impact.take_touched();
    }

    /// Runs one batch of the jobs due now (not the jobs it requests): a
    /// test of work that must settle fails here instead of looping for ever.
    pub async fn run_job_batch(&self) -> usize {
        stackflow_web::jobs::run_due_batch(&self.state, "test-worker")
            .await
            .expect("run a batch of due jobs")
    }

    /// Reassesses change `number` as `stale` shows it (read before it
    /// moved), as a job that read it then would; `true` if recorded.
    pub async fn reassess_as_read(&self, stale: stackflow_core::Change) -> bool {
        stackflow_web::risk::reassess_as_read(&self.state, stale, self.now())
            .await
            .expect("reassess")
    }

    /// Runs what a `risk.reassess` job of change `number` runs, now.
    pub async fn reassess_number(&self, number: &str) {
        stackflow_web::risk::reassess_number(
            &self.state,
            number.parse().expect("a change number"),
            self.now(),
        )
        .await
        .expect("reassess");
    }

    /// Assesses change `number` as its submission would now, without
    /// recording anything; conflict candidates are looked up by CI while its
    /// conflict scope has at most `scope_limit` CIs (0: by window, for a
    /// change with CIs).
    pub async fn assess(&self, number: &str, scope_limit: usize) -> stackflow_store::Assessed {
        let change = self
            .store
            .get_change(number.parse().expect("a change number"))
            .await
            .expect("read")
            .expect("the change");
        let state = self.state.clone().with_conflict_scope_limit(scope_limit);
        stackflow_web::risk::assess(&state, &change, self.now())
            .await
            .expect("assess")
    }

    /// Runs SQL on the test database directly, for setting up what the
    /// API cannot (a database as an older version left it).
    pub async fn execute_raw(&self, statements: &[&str]) {
        match self.store.backend() {
            Backend::Sqlite => {
                let pool = sqlx::SqlitePool::connect(&self.url).await.expect("connect");
                for statement in statements {
                    sqlx::raw_sql(sqlx::AssertSqlSafe(*statement))
                        .execute(&pool)
                        .await
                        .expect("raw SQL");
                }
                pool.close().await;
            }
            Backend::Postgres => {
                let pool = sqlx::PgPool::connect(&self.url).await.expect("connect");
                for statement in statements {
                    sqlx::raw_sql(sqlx::AssertSqlSafe(*statement))
                        .execute(&pool)
                        .await
                        .expect("raw SQL");
                }
                pool.close().await;
            }
        }
    }

    /// Sets the first CAB agenda mail timer, as `serve` does at start-up.
    pub async fn start_agenda_mail(&self) {
        stackflow_web::cab_mail::request_next(&self.state)
            .await
            .expect("set the agenda mail timer");
    }

    /// The test clock's current time.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The API token of a seeded person.
    pub fn token(&self, user: &str) -> String {
        self.tokens
            .get(user)
            .unwrap_or_else(|| panic!("no seeded user `{user}`"))
            .clone()
    }

    /// A request to build further (headers, raw bodies, other tokens).
    pub fn call(&self, method: Method, path: &str) -> Call {
        Call {
            app: self.clone(),
            method,
            path: path.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// `GET path` as `user`.
    pub async fn get(&self, path: &str, user: &str) -> Reply {
        self.call(Method::GET, path).by(user).send().await
    }

    /// `POST path` with a JSON body as `user`.
    pub async fn post(&self, path: &str, user: &str, body: Value) -> Reply {
        self.call(Method::POST, path)
            .by(user)
            .json(&body)
            .send()
            .await
    }

    /// `PATCH path` with a JSON body as `user`.
    pub async fn patch(&self, path: &str, user: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path)
            .by(user)
            .json(&body)
            .send()
            .await
    }
}

/// A request being built; [`Call::send`] runs it through the router.
pub struct Call {
    app: TestApp,
    method: Method,
    path: String,
    headers: Vec<(HeaderName, String)>,
    body: Vec<u8>,
}

impl Call {
    /// Authenticates as a seeded person.
    pub fn by(self, user: &str) -> Call {
        let token = self.app.token(user);
        self.bearer(&token)
    }

    /// Authenticates with any bearer token.
    pub fn bearer(self, token: &str) -> Call {
        self.header(header::AUTHORIZATION, &format!("Bearer {token}"))
    }

    /// Adds a header.
    pub fn header(mut self, name: HeaderName, value: &str) -> Call {
        self.headers.push((name, value.to_owned()));
        self
    }

    /// Sends `If-Match: "<version>"`.
    pub fn if_match(self, version: i64) -> Call {
        self.header(header::IF_MATCH, &format!("\"{version}\""))
    }

    /// A JSON body with `Content-Type: application/json`.
    pub fn json(self, body: &Value) -> Call {
        self.header(header::CONTENT_TYPE, "application/json")
            .raw(body.to_string())
    }

    /// Raw body bytes, with whatever content type the caller set (if any).
    pub fn raw(mut self, body: impl Into<Vec<u8>>) -> Call {
        self.body = body.into();
        self
    }

    /// Runs the request through the router and reads the whole response.
    pub async fn send(self) -> Reply {
        let mut request = Request::builder().method(self.method).uri(&self.path);
        for (name, value) in self.headers {
            request = request.header(name, HeaderValue::from_str(&value).expect("header value"));
        }
        let request = request.body(Body::from(self.body)).expect("request");
        let response = self
            .app
            .router
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .expect("read the response body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }
}

/// A response: status, headers and the body as JSON (`null` when empty, a
/// JSON string when it is not JSON).
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// The parsed body.
    pub body: Value,
}

impl Reply {
    /// Asserts the status and returns the body.
    #[track_caller]
    pub fn expect(self, status: StatusCode) -> Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {:#}",
            self.body
        );
        self.body
    }

    /// Asserts an RFC 9457 problem of this status naming `rule`, with every
    /// field the API contract promises, and returns its body.
    #[track_caller]
    pub fn problem(&self, status: StatusCode, rule: &str) -> &Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {:#}",
            self.body
        );
        assert_eq!(
            self.headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json"),
            "a problem is served as application/problem+json"
        );
        let body = &self.body;
        assert_eq!(
            body["type"],
            format!("urn:stackflow:problem:{rule}"),
            "{body:#}"
        );
        assert_eq!(body["rule"], rule, "{body:#}");
        assert_eq!(body["status"], status.as_u16(), "{body:#}");
        if status.is_client_error() {
            assert_ne!(
                body["title"], "Internal server error",
                "a client error is not titled as a server error: {body:#}"
            );
        }
        for field in ["title", "detail"] {
            assert!(
                body[field].as_str().is_some_and(|text| !text.is_empty()),
                "problem without `{field}`: {body:#}"
            );
        }
        body
    }

    /// Asserts a 422 validation problem and returns its `errors` as
    /// `(field, message)` pairs.
    #[track_caller]
    pub fn invalid_fields(&self) -> Vec<(String, String)> {
        let body = self.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
        let errors = body["errors"].as_array().expect("422 lists `errors`");
        assert!(!errors.is_empty(), "422 with an empty `errors`: {body:#}");
        errors
            .iter()
            .map(|e| {
                (
                    e["field"].as_str().expect("error field").to_owned(),
                    e["message"].as_str().expect("error message").to_owned(),
                )
            })
            .collect()
    }
}

/// Parses an RFC 3339 time.
pub fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("an RFC 3339 time")
}

/// Reads a JSON timestamp.
#[track_caller]
pub fn time_of(value: &Value) -> DateTime<Utc> {
    at(value
        .as_str()
        .unwrap_or_else(|| panic!("not a timestamp: {value}")))
}
