//! `/api/workflows`: the defaults `migrate` installs, saving documents in
//! JSON and YAML as versions, validation, who may write, and submissions
//! planned from the workflow that matches them.

use crate::fixtures::*;
use crate::support::*;
use axum::http::{Method, StatusCode, header};
use serde_json::{Value, json};
use stackflow_store::PageRequest;

/// Two stages for normal changes on databases: the DBAs, then two of the CAB.
const DB_TWO_STEP: &str = "\
name: db-two-step
type: change_approval
priority: 10
match:
  change_types: [normal]
  ci_classes: [database]
stages:
  - name: DBA review
    lanes:
      - approvers: {group: dba}
        rule: any
  - name: CAB vote
    cab: true
    lanes:
      - approvers: {group: CAB}
        rule: {quorum: 2}
";

/// Sends a workflow document as YAML.
async fn send_yaml(app: &TestApp, method: Method, path: &str, user: &str, yaml: &str) -> Reply {
    app.call(method, path)
        .by(user)
        .header(header::CONTENT_TYPE, "application/yaml")
        .raw(yaml.to_owned())
        .send()
        .await
}

/// Sends a workflow document as JSON.
async fn send_json(app: &TestApp, method: Method, path: &str, user: &str, body: &Value) -> Reply {
    app.call(method, path).by(user).json(body).send().await
}

/// A one-stage workflow for normal changes (the DBAs, any) with `matches`.
fn one_stage(name: &str, priority: i32, matches: Value) -> Value {
    json!({
        "name": name, "type": "change_approval", "priority": priority, "match": matches,
        "stages": [{"name": format!("{name} review"), "lanes": [
            {"approvers": {"group": "dba"}, "rule": "any"}]}]
    })
}

/// The workflow reference frozen on a submitted change.
fn plan_ref(change: &Value) -> (String, u64, String) {
    let plan = &change["approval"]["plan"];
    (
        plan["workflow"]["name"]
            .as_str()
            .expect("workflow name")
            .to_owned(),
        plan["workflow"]["version"]
            .as_u64()
            .expect("workflow version"),
        plan["source"].as_str().expect("source").to_owned(),
    )
}

async fn workflow_audit(app: &TestApp, name: &str) -> Vec<String> {
    app.store
        .audit_trail("workflow", name, PageRequest::default())
        .await
        .expect("audit trail")
        .items
        .into_iter()
        .map(|event| event.action)
        .collect()
}

