//! `stackflow demo`: a freshly seeded demo organisation, served at once.
//!
//! Every run starts from an empty database (the demo file is replaced), so
//! the README walkthrough behaves the same each time.

use crate::config::Config;
use crate::serve;
use anyhow::{Context, bail};
use chrono::{DateTime, Duration, Timelike, Utc};
use stackflow_core::{
    Action, Actor, ChangeDraft, ChangeNumber, ChangeType, Channel, CloseCode, Criticality,
    Decision, GroupKind, ObjectivesMet, RelationshipType, Role, Template,
};
use stackflow_store::transfer::{CsvKind, ImportFormat, ImportOptions, ImportSource};
use stackflow_store::{
    Caller, NewCalendarFeed, NewCi, NewGroup, NewRelationship, NewToken, NewUser, PageRequest,
    Store,
};
use stackflow_web::{AppState, clock::SystemClock};
use std::sync::Arc;

/// The demo's database unless one is configured.
pub const DEFAULT_DEMO_DATABASE: &str = "sqlite://stackflow-demo.db";

/// Demo people: username, role, display name.
const PEOPLE: &[(&str, Role, &str)] = &[
    ("admin", Role::Admin, "Ada Admin"),
    ("max", Role::ChangeManager, "Max Manager"),
    ("alice", Role::Requester, "Alice Requester"),
    ("ivan", Role::Implementer, "Ivan Implementer"),
    ("bob", Role::ChangeManager, "Bob (CAB, ECAB)"),
    ("carol", Role::Implementer, "Carol (CAB, ECAB)"),
    ("dave", Role::Implementer, "Dave (CAB, DBA)"),
    ("erin", Role::Viewer, "Erin (CAB)"),
];

/// Demo groups: name, kind, members.
const GROUPS: &[(&str, GroupKind, &[&str])] = &[
    ("CAB", GroupKind::Cab, &["bob", "carol", "dave", "erin"]),
    ("ECAB", GroupKind::Ecab, &["bob", "carol"]),
    ("dba", GroupKind::Implementation, &["ivan", "dave"]),
    ("web-ops", GroupKind::Implementation, &["ivan", "carol"]),
    ("change-managers", GroupKind::ChangeManagement, &["max"]),
    ("service-desk", GroupKind::ServiceDesk, &["alice"]),
];

/// CIs of the generated estate around the hand-made CIs.
const ESTATE_CIS: usize = 3_000;
/// Its seed: the same estate on every run.
const ESTATE_SEED: u64 = 7;

/// Where the hand-made CIs meet the generated estate, so their blast radius
/// reaches into it: a core switch every rack switch hangs off, the SAN under
/// a generated host, VMs on the ESX host.
const ESTATE_LINKS: &[(&str, &str, RelationshipType)] = &[
    ("sw-hub-01", "core-switch-01", RelationshipType::ConnectsTo),
    ("sw-hub-02", "core-switch-01", RelationshipType::ConnectsTo),
    ("host-0000001", "san-01", RelationshipType::DependsOn),
    ("vm-0000001", "host-esx-01", RelationshipType::HostedOn),
    ("vm-0000002", "host-esx-01", RelationshipType::HostedOn),
    ("vm-0000003", "host-esx-01", RelationshipType::HostedOn),
];

/// Imports a generated estate of a few thousand CIs (the synthetic CMDB the
/// benchmark uses, at demo size) and links it to the hand-made CIs.
async fn seed_estate(store: &Arc<dyn Store>, admin: &Caller) -> anyhow::Result<()> {
    let estate = crate::synthetic::generate(ESTATE_CIS, ESTATE_SEED);
    let (mut cis, mut relationships) = (Vec::new(), Vec::new());
    estate.write_csv(&mut cis, &mut relationships)?;
    for (bytes, kind) in [(cis, CsvKind::Cis), (relationships, CsvKind::Relationships)] {
        let source = ImportSource {
            reader: Box::new(std::io::Cursor::new(bytes)),
            format: ImportFormat::Csv(Some(kind)),
        };
        let report = store
            .import_cmdb(admin, source, ImportOptions::default())
            .await?;
        if !report.applied {
            bail!(
                "the demo estate was rejected: {:?}",
                report.rejected_rows.first()
            );
        }
    }
    for (from, to, rel_type) in ESTATE_LINKS {
        let link = NewRelationship {
            from: (*from).into(),
            to: (*to).into(),
            rel_type: *rel_type,
        };
        store.create_relationship(admin, link).await?;
    }
    Ok(())
}

