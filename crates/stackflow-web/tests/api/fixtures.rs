//! The seeded organisation, change drafts, and the steps of a change's life
//! as one-line helpers, so that tests read as the behaviour they check.

use crate::support::{Reply, TestApp};
use axum::http::{Method, StatusCode};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use stackflow_core::{Actor, Channel, Criticality, GroupKind, RelationshipType, Role, Template};
use stackflow_store::{Caller, NewCi, NewGroup, NewRelationship, NewToken, NewUser, Store};
use std::collections::HashMap;
use std::sync::Arc;

/// People: username and role. bob, carol, dave and erin sit on the CAB;
/// bob and carol on the ECAB too; ivan and dave are the DBAs; vic only
/// reads; olga implements but belongs to no group.
const PEOPLE: &[(&str, Role)] = &[
    ("admin", Role::Admin),
    ("max", Role::ChangeManager),
    ("alice", Role::Requester),
    ("ivan", Role::Implementer),
    ("bob", Role::Requester),
    ("carol", Role::Requester),
    ("dave", Role::Implementer),
    ("erin", Role::Requester),
    ("vic", Role::Viewer),
    ("olga", Role::Implementer),
];

/// Groups: name, kind, members.
const GROUPS: &[(&str, GroupKind, &[&str])] = &[
    ("CAB", GroupKind::Cab, &["bob", "carol", "dave", "erin"]),
    ("ECAB", GroupKind::Ecab, &["bob", "carol"]),
    ("dba", GroupKind::Implementation, &["ivan", "dave"]),
];

/// The standard change template every standard change here uses.
pub const TEMPLATE: &str = "restart-db-replica";
/// The template's implementation plan, which its changes must carry.
pub const TEMPLATE_PLAN: &str = "Restart the replica; wait for replication lag under 1 s.";

/// The planned window of [`normal_draft`].
pub const PLANNED_START: &str = "2026-12-01T22:00:00Z";
/// End of [`PLANNED_START`]'s window.
pub const PLANNED_END: &str = "2026-12-01T23:30:00Z";

/// Seeds people, groups, CIs and the standard template through the store
/// (as an admin on the CLI channel) and returns each person's API token.
pub async fn seed_org(store: &Arc<dyn Store>, now: DateTime<Utc>) -> HashMap<String, String> {
    let admin = Caller::new(Actor::new("admin", Role::Admin), Channel::Cli, now);
    let mut tokens = HashMap::new();
    for (username, role) in PEOPLE {
        let user = NewUser {
            username: (*username).into(),
            email: format!("{username}@example.com"),
            display_name: String::new(),
            role: *role,
        };
        store.create_user(&admin, user).await.expect("seed user");
        let (_, secret) = store
            .create_token(&admin, username, NewToken::default())
            .await
            .expect("seed token");
        tokens.insert((*username).to_owned(), secret);
    }
    for (name, kind, members) in GROUPS {
        let group = NewGroup {
            name: (*name).into(),
            kind: *kind,
            description: String::new(),
            members: members.iter().map(|m| (*m).to_owned()).collect(),
        };
        store.create_group(&admin, group).await.expect("seed group");
    }
    for (name, class, criticality) in [
        ("orders-db-prod", "database", Criticality::Critical),
        ("orders-app", "application", Criticality::High),
    ] {
        let ci = NewCi {
            name: name.into(),
            class: class.into(),
            environment: "production".into(),
            criticality,
            owner_group: Some("dba".into()),
            attributes: None,
        };
        store.create_ci(&admin, ci).await.expect("seed CI");
    }
    let uses = NewRelationship {
        from: "orders-app".into(),
        to: "orders-db-prod".into(),
        rel_type: RelationshipType::Uses,
    };
    store
        .create_relationship(&admin, uses)
        .await
        .expect("seed relationship");
    let template = Template {
        name: TEMPLATE.into(),
        title: "Restart a read replica".into(),
        description: "Routine restart of one read replica.".into(),
        implementation_plan: TEMPLATE_PLAN.into(),
        backout_plan: "Promote nothing; the primary keeps serving.".into(),
        test_plan: "Replica answers queries and lag is under 1 s.".into(),
        assignment_group: Some("dba".into()),
        active: true,
    };
    store
        .create_template(&admin, template)
        .await
        .expect("seed template");
    tokens
}

/// A complete normal change, ready to submit.
pub fn normal_draft() -> Value {
    json!({
        "type": "normal",
        "title": "Upgrade orders DB to 16.2",
        "description": "Minor version upgrade of the orders database.",
        "justification": "Security fixes.",
        "implementation_plan": "Fail over, upgrade the old primary, fail back.",
        "backout_plan": "Fail back to the untouched node.",
        "test_plan": "Run the orders smoke suite.",
        "assignment_group": "dba",
        "affected_cis": ["orders-db-prod"],
        "planned_start": PLANNED_START,
        "planned_end": PLANNED_END,
    })
}

/// A complete emergency change, its window starting an hour after [`crate::support::START`].
pub fn emergency_draft() -> Value {
    with(
        normal_draft(),
        json!({
            "type": "emergency",
            "title": "Fail over orders DB after disk errors",
            "planned_start": "2026-11-25T11:00:00Z",
            "planned_end": "2026-11-25T13:00:00Z",
        }),
    )
}

/// A standard change from [`TEMPLATE`].
pub fn standard_draft() -> Value {
    json!({
        "type": "standard",
        "template": TEMPLATE,
        "affected_cis": ["orders-db-prod"],
        "planned_start": PLANNED_START,
        "planned_end": PLANNED_END,
    })
}