backend_test!(migrate_installs_the_defaults_once, |app| async move {
    let list = app
        .get("/api/workflows", "vic")
        .await
        .expect(StatusCode::OK);
    let names: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|w| w["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["emergency-default", "normal-default"]);
    let normal = &list["items"][1];
    assert_eq!(normal["version"], 1);
    assert_eq!(normal["active"], true);
    assert_eq!(normal["priority"], 0);
    assert_eq!(normal["created_by"], "system");
    assert_eq!(normal["document"]["stages"][1]["name"], "CAB authorisation");

    // Migrating again installs nothing, and an edit of a default survives it.
    let mut edited = normal["document"].clone();
    edited["priority"] = json!(3);
    send_json(
        &app,
        Method::PUT,
        "/api/workflows/normal-default",
        "max",
        &edited,
    )
    .await
    .expect(StatusCode::OK);
    app.store.migrate().await.expect("migrate again");
    let detail = app
        .get("/api/workflows/normal-default", "vic")
        .await
        .expect(StatusCode::OK);
    assert_eq!(detail["version"], 2);
    assert_eq!(detail["priority"], 3);
    assert_eq!(detail["versions"].as_array().expect("versions").len(), 2);

    // Submissions under the defaults are planned as the built-in policy was.
    let number = app.create("alice", normal_draft()).await;
    let change = app.submit(&number, "alice").await;
    assert_eq!(change["state"], "assess");
    let (name, version, source) = plan_ref(&change);
    assert_eq!((name.as_str(), version), ("normal-default", 2));
    assert_eq!(source, "workflow normal-default v2");
});

backend_test!(
    a_two_stage_yaml_workflow_runs_end_to_end,
    |app| async move {
        let created = send_yaml(&app, Method::POST, "/api/workflows", "max", DB_TWO_STEP)
            .await
            .expect(StatusCode::CREATED);
        assert_eq!(created["name"], "db-two-step");
        assert_eq!(created["version"], 1);
        assert_eq!(created["created_by"], "max");
        assert_eq!(
            created["document"]["stages"][1]["lanes"][0]["rule"],
            json!({"quorum": 2})
        );
        assert_eq!(
            workflow_audit(&app, "db-two-step").await,
            ["workflow.created"]
        );

        let number = app.create("alice", normal_draft()).await;
        let change = app.submit(&number, "alice").await;
        assert_eq!(change["state"], "assess");
        let (name, version, _) = plan_ref(&change);
        assert_eq!((name.as_str(), version), ("db-two-step", 1));
        assert_eq!(
            change["approval"]["plan"]["stages"][0]["name"],
            "DBA review"
        );

        let change = app.approve(&number, "ivan").await;
        assert_eq!(change["state"], "authorize");
        assert_eq!(change["approval"]["current_stage"], 1);
        let change = app.approve(&number, "bob").await;
        assert_eq!(change["state"], "authorize");
        let change = app.approve(&number, "carol").await;
        assert_eq!(change["state"], "scheduled");
    }
);

backend_test!(
    risk_levels_and_ci_classes_pick_the_workflow,
    |app| async move {
        for level in ["low", "moderate", "high", "critical"] {
            let document = one_stage(
                &format!("risk-{level}"),
                10,
                json!({"change_types": ["normal"], "risk_levels": [level]}),
            );
            send_json(&app, Method::POST, "/api/workflows", "admin", &document)
                .await
                .expect(StatusCode::CREATED);
        }
        let apps = one_stage(
            "application-changes",
            20,
            json!({"change_types": ["normal"], "ci_classes": ["application"]}),
        );
        send_json(&app, Method::POST, "/api/workflows", "admin", &apps)
            .await
            .expect(StatusCode::CREATED);

        // The database change matches only the workflow of its assessed level.
        let number = app.create("alice", normal_draft()).await;
        let change = app.submit(&number, "alice").await;
        let level = change["risk_assessment"]["risk_level"]
            .as_str()
            .expect("assessed level")
            .to_ascii_lowercase();
        let (name, version, source) = plan_ref(&change);
        assert_eq!(name, format!("risk-{level}"));
        assert_eq!(version, 1);
        assert_eq!(source, format!("workflow risk-{level} v1"));

        // A change on an application CI goes to the application workflow,
        // which outranks the risk workflows.
        let draft = with(
            normal_draft(),
            json!({"affected_cis": ["orders-app"], "planned_start": "2026-12-08T22:00:00Z",
            "planned_end": "2026-12-08T23:00:00Z"}),
        );
        let number = app.create("alice", draft).await;
        let change = app.submit(&number, "alice").await;
        assert_eq!(plan_ref(&change).0, "application-changes");
        // One stage: a normal change goes straight to authorize.
        assert_eq!(change["state"], "authorize");
    }
);

backend_test!(
    an_invalid_workflow_names_its_fields_and_writes_nothing,
    |app| async move {
        let bad = json!({
            "name": "broken", "type": "change_approval",
            "match": {"change_types": ["normal"]},
            "stages": [{"name": "Review", "lanes": [
                {"approvers": {"group": "nobody"}, "rule": "any"},
                {"approvers": {"group": "dba"}, "rule": {"quorum": 5}}]}]
        });
        let reply = send_json(&app, Method::POST, "/api/workflows", "max", &bad).await;
        let fields: Vec<String> = reply.invalid_fields().into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            [
                "stages[0].lanes[0].approvers.group",
                "stages[0].lanes[1].rule"
            ]
        );
        app.get("/api/workflows/broken", "max")
            .await
            .problem(StatusCode::NOT_FOUND, "not_found");
        assert!(workflow_audit(&app, "broken").await.is_empty());

        // A bad new version of an existing workflow leaves it at its version.
        let mut bad_default = bad.clone();
        bad_default["name"] = json!("normal-default");
        let reply = send_json(
            &app,
            Method::PUT,
            "/api/workflows/normal-default",
            "max",
            &bad_default,
        )
        .await;
        assert_eq!(reply.invalid_fields().len(), 2);
        let detail = app
            .get("/api/workflows/normal-default", "max")
            .await
            .expect(StatusCode::OK);
        assert_eq!(detail["version"], 1);
        assert_eq!(
            workflow_audit(&app, "normal-default").await,
            ["workflow.created"]
        );

        // Shape errors name their field too, in YAML as in JSON.
        let reply = send_yaml(
        &app,
        Method::POST,
        "/api/workflows",
        "max",
        "name: shape\ntype: change_approval\nstages:\n  - name: A\n    lanes:\n      - approvers: {group: dba}\n        rule: sometimes\n",
    )
    .await;
        assert_eq!(reply.invalid_fields()[0].0, "stages[0].lanes[0].rule");
    }
);

