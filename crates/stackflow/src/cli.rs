//! The command line: one binary, one subcommand per job.

use crate::bench::BenchCommand;
use crate::config::{Config, Overrides};
use crate::transfer::{ExportArgs, ImportArgs};
use crate::{bench, demo, schedule, serve, transfer, workflow};
use anyhow::Context;
use chrono::Utc;
use clap::{Args, Parser, Subcommand};
use stackflow_core::{Actor, Channel, GroupKind, Role};
use stackflow_store::{Caller, NewCalendarFeed, NewGroup, NewToken, NewUser, PageRequest, Store};
use std::path::PathBuf;
use std::sync::Arc;

/// StackFlow: self-hosted ITIL change management.
#[derive(Debug, Parser)]
#[command(name = "stackflow", version, about)]
pub struct Cli {
    /// A TOML configuration file.
    #[arg(long, global = true, env = "STACKFLOW_CONFIG")]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite://FILE or postgres://USER@HOST/DB [env: STACKFLOW_DATABASE_URL].
    #[arg(long = "db", global = true)]
    pub database_url: Option<String>,
    /// Log format: text or json.
    #[arg(
        long,
        global = true,
        env = "STACKFLOW_LOG_FORMAT",
        default_value = "text"
    )]
    pub log_format: String,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate the database and serve the API.
    Serve(ListenArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Serve a freshly seeded demo organisation (SQLite file stackflow-demo.db by default).
    Demo(ListenArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage groups.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage calendar feeds (secret addresses of the change schedule).
    #[command(subcommand)]
    Feed(FeedCommand),
    /// Show or set the business calendar.
    #[command(subcommand)]
    Calendar(CalendarCommand),
    /// List or add maintenance and blackout windows.
    #[command(subcommand)]
    Window(WindowCommand),
    /// List, show or load approval workflows.
    #[command(subcommand)]
    Workflow(WorkflowCommand),
    /// Import CIs and relationships from a CSV or JSON file (all or nothing).
    Import(ImportArgs),
    /// Export CIs and relationships as CSV files or one JSON document.
    Export(ExportArgs),
    /// Check the prerequisites (CAB and ECAB, approval workflows, schema,
    /// background jobs); exits 1 when something is missing.
    Check,
    /// Measure performance on the configured database.
    #[command(subcommand)]
    Bench(BenchCommand),
}

/// Where to listen.
#[derive(Debug, Args)]
pub struct ListenArgs {
    /// HOST:PORT to bind [env: STACKFLOW_LISTEN; default 127.0.0.1:8080].
    #[arg(long)]
    pub listen: Option<String>,
}

/// `stackflow user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user.
    Add {
        /// Login name.
        username: String,
        /// Email address.
        #[arg(long)]
        email: String,
        /// admin, change_manager, requester, implementer or viewer.
        #[arg(long)]
        role: Role,
        /// Display name.
        #[arg(long, default_value = "")]
        display_name: String,
    },
    /// List users.
    List,
}

/// `stackflow group …`.
#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Add a group.
    Add {
        /// Group name.
        name: String,
        /// cab, ecab, implementation, change_management or service_desk.
        #[arg(long)]
        kind: GroupKind,
        /// Comma-separated usernames.
        #[arg(long, value_delimiter = ',')]
        members: Vec<String>,
        /// Description.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Replace a group's members.
    Members {
        /// Group name.
        name: String,
        /// Comma-separated usernames (empty to clear).
        #[arg(long, value_delimiter = ',')]
        set: Vec<String>,
    },
    /// List groups.
    List,
}

/// `stackflow token …`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token for a user; prints only the token.
    Create {
        /// Owner.
        username: String,
        /// Label.
        #[arg(long, default_value = "cli")]
        name: String,
        /// Expire after this many days (default: never).
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// List a user's tokens.
    List {
        /// Owner.
        username: String,
    },
    /// Revoke a token by id.
    Revoke {
        /// Token id (from `token list`).
        id: i64,
    },
}

/// `stackflow feed …`: people create their own feeds through the API; these
/// are for an operator, e.g. to revoke a key that leaked.
#[derive(Debug, Subcommand)]
pub enum FeedCommand {
    /// Create a calendar feed for a user; prints only its address.
    Create {
        /// Owner.
        username: String,
        /// Label.
        #[arg(long, default_value = "cli")]
        name: String,
    },
    /// List every user's calendar feeds.
    List,
    /// Revoke a calendar feed by id.
    Revoke {
        /// Feed id (from `feed list`).
        id: i64,
    },
}

/// `stackflow calendar …`.
#[derive(Debug, Subcommand)]
pub enum CalendarCommand {
    /// Print the business calendar as JSON.
    Show,
    /// Validate and store the business calendar from a JSON file; prints it.
    Set {
        /// The calendar document (see docs/calendar-and-windows.md).
        file: PathBuf,
    },
}

