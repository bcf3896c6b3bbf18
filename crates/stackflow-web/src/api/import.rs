//! `POST /api/cmdb/import`: a CSV or JSON file of CIs and relationships,
//! streamed from the request body into the store's import (never buffered
//! whole), under its own body limit instead of the API's small default.

use crate::AppState;
use crate::extract::{ApiQuery, Auth};
use crate::problem::{ApiResult, AppError, Problem};
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use stackflow_store::transfer::{CsvKind, ImportFormat, ImportOptions, ImportReport, ImportSource};
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio_util::io::{StreamReader, SyncIoBridge};
use utoipa_axum::{router::OpenApiRouter, routes};

/// Largest import body accepted (1 GiB); larger is 413.
pub const MAX_IMPORT_BYTES: u64 = 1024 * 1024 * 1024;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(import_cmdb))
}

/// Options of an import.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ImportParams {
    /// For CSV: `cis` or `relationships` (default: detected from the header).
    kind: Option<CsvKind>,
    /// Compute the report, then roll back.
    #[serde(default)]
    dry_run: bool,
}

/// The problem returned when rows were rejected: the report is embedded.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ImportProblem {
    #[serde(rename = "type")]
    problem_type: &'static str,
    title: &'static str,
    status: u16,
    detail: String,
    rule: &'static str,
    report: ImportReport,
}

/// Imports CIs and relationships (admins and change managers). CSV
/// (`text/csv`; one file of CIs or of relationships) or JSON
/// (`application/json`; `{"cis": […], "relationships": […]}`). All or
/// nothing: any rejected row and nothing is applied (422 with the report).
/// Idempotent: re-importing a file reports everything unchanged.
#[utoipa::path(post, path = "/api/cmdb/import", tag = "cmdb", params(ImportParams),
    request_body(content(
        (String = "text/csv"),
        (Object = "application/json"),
    ), description = "The file; see docs/cmdb-import.md"),
    responses(
        (status = 200, body = ImportReport, description = "Applied (or a clean dry run)"),
        (status = 403, body = Problem),
        (status = 413, body = Problem),
        (status = 415, body = Problem),
        (status = 422, body = ImportProblem, description = "Rows rejected; nothing applied"),
    ))]
async fn import_cmdb(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiQuery(params): ApiQuery<ImportParams>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let format = format_of(&headers, params.kind)?;
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    let exceeded = Arc::new(AtomicBool::new(false));
    let reader = Limited {
        inner: SyncIoBridge::new(StreamReader::new(stream)),
        left: MAX_IMPORT_BYTES,
        exceeded: exceeded.clone(),
    };
    let source = ImportSource {
        reader: Box::new(reader),
        format,
    };
    let options = ImportOptions {
        dry_run: params.dry_run,
    };
    let report = match state.store.import_cmdb(&caller, source, options).await {
        Ok(report) => report,
        Err(_) if exceeded.load(Ordering::Relaxed) => {
            return Err(AppError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("an import file may be at most {MAX_IMPORT_BYTES} bytes"),
            ));
        }
        Err(err) => return Err(err.into()),
    };
    if report.rejected() == 0 {
        if report.applied {
            // What was imported is in impact answers when the import returns.
            state.impact.catch_up_or_log().await;
        }
        return Ok(Json(report).into_response());
    }
    let problem = ImportProblem {
        problem_type: "urn:stackflow:problem:import_rejected",
        title: "Validation failed",
        status: StatusCode::UNPROCESSABLE_ENTITY.as_u16(),
        detail: format!(
            "{} row(s) rejected; nothing was imported",
            report.rejected()
        ),
        rule: "import_rejected",
        report,
    };
    let mut response = (StatusCode::UNPROCESSABLE_ENTITY, Json(problem)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    Ok(response)
}

/// The format from the content type: CSV or JSON, nothing else.
fn format_of(headers: &HeaderMap, kind: Option<CsvKind>) -> ApiResult<ImportFormat> {
    let mime = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    match mime.as_deref() {
        Some("text/csv") => Ok(ImportFormat::Csv(kind)),
        Some("application/json") if kind.is_none() => Ok(ImportFormat::Json),
        Some("application/json") => Err(AppError::bad_request(
            "bad_query",
            "`kind` applies to CSV files only; a JSON document holds both sections",
        )),
        _ => Err(AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the file as text/csv or application/json",
        )),
    }
}

/// A reader that fails once more than `left` bytes have been read, and
/// says so through `exceeded` (the failure itself reaches us as a store
/// error about an unreadable file).
struct Limited<R> {
    inner: R,
    left: u64,
    exceeded: Arc<AtomicBool>,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        match self.left.checked_sub(read as u64) {
            Some(left) => {
                self.left = left;
                Ok(read)
            }
            None => {
                self.exceeded.store(true, Ordering::Relaxed);
                Err(std::io::Error::other("the import body is too large"))
            }
        }
    }
}