backend_test!(
    an_edit_mid_round_leaves_the_round_on_its_plan,
    |app| async move {
        send_yaml(&app, Method::POST, "/api/workflows", "max", DB_TWO_STEP)
            .await
            .expect(StatusCode::CREATED);
        let number = app.create("alice", normal_draft()).await;
        app.submit(&number, "alice").await;
        app.approve(&number, "ivan").await;

        // Version 2 wants the whole CAB; the open round keeps its quorum of two.
        let stricter = DB_TWO_STEP.replace("rule: {quorum: 2}", "rule: all");
        let saved = send_yaml(
            &app,
            Method::PUT,
            "/api/workflows/db-two-step",
            "admin",
            &stricter,
        )
        .await
        .expect(StatusCode::OK);
        assert_eq!(saved["version"], 2);
        app.approve(&number, "bob").await;
        let change = app.approve(&number, "carol").await;
        assert_eq!(change["state"], "scheduled");
        assert_eq!(plan_ref(&change).1, 1);

        // A change submitted now is planned from version 2.
        let draft = with(
            normal_draft(),
            json!({"planned_start": "2026-12-08T22:00:00Z", "planned_end": "2026-12-08T23:00:00Z"}),
        );
        let next = app.create("alice", draft).await;
        let change = app.submit(&next, "alice").await;
        assert_eq!(plan_ref(&change).1, 2);
        assert_eq!(
            change["approval"]["plan"]["stages"][1]["lanes"][0]["rule"],
            "all"
        );
    }
);

backend_test!(
    a_put_adds_a_version_and_keeps_the_old_one,
    |app| async move {
        send_yaml(&app, Method::POST, "/api/workflows", "max", DB_TWO_STEP)
            .await
            .expect(StatusCode::CREATED);
        let renamed = DB_TWO_STEP.replace("name: DBA review", "name: DBA sign-off");
        let saved = app
            .call(Method::PUT, "/api/workflows/db-two-step")
            .by("max")
            .if_match(1)
            .header(header::CONTENT_TYPE, "text/yaml")
            .raw(renamed)
            .send()
            .await
            .expect(StatusCode::OK);
        assert_eq!(saved["version"], 2);

        let current = app
            .get("/api/workflows/db-two-step", "alice")
            .await
            .expect(StatusCode::OK);
        assert_eq!(current["version"], 2);
        assert_eq!(current["document"]["stages"][0]["name"], "DBA sign-off");
        let versions: Vec<u64> = current["versions"]
            .as_array()
            .expect("versions")
            .iter()
            .map(|v| v["version"].as_u64().expect("version"))
            .collect();
        assert_eq!(versions, [1, 2]);
        let old = app
            .get("/api/workflows/db-two-step?version=1", "alice")
            .await
            .expect(StatusCode::OK);
        assert_eq!(old["version"], 1);
        assert_eq!(old["document"]["stages"][0]["name"], "DBA review");
        app.get("/api/workflows/db-two-step?version=7", "alice")
            .await
            .problem(StatusCode::NOT_FOUND, "not_found");

        // Audited with before and after.
        let trail = app
            .store
            .audit_trail("workflow", "db-two-step", PageRequest::default())
            .await
            .expect("audit trail");
        let update = &trail.items[1];
        assert_eq!(update.action, "workflow.updated");
        assert_eq!(update.before.as_ref().expect("before")["version"], 1);
        assert_eq!(update.after.as_ref().expect("after")["version"], 2);

        // A stale If-Match, an existing name and a rename are refused.
        let reply = app
            .call(Method::PUT, "/api/workflows/db-two-step")
            .by("max")
            .if_match(1)
            .header(header::CONTENT_TYPE, "application/yaml")
            .raw(DB_TWO_STEP)
            .send()
            .await;
        reply.problem(StatusCode::CONFLICT, "stale_version");
        send_yaml(&app, Method::POST, "/api/workflows", "max", DB_TWO_STEP)
            .await
            .problem(StatusCode::CONFLICT, "duplicate");
        let reply = send_yaml(
            &app,
            Method::PUT,
            "/api/workflows/normal-default",
            "max",
            DB_TWO_STEP,
        )
        .await;
        assert_eq!(reply.invalid_fields()[0].0, "name");
        let current = app
            .get("/api/workflows/db-two-step", "alice")
            .await
            .expect(StatusCode::OK);
        assert_eq!(current["version"], 2);
    }
);