/// `stackflow window …`.
#[derive(Debug, Subcommand)]
pub enum WindowCommand {
    /// Print every maintenance and blackout window as a JSON array.
    List,
    /// Validate and add a window from a JSON file; prints it.
    Add {
        /// The window (see docs/calendar-and-windows.md).
        file: PathBuf,
    },
}

/// `stackflow workflow …`.
#[derive(Debug, Subcommand)]
pub enum WorkflowCommand {
    /// Print the current version of every workflow as a JSON array.
    List,
    /// Print one workflow (current version, or --version) with its versions.
    Show {
        /// The workflow's name.
        name: String,
        /// A stored version instead of the current one.
        #[arg(long)]
        version: Option<u32>,
    },
    /// Validate and save a workflow from a JSON or YAML file: created, or a
    /// new version when its name exists; prints it.
    Load {
        /// The workflow document (see docs/workflows.md).
        file: PathBuf,
    },
}

/// The CLI acts as a local administrator; its writes are audited as `cli`.
pub(crate) fn cli_caller() -> Caller {
    Caller::new(Actor::new("cli", Role::Admin), Channel::Cli, Utc::now())
}

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.is_empty())
}

/// Opens and migrates the configured database.
async fn open(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let store = stackflow_store::connect(&config.database_url)
        .await
        .with_context(|| format!("connecting to {}", redact(&config.database_url)))?;
    store.migrate().await.context("migrating the database")?;
    Ok(store)
}

/// Hides a password in a database URL — in the user info or as a
/// `password=` query parameter — before it is printed.
pub fn redact(url: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let mut redacted = match (base.find("://"), base.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => match base[scheme + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &base[..scheme + 3], &base[at..]),
            None => base.to_owned(),
        },
        _ => base.to_owned(),
    };
    if let Some(query) = query {
        let pairs: Vec<&str> = query
            .split('&')
            .map(|pair| {
                if pair.starts_with("password=") {
                    "password=***"
                } else {
                    pair
                }
            })
            .collect();
        redacted.push('?');
        redacted.push_str(&pairs.join("&"));
    }
    redacted
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let listen = match &cli.command {
        Command::Serve(args) | Command::Demo(args) => args.listen.clone(),
        _ => None,
    };
    let mut database_url = cli.database_url.clone();
    if matches!(cli.command, Command::Demo(_)) && database_url.is_none() {
        // The demo never touches the configured database: only `--db` or
        // its own file.
        database_url = Some(demo::DEFAULT_DEMO_DATABASE.to_owned());
    }
    let config = Config::load(
        cli.config.as_deref(),
        &env,
        &Overrides {
            database_url,
            listen,
        },
    )?;
    match cli.command {
        Command::Serve(_) => serve::serve(open(&config).await?, &config, |_| {}).await,
        Command::Migrate => {
            open(&config).await?.close().await;
            eprintln!("migrations applied to {}", redact(&config.database_url));
            Ok(())
        }
        Command::Demo(_) => demo::run(&config).await,
        Command::Check => match crate::check::run(&config).await? {
            true => Ok(()),
            false => anyhow::bail!("prerequisites are missing (listed above)"),
        },
        Command::User(command) => user(&open(&config).await?, command).await,
        Command::Group(command) => group(&open(&config).await?, command).await,
        Command::Token(command) => token(&open(&config).await?, command).await,
        Command::Feed(command) => feed(&open(&config).await?, &config, command).await,
        Command::Calendar(command) => {
            let store = open(&config).await?;
            let outcome = schedule::calendar(&store, command).await;
            store.close().await;
            outcome
        }
        Command::Window(command) => {
            let store = open(&config).await?;
            let outcome = schedule::window(&store, command).await;
            store.close().await;
            outcome
        }
        Command::Workflow(command) => {
            let store = open(&config).await?;
            let outcome = workflow::workflow(&store, command).await;
            store.close().await;
            outcome
        }
        Command::Import(args) => {
            let store = open(&config).await?;
            let outcome = transfer::import(&store, &cli_caller(), args).await;
            store.close().await;
            outcome
        }
        Command::Export(args) => {
            let store = open(&config).await?;
            let outcome = transfer::export(&store, args).await;
            store.close().await;
            outcome
        }
        Command::Bench(command) => bench::run(open(&config).await?, command).await,
    }
}

