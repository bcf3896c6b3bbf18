//! `POST /api/cmdb/import`: a CSV or JSON file of CIs and relationships,
//! under its own body limit instead of the API's small default.
//!
//! The body is first spooled to an anonymous temporary file (never held in
//! memory), and only then handed to the store's import: the import runs in
//! one write transaction, which on SQLite blocks every other writer, so it
//! must not wait on a slow or stalled upload.

use crate::AppState;
use crate::extract::{ApiQuery, Auth};
use crate::problem::{ApiResult, AppError, Problem};
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use stackflow_core::permissions::{Permission, require};
use stackflow_store::transfer::{CsvKind, ImportFormat, ImportOptions, ImportReport, ImportSource};
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
    // Refused before the body is read: a viewer's upload never reaches the
    // disk (the store checks again, as it does on every path).
    require(&caller.actor, Permission::ManageCmdb)?;
    let format = format_of(&headers, params.kind)?;
    let spooled = spool(body).await?;
    let source = ImportSource {
        reader: Box::new(std::io::BufReader::with_capacity(1 << 20, spooled)),
        format,
    };
    let options = ImportOptions {
        dry_run: params.dry_run,
    };
    let report = state.store.import_cmdb(&caller, source, options).await?;
    if report.rejected() == 0 {
        if report.applied {
            // What was imported is in impact answers when the import returns.
            state.impact.catch_up_or_log().await;
            crate::risk::reassess_after_cmdb_change(&state).await;
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

/// Copies the request body into an anonymous temporary file (removed when
/// closed) and rewinds it; `413` past [`MAX_IMPORT_BYTES`].
async fn spool(body: Body) -> ApiResult<std::fs::File> {
    use tokio::io::{AsyncSeekExt, AsyncWriteExt};
    // A local disk failure is ours, not the client's: logged, 500.
    let failed = |e: std::io::Error| AppError::from(stackflow_store::StoreError::Io(e));
    let file = tokio::task::spawn_blocking(tempfile::tempfile)
        .await
        .map_err(|e| failed(std::io::Error::other(e)))?
        .map_err(failed)?;
    let mut file = tokio::fs::File::from_std(file);
    let mut stream = body.into_data_stream();
    let mut written: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk
            .map_err(|e| AppError::bad_request("bad_body", format!("the upload failed: {e}")))?;
        written += chunk.len() as u64;
        if written > MAX_IMPORT_BYTES {
            return Err(AppError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("an import file may be at most {MAX_IMPORT_BYTES} bytes"),
            ));
        }
        file.write_all(&chunk).await.map_err(failed)?;
    }
    file.rewind().await.map_err(failed)?;
    Ok(file.into_std().await)
}
