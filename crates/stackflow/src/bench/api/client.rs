//! One benchmark client: its own keep-alive HTTP/1.1 connection, looping
//! create → submit → a list read → a risk read, timing each request.

use super::text;
use anyhow::{Context, bail};
use chrono::{Duration as Days, Utc};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode, header};
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Op {
    /// `POST /api/changes`.
    Create,
    /// `POST /api/changes/{n}/submit`.
    Submit,
    /// The two above, back to back: one change created and submitted.
    CreateSubmit,
    /// `GET /api/changes?limit=50`.
    ListAll,
    /// `GET /api/changes?state=assess&limit=50`.
    ListAssess,
    /// `GET /api/changes/{n}/risk`.
    Risk,
}

/// Risk reads pick among this many of the client's latest changes.
const RECENT: usize = 64;

/// What a client is to do.
pub(super) struct Plan {
    /// The server.
    pub address: SocketAddr,
    /// The requester's bearer token.
    pub token: String,
    /// CI names to draw affected CIs from.
    pub cis: Arc<Vec<String>>,
    /// Requests before this instant are warm-up and not recorded.
    pub measure_from: Instant,
    /// Stop at this instant…
    pub until: Option<Instant>,
    /// …or after this many measured iterations.
    pub iterations: Option<u64>,
    /// Seed of this client's draws.
    pub seed: u64,
}

/// What a client measured.
#[derive(Debug, Default)]
pub(super) struct Outcome {
    /// Every measured request: what, and how long it took.
    pub samples: Vec<(Op, Duration)>,
    /// Non-2xx responses: what, the status and the start of the body.
    pub errors: Vec<(Op, StatusCode, String)>,
    /// When the last measured iteration ended.
    pub finished: Option<Instant>,
}

/// One keep-alive connection.
struct Connection {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    host: String,
    authorization: String,
}

impl Connection {
    async fn open(address: SocketAddr, token: &str) -> anyhow::Result<Connection> {
        let stream = tokio::net::TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        Ok(Connection {
            sender,
            host: address.to_string(),
            authorization: format!("Bearer {token}"),
        })
    }

    /// Sends one request and reads the whole response.
    async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.host)
            .header(header::AUTHORIZATION, &self.authorization);
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request.body(Full::new(Bytes::from(body.unwrap_or_default())))?;
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }
}

/// Runs one client until its plan says stop.
pub(super) async fn run(plan: Plan) -> anyhow::Result<Outcome> {
    let mut connection = Connection::open(plan.address, &plan.token).await?;
    let mut rng = Pcg64Mcg::seed_from_u64(plan.seed);
    let mut outcome = Outcome::default();
    let mut recent: Vec<String> = Vec::with_capacity(RECENT);
    let mut measured = 0u64;
    for iteration in 0u64.. {
        let started = Instant::now();
        if plan.until.is_some_and(|until| started >= until)
            || plan.iterations.is_some_and(|n| measured >= n)
        {
            break;
        }
        let record = started >= plan.measure_from;
        let mut timed = Timed {
            outcome: &mut outcome,
            record,
        };

        let body = draft(&mut rng, &plan.cis);
        let (status, created) = timed
            .request(
                &mut connection,
                Op::Create,
                Method::POST,
                "/api/changes",
                Some(body),
            )
            .await?;
        if status == StatusCode::CREATED {
            let number = number_of(&created)?;
            let path = format!("/api/changes/{number}/submit");
            let (status, _) = timed
                .request(&mut connection, Op::Submit, Method::POST, &path, None)
                .await?;
            if status.is_success() && record {
                timed
                    .outcome
                    .samples
                    .push((Op::CreateSubmit, started.elapsed()));
            }
            if recent.len() == RECENT {
                recent.swap_remove(rng.random_range(0..RECENT));
            }
            recent.push(number);
        }

        let (op, path) = if iteration % 2 == 0 {
            (Op::ListAll, "/api/changes?limit=50")
        } else {
            (Op::ListAssess, "/api/changes?state=assess&limit=50")
        };
        timed
            .request(&mut connection, op, Method::GET, path, None)
            .await?;
        if !recent.is_empty() {
            let number = &recent[rng.random_range(0..recent.len())];
            let path = format!("/api/changes/{number}/risk");
            timed
                .request(&mut connection, Op::Risk, Method::GET, &path, None)
                .await?;
        }
        if record {
            measured += 1;
            outcome.finished = Some(Instant::now());
        }
    }
    Ok(outcome)
}

/// Times requests into an outcome, while measuring.
struct Timed<'a> {
    outcome: &'a mut Outcome,
    record: bool,
}

impl Timed<'_> {
    async fn request(
        &mut self,
        connection: &mut Connection,
        op: Op,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let started = Instant::now();
        let (status, bytes) = connection
            .send(method, path, body)
            .await
            .with_context(|| format!("{op:?} {path}"))?;
        let elapsed = started.elapsed();
        if !status.is_success() {
            // Errors count whether or not they fall in the warm-up.
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned();
            self.outcome.errors.push((op, status, text));
        } else if self.record {
            self.outcome.samples.push((op, elapsed));
        }
        Ok((status, bytes))
    }
}

/// The body of a normal change on 1–3 random CIs in a random future window.
fn draft(rng: &mut Pcg64Mcg, cis: &[String]) -> String {
    let affected = text::pick_cis(rng, cis);
    let body = text::ChangeText::new(rng, &affected);
    let start = Utc::now() + Days::hours(rng.random_range(24..24 * 60));
    let end = start + Days::minutes(rng.random_range(1..=8) * 30);
    serde_json::json!({
        "type": "normal",
        "title": body.title,
        "description": body.description,
        "justification": body.justification,
        "implementation_plan": body.implementation_plan,
        "backout_plan": body.backout_plan,
        "test_plan": body.test_plan,
        "assignment_group": super::prepare::GROUP,
        "affected_cis": affected,
        "planned_start": start,
        "planned_end": end,
    })
    .to_string()
}

/// The number of a created change, from its JSON.
fn number_of(body: &[u8]) -> anyhow::Result<String> {
    #[derive(serde::Deserialize)]
    struct Created {
        number: String,
    }
    match serde_json::from_slice::<Created>(body) {
        Ok(created) => Ok(created.number),
        Err(err) => bail!("a created change without a number: {err}"),
    }
}