/// `base` with the fields of `overrides` set (a `null` removes a field).
pub fn with(mut base: Value, overrides: Value) -> Value {
    let (Some(fields), Value::Object(overrides)) = (base.as_object_mut(), overrides) else {
        panic!("`with` merges JSON objects");
    };
    for (key, value) in overrides {
        if value.is_null() {
            fields.remove(&key);
        } else {
            fields.insert(key, value);
        }
    }
    base
}

/// What a refused write must leave as it was.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    /// The change's version.
    pub version: i64,
    /// Its state.
    pub state: String,
    /// The number of events in its audit trail.
    pub audit_events: usize,
}

impl TestApp {
    /// Creates a change as `user`, asserting 201; returns its number.
    pub async fn create(&self, user: &str, draft: Value) -> String {
        let change = self
            .post("/api/changes", user, draft)
            .await
            .expect(StatusCode::CREATED);
        change["number"]
            .as_str()
            .expect("a change number")
            .to_owned()
    }

    /// Reads a change (as the admin), asserting 200.
    pub async fn change(&self, number: &str) -> Value {
        self.get(&format!("/api/changes/{number}"), "admin")
            .await
            .expect(StatusCode::OK)
    }

    /// Posts a lifecycle action (`submit`, `approve`, …) with a JSON body.
    pub async fn try_act(&self, number: &str, action: &str, user: &str, body: Value) -> Reply {
        self.post(&format!("/api/changes/{number}/{action}"), user, body)
            .await
    }

    /// Posts a lifecycle action with no body at all.
    pub async fn try_step(&self, number: &str, action: &str, user: &str) -> Reply {
        self.call(Method::POST, &format!("/api/changes/{number}/{action}"))
            .by(user)
            .send()
            .await
    }

    /// Posts a body-less action (`submit`, `implement`, `complete`),
    /// asserting 200; returns the change.
    pub async fn step(&self, number: &str, action: &str, user: &str) -> Value {
        self.try_step(number, action, user)
            .await
            .expect(StatusCode::OK)
    }

    /// Submits as `user`, asserting 200.
    pub async fn submit(&self, number: &str, user: &str) -> Value {
        self.step(number, "submit", user).await
    }

    /// Votes as `user`: `decision` is `approved` or `rejected`.
    pub async fn try_vote(&self, number: &str, user: &str, decision: &str) -> Reply {
        let notes = format!("{user} says {decision}");
        self.try_act(
            number,
            "approve",
            user,
            json!({"decision": decision, "notes": notes}),
        )
        .await
    }

    /// Approves as `user`, asserting 200; returns the change.
    pub async fn approve(&self, number: &str, user: &str) -> Value {
        self.try_vote(number, user, "approved")
            .await
            .expect(StatusCode::OK)
    }

    /// Rejects as `user`, asserting 200; returns the change.
    pub async fn reject(&self, number: &str, user: &str) -> Value {
        self.try_vote(number, user, "rejected")
            .await
            .expect(StatusCode::OK)
    }

    /// Records the post-implementation review as `user`, asserting 200.
    pub async fn review(&self, number: &str, user: &str, close_code: &str) -> Value {
        let body = json!({
            "objectives_met": "yes",
            "close_code": close_code,
            "lessons_learned": "Take the snapshot earlier.",
        });
        self.try_act(number, "review", user, body)
            .await
            .expect(StatusCode::OK)
    }

    /// The approval view of a change.
    pub async fn approvals(&self, number: &str) -> Value {
        self.get(&format!("/api/changes/{number}/approvals"), "admin")
            .await
            .expect(StatusCode::OK)
    }

    /// A change's whole audit trail, oldest first.
    pub async fn audit(&self, number: &str) -> Vec<Value> {
        let page = self
            .get(&format!("/api/changes/{number}/audit?limit=500"), "admin")
            .await
            .expect(StatusCode::OK);
        assert!(page["next_cursor"].is_null(), "the trail fits one page");
        page["items"].as_array().expect("audit items").clone()
    }

    /// Version, state and audit length of a change.
    pub async fn snapshot(&self, number: &str) -> Snapshot {
        let change = self.change(number).await;
        Snapshot {
            version: change["version"].as_i64().expect("version"),
            state: change["state"].as_str().expect("state").to_owned(),
            audit_events: self.audit(number).await.len(),
        }
    }

    /// Asserts that a refused write left the change as it was.
    pub async fn assert_unchanged(&self, number: &str, before: &Snapshot) {
        assert_eq!(
            &self.snapshot(number).await,
            before,
            "a refused write changed {number}"
        );
    }

    /// Adds an implementation task as `user`, asserting 201.
    pub async fn add_task(&self, number: &str, user: &str, title: &str) -> Value {
        self.post(
            &format!("/api/changes/{number}/tasks"),
            user,
            json!({"title": title}),
        )
        .await
        .expect(StatusCode::CREATED)
    }

    /// Moves a task to `state` as `user`, asserting 200.
    pub async fn set_task_state(&self, number: &str, task: &Value, user: &str, state: &str) {
        let path = format!("/api/changes/{number}/tasks/{}", task["id"]);
        let updated = self
            .patch(&path, user, json!({"state": state}))
            .await
            .expect(StatusCode::OK);
        assert_eq!(updated["state"], state);
    }

    /// A normal change by alice, submitted and assessed by ivan: in
    /// `authorize`, waiting for the CAB (majority of bob, carol, dave, erin).
    pub async fn normal_in_authorize(&self) -> String {
        let number = self.create("alice", normal_draft()).await;
        self.submit(&number, "alice").await;
        let change = self.approve(&number, "ivan").await;
        assert_eq!(change["state"], "authorize");
        number
    }

    /// A standard change by alice, submitted: `scheduled` at once.
    pub async fn scheduled_standard(&self) -> String {
        let number = self.create("alice", standard_draft()).await;
        assert_eq!(self.submit(&number, "alice").await["state"], "scheduled");
        number
    }
}