backend_test!(only_admins_and_change_managers_write, |app| async move {
    for user in ["alice", "ivan", "vic"] {
        send_yaml(&app, Method::POST, "/api/workflows", user, DB_TWO_STEP)
            .await
            .problem(StatusCode::FORBIDDEN, "role_may_not_manage_workflows");
        let list = app.get("/api/workflows", user).await.expect(StatusCode::OK);
        let document = list["items"][1]["document"].clone();
        send_json(
            &app,
            Method::PUT,
            "/api/workflows/normal-default",
            user,
            &document,
        )
        .await
        .problem(StatusCode::FORBIDDEN, "role_may_not_manage_workflows");
    }
    assert!(workflow_audit(&app, "db-two-step").await.is_empty());
    // Other content types are refused before anything is parsed.
    app.call(Method::POST, "/api/workflows")
        .by("max")
        .header(header::CONTENT_TYPE, "text/plain")
        .raw(DB_TWO_STEP)
        .send()
        .await
        .problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    app.call(Method::GET, "/api/workflows")
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED, "unauthorized");
});

backend_test!(
    an_emergency_workflow_never_needs_fewer_than_two_ecab_approvers,
    |app| async move {
        const ONE_APPROVER: &str = "\
name: emergency-lax
type: change_approval
priority: 50
match: {change_types: [emergency]}
stages:
  - name: ECAB
    lanes:
      - approvers: {group_of_kind: ecab}
        rule: {quorum: 1}
";
        let reply = send_yaml(&app, Method::POST, "/api/workflows", "max", ONE_APPROVER).await;
        let fields = reply.invalid_fields();
        assert!(
            fields
                .iter()
                .any(|(field, message)| field.starts_with("stages")
                    && message.to_lowercase().contains("two")),
            "{fields:?}"
        );
        // Two, the minimum, is allowed, and it is what an emergency then
        // needs: one ECAB approval leaves it waiting, the second approves.
        let stricter = ONE_APPROVER
            .replace("emergency-lax", "emergency-strict")
            .replace("{quorum: 1}", "{quorum: 2}");
        send_yaml(&app, Method::POST, "/api/workflows", "max", &stricter)
            .await
            .expect(StatusCode::CREATED);
        let number = app.create("alice", emergency_draft()).await;
        let submitted = app.submit(&number, "alice").await;
        assert_eq!(
            submitted["approval"]["plan"]["workflow"]["name"],
            "emergency-strict"
        );
        assert_eq!(app.approve(&number, "bob").await["state"], "authorize");
        assert_eq!(app.approve(&number, "carol").await["state"], "scheduled");
    }
);

backend_test!(
    an_escaped_nul_in_a_yaml_workflow_is_refused,
    |app| async move {
        const ESCAPED_NUL: &str = "\
name: sneaky
type: change_approval
stages:
  - name: \"Review\\0\"
    lanes:
      - approvers: {group_of_kind: cab}
        rule: majority
";
        let fields = send_yaml(&app, Method::POST, "/api/workflows", "max", ESCAPED_NUL)
            .await
            .invalid_fields();
        assert_eq!(fields[0].0, "document", "{fields:?}");
        app.get("/api/workflows/sneaky", "max")
            .await
            .problem(StatusCode::NOT_FOUND, "not_found");
    }
);

/// A second window for a second change of the same test.
fn next_week_draft() -> Value {
    with(
        normal_draft(),
        json!({"planned_start": "2026-12-08T22:00:00Z", "planned_end": "2026-12-08T23:00:00Z"}),
    )
}

/// The votes the approval view counts in each lane of the open stage.
async fn lane_approvals(app: &TestApp, number: &str) -> Vec<u64> {
    let view = app.approvals(number).await;
    let stage = view["current_stage"].as_u64().expect("an open stage") as usize;
    view["stages"][stage]["lanes"]
        .as_array()
        .expect("lanes")
        .iter()
        .map(|lane| lane["approvals"].as_u64().expect("approvals"))
        .collect()
}

backend_test!(
    an_emergency_is_never_approved_by_one_ecab_member,
    |app| async move {
        // `all` of the ECAB (bob, carol) passes validation: two members.
        let ecab_all = json!({
            "name": "ecab-all", "type": "change_approval", "priority": 10,
            "match": {"change_types": ["emergency"]},
            "stages": [{"name": "ECAB", "lanes": [
                {"approvers": {"group_of_kind": "ecab"}, "rule": "all"}]}]
        });
        send_json(&app, Method::POST, "/api/workflows", "admin", &ecab_all)
            .await
            .expect(StatusCode::CREATED);

        // bob of the ECAB requests: carol alone could never be two.
        let mine = app.create("bob", emergency_draft()).await;
        let refused = app.try_step(&mine, "submit", "bob").await;
        let body = refused.problem(StatusCode::CONFLICT, "approval_stage_unreachable");
        let detail = body["detail"].as_str().expect("detail");
        assert!(detail.contains("2 distinct ECAB approvers"), "{detail}");
        assert_eq!(app.change(&mine).await["state"], "new");

        // alice requests; carol is deactivated before voting: bob's approval
        // alone leaves the emergency waiting, whatever `all` of one says.
        let number = app.create("alice", emergency_draft()).await;
        app.submit(&number, "alice").await;
        app.patch("/api/users/carol", "admin", json!({"active": false}))
            .await
            .expect(StatusCode::OK);
        assert_eq!(app.approve(&number, "bob").await["state"], "authorize");
        // Back, carol's is the second distinct approval.
        app.patch("/api/users/carol", "admin", json!({"active": true}))
            .await
            .expect(StatusCode::OK);
        assert_eq!(app.change(&number).await["state"], "authorize");
        assert_eq!(app.approve(&number, "carol").await["state"], "scheduled");
    }
);