/// Demo CIs: name, class, criticality, owner group.
const CIS: &[(&str, &str, Criticality, &str)] = &[
    (
        "checkout",
        "business_service",
        Criticality::Critical,
        "web-ops",
    ),
    ("orders-app", "application", Criticality::High, "web-ops"),
    ("web-frontend", "application", Criticality::High, "web-ops"),
    ("orders-db-prod", "database", Criticality::Critical, "dba"),
    (
        "vm-orders-01",
        "virtual_machine",
        Criticality::High,
        "web-ops",
    ),
    ("host-esx-01", "host", Criticality::High, "web-ops"),
    ("san-01", "storage", Criticality::Critical, "dba"),
    (
        "core-switch-01",
        "network_device",
        Criticality::Critical,
        "web-ops",
    ),
];

/// Demo dependencies: from depends on to.
const RELATIONSHIPS: &[(&str, &str, RelationshipType)] = &[
    ("checkout", "orders-app", RelationshipType::DependsOn),
    ("checkout", "web-frontend", RelationshipType::DependsOn),
    ("orders-app", "orders-db-prod", RelationshipType::Uses),
    ("orders-app", "vm-orders-01", RelationshipType::RunsOn),
    ("vm-orders-01", "host-esx-01", RelationshipType::HostedOn),
    ("orders-db-prod", "san-01", RelationshipType::DependsOn),
    (
        "host-esx-01",
        "core-switch-01",
        RelationshipType::ConnectsTo,
    ),
];

/// Who the demo's seeding is audited as; its mark on a demo database.
const SEEDER: &str = "demo-seed";

/// Seeds a fresh demo database and serves it. An existing SQLite demo file
/// is replaced; any other non-empty database is refused, never reset.
pub async fn run(config: &Config) -> anyhow::Result<()> {
    let url = &config.database_url;
    if let Some(path) = url.strip_prefix("sqlite://")
        && std::path::Path::new(path).exists()
    {
        let existing = stackflow_store::connect(url).await?;
        let is_demo = seeded_by_demo(&existing).await;
        existing.close().await;
        if !is_demo {
            bail!(
                "{path} is not a StackFlow demo database; refusing to reset it (pass --db with a new file)"
            );
        }
        for suffix in ["", "-wal", "-shm"] {
            let file = format!("{path}{suffix}");
            if std::path::Path::new(&file).exists() {
                std::fs::remove_file(&file)
                    .with_context(|| format!("removing the old demo database {file}"))?;
            }
        }
    }
    let store = stackflow_store::connect(url).await?;
    store.migrate().await?;
    let empty = store
        .list_users(PageRequest {
            limit: 1,
            after: None,
        })
        .await?
        .items
        .is_empty();
    if !empty {
        bail!(
            "{} already has users; the demo seeds only an empty database",
            crate::cli::redact(url)
        );
    }
    let access = seed(&store, Utc::now())
        .await
        .context("seeding the demo organisation")?;
    serve::serve(store, config, move |bound| print_welcome(bound, &access)).await
}

/// Whether the demo seeded this database: its `admin` was created by the
/// demo seeder. Anything unreadable is not a demo database.
async fn seeded_by_demo(store: &Arc<dyn Store>) -> bool {
    store
        .audit_trail(
            "user",
            "admin",
            PageRequest {
                limit: 1,
                after: None,
            },
        )
        .await
        .is_ok_and(|trail| {
            trail
                .items
                .first()
                .is_some_and(|event| event.actor == SEEDER)
        })
}

fn print_welcome(bound: std::net::SocketAddr, access: &DemoAccess) {
    println!();
    println!("StackFlow demo is running at http://{bound}/");
    println!("  API:      http://{bound}/api   (OpenAPI: http://{bound}/api/openapi.json)");
    println!("  Health:   http://{bound}/healthz");
    println!();
    println!("Demo API tokens (use as `Authorization: Bearer <token>`):");
    for (user, token) in &access.tokens {
        println!("  export {}_TOKEN={token}", user.to_uppercase());
    }
    println!();
    println!("Alice's calendar feed of the change schedule (subscribe a calendar client to it):");
    println!(
        "  export SCHEDULE_FEED=http://{bound}{}",
        stackflow_web::api::calendar_feed_path(&access.feed_key)
    );
    println!();
    println!("  export STACKFLOW=http://{bound}");
    println!("  curl -s -H \"Authorization: Bearer $ALICE_TOKEN\" $STACKFLOW/api/changes");
    println!(
        "  curl -s -H \"Authorization: Bearer $ALICE_TOKEN\" $STACKFLOW/api/cis/core-switch-01/impact"
    );
    println!();
    println!(
        "The CMDB holds {} hand-made CIs in a generated estate of {ESTATE_CIS} more.",
        CIS.len()
    );
    println!();
    println!("Press Ctrl-C to stop.");
}

