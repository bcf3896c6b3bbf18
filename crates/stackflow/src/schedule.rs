//! `stackflow calendar …` and `stackflow window …`: the business calendar
//! and maintenance and blackout windows from the command line, through the
//! same store operations (validated and audited, actor `cli`) as the API.

use crate::cli::{CalendarCommand, WindowCommand, cli_caller};
use anyhow::Context;
use serde::de::DeserializeOwned;
use stackflow_core::{CalendarDocument, NewWindow};
use stackflow_store::Store;
use std::path::Path;
use std::sync::Arc;

/// Runs a `calendar` subcommand.
pub async fn calendar(store: &Arc<dyn Store>, command: CalendarCommand) -> anyhow::Result<()> {
    let calendar = match command {
        CalendarCommand::Show => store.get_calendar().await?,
        CalendarCommand::Set { file } => {
            let document: CalendarDocument = read_json(&file)?;
            let calendar = store.put_calendar(&cli_caller(), document).await?;
            eprintln!("business calendar set from {}", file.display());
            calendar
        }
    };
    print_json(&CalendarDocument::from(&calendar))
}

/// Runs a `window` subcommand.
pub async fn window(store: &Arc<dyn Store>, command: WindowCommand) -> anyhow::Result<()> {
    match command {
        WindowCommand::List => print_json(&store.list_windows().await?),
        WindowCommand::Add { file } => {
            let draft: NewWindow = read_json(&file)?;
            let window = store.create_window(&cli_caller(), draft).await?;
            eprintln!(
                "added {} window {} ({})",
                window.kind, window.id, window.name
            );
            print_json(&window)
        }
    }
}

fn read_json<T: DeserializeOwned>(file: &Path) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let mut json = serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(&mut json).map_err(|err| {
        let path = err.path().to_string();
        anyhow::anyhow!("{}: at `{path}`: {}", file.display(), err.into_inner())
    })
}

fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