backend_test!(
    a_deactivated_named_approver_stops_counting,
    |app| async move {
        let named = json!({
            "name": "named", "type": "change_approval", "priority": 10,
            "match": {"change_types": ["normal"]},
            "stages": [{"name": "Named", "lanes": [
                {"approvers": {"users": ["ivan", "dave", "carol"]}, "rule": {"quorum": 2}}]}]
        });
        send_json(&app, Method::POST, "/api/workflows", "admin", &named)
            .await
            .expect(StatusCode::CREATED);
        let number = app.create("alice", normal_draft()).await;
        assert_eq!(app.submit(&number, "alice").await["state"], "authorize");
        app.approve(&number, "ivan").await;
        app.patch("/api/users/ivan", "admin", json!({"active": false}))
            .await
            .expect(StatusCode::OK);
        // ivan's approval no longer counts: dave's is the only one.
        assert_eq!(app.approve(&number, "dave").await["state"], "authorize");
        let view = app.approvals(&number).await;
        let lane = &view["stages"][0]["lanes"][0];
        assert_eq!(lane["eligible_approvers"], json!(["carol", "dave"]));
        assert_eq!(lane["approvals"], 1);
        assert_eq!(app.approve(&number, "carol").await["state"], "scheduled");

        // `all` over named users does not wait for one who was deactivated:
        // the deactivation re-evaluates the open round, as leaving a group does.
        let mut all = named.clone();
        all["stages"][0]["lanes"][0] =
            json!({"approvers": {"users": ["dave", "erin"]}, "rule": "all"});
        send_json(&app, Method::PUT, "/api/workflows/named", "admin", &all)
            .await
            .expect(StatusCode::OK);
        let second = app.create("alice", next_week_draft()).await;
        app.submit(&second, "alice").await;
        assert_eq!(app.approve(&second, "dave").await["state"], "authorize");
        app.patch("/api/users/erin", "admin", json!({"active": false}))
            .await
            .expect(StatusCode::OK);
        assert_eq!(app.change(&second).await["state"], "scheduled");
        let actions: Vec<String> = app
            .audit(&second)
            .await
            .iter()
            .map(|event| event["action"].as_str().expect("action").to_owned())
            .collect();
        assert_eq!(
            actions.last().map(String::as_str),
            Some("change.approval_reevaluated")
        );
    }
);

backend_test!(one_approval_settles_one_lane_of_a_stage, |app| async move {
    // dave is a DBA and on the CAB: two reviews need two people.
    let two_lanes = json!({
        "name": "two-lanes", "type": "change_approval", "priority": 10,
        "match": {"change_types": ["normal"]},
        "stages": [{"name": "Review", "lanes": [
            {"name": "DBAs", "approvers": {"group": "dba"}, "rule": "any"},
            {"name": "Board", "approvers": {"group": "CAB"}, "rule": "any"}]}]
    });
    send_json(&app, Method::POST, "/api/workflows", "admin", &two_lanes)
        .await
        .expect(StatusCode::CREATED);
    let number = app.create("alice", normal_draft()).await;
    app.submit(&number, "alice").await;
    assert_eq!(app.approve(&number, "dave").await["state"], "authorize");
    assert_eq!(lane_approvals(&app, &number).await, [1, 0]);
    // ivan can serve only the DBAs: dave's approval moves to the Board.
    assert_eq!(app.approve(&number, "ivan").await["state"], "scheduled");

    // A rejection still rejects in an `any` lane.
    let second = app.create("alice", next_week_draft()).await;
    app.submit(&second, "alice").await;
    let rejected = app.reject(&second, "dave").await;
    assert_eq!(rejected["state"], "new");
    assert_eq!(rejected["approval"]["status"], "rejected");
});