fn caller(username: &str, role: Role, now: DateTime<Utc>) -> Caller {
    Caller::new(Actor::new(username, role), Channel::System, now)
}

fn role_of(username: &str) -> Role {
    PEOPLE
        .iter()
        .find(|(name, _, _)| *name == username)
        .map_or(Role::Viewer, |(_, role, _)| *role)
}

/// What the demo hands its user: each person's fresh API token, and the
/// key of a calendar feed of the change schedule (alice's).
pub struct DemoAccess {
    /// `(username, token)` per person.
    pub tokens: Vec<(String, String)>,
    /// The calendar feed's key.
    pub feed_key: String,
}

/// Seeds people, CMDB, templates and a few changes in different states;
/// returns each person's fresh API token and a calendar feed's key.
pub async fn seed(store: &Arc<dyn Store>, now: DateTime<Utc>) -> anyhow::Result<DemoAccess> {
    let admin = caller(SEEDER, Role::Admin, now);
    let mut tokens = Vec::new();
    for (username, role, display_name) in PEOPLE {
        store
            .create_user(
                &admin,
                NewUser {
                    username: (*username).into(),
                    email: format!("{username}@example.com"),
                    display_name: (*display_name).into(),
                    role: *role,
                },
            )
            .await?;
        let (_, secret) = store
            .create_token(
                &admin,
                username,
                NewToken {
                    name: "demo".into(),
                    expires_at: None,
                },
            )
            .await?;
        tokens.push(((*username).to_owned(), secret));
    }
    for (name, kind, members) in GROUPS {
        store
            .create_group(
                &admin,
                NewGroup {
                    name: (*name).into(),
                    kind: *kind,
                    description: String::new(),
                    members: members.iter().map(|m| (*m).to_owned()).collect(),
                },
            )
            .await?;
    }
    for (name, class, criticality, owner) in CIS {
        store
            .create_ci(
                &admin,
                NewCi {
                    name: (*name).into(),
                    class: (*class).into(),
                    environment: "production".into(),
                    criticality: *criticality,
                    owner_group: Some((*owner).into()),
                    attributes: None,
                },
            )
            .await?;
    }
    for (from, to, rel_type) in RELATIONSHIPS {
        store
            .create_relationship(
                &admin,
                NewRelationship {
                    from: (*from).into(),
                    to: (*to).into(),
                    rel_type: *rel_type,
                },
            )
            .await?;
    }
    seed_estate(store, &admin).await?;
    for template in templates() {
        store.create_template(&admin, template).await?;
    }
    seed_changes(store, now).await?;
    let (_, feed_key) = store
        .create_calendar_feed(
            &admin,
            "alice",
            NewCalendarFeed {
                name: "demo".into(),
            },
        )
        .await?;
    Ok(DemoAccess { tokens, feed_key })
}

fn templates() -> Vec<Template> {
    vec![
        Template {
            name: "restart-web-tier".into(),
            title: "Rolling restart of the web tier".into(),
            description: "Restart web-frontend nodes one at a time behind the load balancer."
                .into(),
            implementation_plan:
                "Drain a node, restart it, wait for health checks, return it; repeat.".into(),
            backout_plan: "Return the drained node to the pool; no state changes.".into(),
            test_plan: "Synthetic checkout transaction succeeds after each node.".into(),
            assignment_group: Some("web-ops".into()),
            active: true,
        },
        Template {
            name: "rotate-tls-certificate".into(),
            title: "Rotate a TLS certificate".into(),
            description: "Replace an expiring certificate with the renewed one.".into(),
            implementation_plan: "Install the renewed certificate and reload the proxy.".into(),
            backout_plan: "Reinstall the previous certificate and reload.".into(),
            test_plan: "Check the served certificate's expiry date.".into(),
            assignment_group: Some("web-ops".into()),
            active: true,
        },
    ]
}

async fn act(
    store: &Arc<dyn Store>,
    who: &str,
    number: ChangeNumber,
    action: Action,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    store
        .act_on_change(&caller(who, role_of(who), now), number, None, action)
        .await
        .with_context(|| format!("{who} acting on {number}"))?;
    Ok(())
}

