//! `stackflow workflow …`: approval workflow documents from the command
//! line, through the same store operations (validated, versioned and
//! audited, actor `cli`) as the API.

use crate::cli::{WorkflowCommand, cli_caller};
use anyhow::Context;
use stackflow_core::workflow::{DocumentFormat, parse_document};
use stackflow_store::{Store, StoreError};
use std::path::Path;
use std::sync::Arc;

/// Runs a `workflow` subcommand.
pub async fn workflow(store: &Arc<dyn Store>, command: WorkflowCommand) -> anyhow::Result<()> {
    match command {
        WorkflowCommand::List => print_json(&store.list_workflows().await?),
        WorkflowCommand::Show { name, version } => {
            let history = store
                .get_workflow(&name, version)
                .await?
                .with_context(|| format!("no workflow named `{name}`"))?;
            print_json(&history)
        }
        WorkflowCommand::Load { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let document = parse_document(&text, format_of(&file, &text))
                .map_err(|refusal| anyhow::anyhow!("{}: {refusal}", file.display()))?;
            let name = document.name.clone();
            let caller = cli_caller();
            // Create, or save a new version when the name exists: a file
            // under version control is loaded the same way every time.
            let stored = match store.get_workflow(&name, None).await? {
                None => store.create_workflow(&caller, document).await,
                Some(_) => store.update_workflow(&caller, &name, None, document).await,
            }
            .map_err(|err| describe(&file, err))?;
            eprintln!(
                "workflow {} saved as version {} from {}",
                stored.name,
                stored.version,
                file.display()
            );
            print_json(&stored)
        }
    }
}

/// JSON for `.json` files, YAML for `.yaml`/`.yml`, else by the content.
fn format_of(file: &Path, text: &str) -> DocumentFormat {
    match file.extension().and_then(|e| e.to_str()) {
        Some(ext) if ext.eq_ignore_ascii_case("json") => DocumentFormat::Json,
        Some(ext) if ext.eq_ignore_ascii_case("yaml") || ext.eq_ignore_ascii_case("yml") => {
            DocumentFormat::Yaml
        }
        _ => DocumentFormat::detect(text),
    }
}

/// A refusal lists every bad field with its path, one per line.
fn describe(file: &Path, err: StoreError) -> anyhow::Error {
    match err {
        StoreError::Refused(stackflow_core::Refusal::Invalid(errors)) => {
            let lines: Vec<String> = errors
                .iter()
                .map(|e| format!("  {}: {}", e.field, e.message))
                .collect();
            anyhow::anyhow!(
                "{} is not a valid workflow:\n{}",
                file.display(),
                lines.join("\n")
            )
        }
        other => anyhow::Error::new(other).context(format!("saving {}", file.display())),
    }
}

fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