async fn user(store: &Arc<dyn Store>, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add {
            username,
            email,
            role,
            display_name,
        } => {
            let user = store
                .create_user(
                    &cli_caller(),
                    NewUser {
                        username,
                        email,
                        display_name,
                        role,
                    },
                )
                .await?;
            eprintln!("added user {} ({})", user.username, user.role);
        }
        UserCommand::List => {
            let mut page = PageRequest {
                limit: 500,
                after: None,
            };
            loop {
                let users = store.list_users(page).await?;
                for user in users.items {
                    println!(
                        "{}\t{}\t{}\t{}",
                        user.username,
                        user.role,
                        user.email,
                        if user.active { "active" } else { "inactive" }
                    );
                }
                match users.next_cursor {
                    Some(cursor) => page.after = Some(cursor),
                    None => break,
                }
            }
        }
    }
    store.close().await;
    Ok(())
}

async fn group(store: &Arc<dyn Store>, command: GroupCommand) -> anyhow::Result<()> {
    match command {
        GroupCommand::Add {
            name,
            kind,
            members,
            description,
        } => {
            let group = store
                .create_group(
                    &cli_caller(),
                    NewGroup {
                        name,
                        kind,
                        description,
                        members,
                    },
                )
                .await?;
            eprintln!(
                "added group {} ({}) with {} member(s)",
                group.name,
                group.kind,
                group.members.len()
            );
        }
        GroupCommand::Members { name, set } => {
            let group = store.set_group_members(&cli_caller(), &name, set).await?;
            eprintln!("group {} now has: {}", group.name, group.members.join(", "));
        }
        GroupCommand::List => {
            let mut page = PageRequest {
                limit: 500,
                after: None,
            };
            loop {
                let groups = store.list_groups(page).await?;
                for group in groups.items {
                    println!(
                        "{}\t{}\t{}",
                        group.name,
                        group.kind,
                        group.members.join(",")
                    );
                }
                match groups.next_cursor {
                    Some(cursor) => page.after = Some(cursor),
                    None => break,
                }
            }
        }
    }
    store.close().await;
    Ok(())
}

async fn token(store: &Arc<dyn Store>, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create {
            username,
            name,
            expires_in_days,
        } => {
            let caller = cli_caller();
            let expires_at =
                expires_in_days.map(|days| caller.now + chrono::Duration::days(i64::from(days)));
            let (_, secret) = store
                .create_token(&caller, &username, NewToken { name, expires_at })
                .await?;
            // Only the token on stdout, so scripts can capture it.
            println!("{secret}");
        }
        TokenCommand::List { username } => {
            for token in store.list_tokens(&cli_caller(), &username).await? {
                let status = match (token.revoked_at, token.expires_at) {
                    (Some(_), _) => "revoked".to_owned(),
                    (None, Some(expiry)) if expiry <= Utc::now() => "expired".to_owned(),
                    (None, Some(expiry)) => format!("expires {}", expiry.to_rfc3339()),
                    (None, None) => "active".to_owned(),
                };
                println!(
                    "{}\t{}\t{}\t{}",
                    token.id,
                    token.name,
                    token.created_at.to_rfc3339(),
                    status
                );
            }
        }
        TokenCommand::Revoke { id } => {
            let token = store.revoke_token(&cli_caller(), id).await?;
            eprintln!("revoked token {} of {}", token.id, token.username);
        }
    }
    store.close().await;
    Ok(())
}

async fn feed(store: &Arc<dyn Store>, config: &Config, command: FeedCommand) -> anyhow::Result<()> {
    match command {
        FeedCommand::Create { username, name } => {
            let (_, key) = store
                .create_calendar_feed(&cli_caller(), &username, NewCalendarFeed { name })
                .await?;
            // Only the address on stdout: it is what a calendar client needs.
            println!(
                "{}{}",
                config.public_url,
                stackflow_web::api::calendar_feed_path(&key)
            );
        }
        FeedCommand::List => {
            let mut page = PageRequest {
                limit: 500,
                after: None,
            };
            loop {
                let feeds = store.list_calendar_feeds(&cli_caller(), page).await?;
                for feed in feeds.items {
                    let status = match feed.revoked_at {
                        Some(at) => format!("revoked {}", at.to_rfc3339()),
                        None => "active".to_owned(),
                    };
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        feed.id,
                        feed.username,
                        feed.name,
                        feed.created_at.to_rfc3339(),
                        status
                    );
                }
                match feeds.next_cursor {
                    Some(cursor) => page.after = Some(cursor),
                    None => break,
                }
            }
        }
        FeedCommand::Revoke { id } => {
            let feed = store.revoke_calendar_feed(&cli_caller(), id).await?;
            eprintln!("revoked calendar feed {} of {}", feed.id, feed.username);
        }
    }
    store.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_never_reach_the_terminal() {
        assert_eq!(
            redact("postgres://app:s3cret@db/stackflow"),
            "postgres://app:***@db/stackflow"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
        assert_eq!(redact("sqlite://stackflow.db"), "sqlite://stackflow.db");
        assert_eq!(
            redact("postgres://app@db/stackflow?sslmode=require&password=s3cret"),
            "postgres://app@db/stackflow?sslmode=require&password=***"
        );
    }
}