fn normal(title: &str, cis: &[&str], group: &str, start: DateTime<Utc>) -> ChangeDraft {
    ChangeDraft {
        change_type: Some(ChangeType::Normal),
        title: Some(title.into()),
        description: Some(format!("{title}, as planned with the service owner.")),
        justification: Some("Keeps the service supported and secure.".into()),
        implementation_plan: Some(
            "Follow the runbook step by step; announce start and end in #ops.".into(),
        ),
        backout_plan: Some(
            "Restore from the pre-change snapshot; fail back within 30 minutes.".into(),
        ),
        test_plan: Some("Run the smoke suite and watch error rates for 30 minutes.".into()),
        assignment_group: Some(group.into()),
        assigned_to: Some("ivan".into()),
        affected_cis: cis.iter().map(|c| (*c).to_owned()).collect(),
        planned_start: Some(start),
        planned_end: Some(start + Duration::minutes(90)),
        template: None,
    }
}

/// Submits a change the way the API does: normal and emergency changes are
/// risk-assessed against the seeded CMDB on the way.
async fn submit(
    state: &AppState,
    who: &str,
    number: ChangeNumber,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    stackflow_web::risk::submit(state, &caller(who, role_of(who), now), number, None)
        .await
        .map_err(|e| anyhow::anyhow!("{who} submitting {number}: {e:?}"))?;
    Ok(())
}

async fn seed_changes(store: &Arc<dyn Store>, now: DateTime<Utc>) -> anyhow::Result<()> {
    let state = AppState::build(store.clone(), Arc::new(SystemClock)).await?;
    let alice = caller("alice", Role::Requester, now);
    // A window a few days out, on the hour.
    let window = (now + Duration::days(3))
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(now);

    let draft = store
        .create_change(
            &alice,
            normal(
                "Upgrade orders DB to 16.2",
                &["orders-db-prod"],
                "dba",
                window,
            ),
        )
        .await?;
    let _ = draft;

    let assessing = store
        .create_change(
            &alice,
            normal(
                "Patch ESX host firmware",
                &["host-esx-01"],
                "web-ops",
                window + Duration::days(1),
            ),
        )
        .await?;
    submit(&state, "alice", assessing.number, now).await?;

    let authorizing = store
        .create_change(
            &alice,
            normal(
                "Add index to orders table",
                &["orders-db-prod"],
                "dba",
                window + Duration::days(2),
            ),
        )
        .await?;
    submit(&state, "alice", authorizing.number, now).await?;
    let ok = || Action::Vote {
        decision: Decision::Approved,
        notes: "Looks good.".into(),
    };
    act(store, "ivan", authorizing.number, ok(), now).await?;
    act(store, "carol", authorizing.number, ok(), now).await?;

    let standard = store
        .create_change(
            &alice,
            ChangeDraft {
                change_type: Some(ChangeType::Standard),
                template: Some("restart-web-tier".into()),
                affected_cis: vec!["web-frontend".into()],
                planned_start: Some(window),
                planned_end: Some(window + Duration::minutes(30)),
                ..ChangeDraft::default()
            },
        )
        .await?;
    submit(&state, "alice", standard.number, now).await?;

    let emergency = store
        .create_change(
            &alice,
            ChangeDraft {
                change_type: Some(ChangeType::Emergency),
                title: Some("Fail over orders DB after disk errors".into()),
                ..normal(
                    "",
                    &["orders-db-prod", "san-01"],
                    "dba",
                    now + Duration::hours(1),
                )
            },
        )
        .await?;
    submit(&state, "alice", emergency.number, now).await?;
    act(store, "bob", emergency.number, ok(), now).await?;

    let closed = store
        .create_change(
            &alice,
            normal(
                "Rotate orders-app secrets",
                &["orders-app"],
                "web-ops",
                now - Duration::days(6),
            ),
        )
        .await?;
    submit(&state, "alice", closed.number, now).await?;
    act(store, "ivan", closed.number, ok(), now).await?;
    for voter in ["bob", "carol", "dave"] {
        act(store, voter, closed.number, ok(), now).await?;
    }
    act(store, "ivan", closed.number, Action::Implement, now).await?;
    act(store, "ivan", closed.number, Action::Complete, now).await?;
    act(
        store,
        "alice",
        closed.number,
        Action::Review {
            objectives_met: ObjectivesMet::Yes,
            close_code: CloseCode::Successful,
            lessons_learned: "Stage the new secrets a day earlier next time.".into(),
        },
        now,
    )
    .await?;
    Ok(())
}
