//! The audit trail (one event per accepted action, with who, what, when,
//! channel, before and after) and the notification outbox written with it.

use crate::fixtures::*;
use crate::support::*;
use axum::http::StatusCode;
use chrono::Duration;
use serde_json::{Value, json};
use stackflow_store::OutboxItem;

/// Asserts that the trail of `number` has grown to `len` events, the last
/// being `action` by `actor` through the API at the clock's time; returns it.
async fn assert_appended(
    app: &TestApp,
    number: &str,
    len: usize,
    action: &str,
    actor: &str,
) -> Value {
    let trail = app.audit(number).await;
    assert_eq!(trail.len(), len, "after {action}: {trail:#?}");
    let event = trail.last().expect("an event").clone();
    assert_eq!(event["action"], action);
    assert_eq!(event["actor"], actor);
    assert_eq!(event["channel"], "api");
    assert_eq!(event["entity_type"], "change");
    assert_eq!(event["entity_key"], number);
    assert_eq!(time_of(&event["at"]), app.now());
    event
}

/// Asserts that the last event records a change write: `before` is the
/// previous version, `after` the change as it now reads.
async fn assert_change_event(app: &TestApp, number: &str, len: usize, action: &str, actor: &str) {
    let event = assert_appended(app, number, len, action, actor).await;
    let current = app.change(number).await;
    assert_eq!(event["after"], current, "`after` is the change as stored");
    assert_eq!(
        event["before"]["version"].as_i64().unwrap() + 1,
        current["version"].as_i64().unwrap()
    );
}

backend_test!(
    each_accepted_action_appends_exactly_one_audit_event,
    |app| async move {
        let number = app.create("alice", normal_draft()).await;
        let created = assert_appended(&app, &number, 1, "change.created", "alice").await;
        assert_eq!(created["before"], Value::Null);
        assert_eq!(created["after"], app.change(&number).await);

        let mut len = 1;
        let mut next = |minutes| {
            app.clock.advance(Duration::minutes(minutes));
            len += 1;
            len
        };
        let n = next(1);
        app.patch(
            &format!("/api/changes/{number}"),
            "alice",
            json!({"justification": "CVE fixes."}),
        )
        .await
        .expect(StatusCode::OK);
        assert_change_event(&app, &number, n, "change.edited", "alice").await;

        let n = next(1);
        app.submit(&number, "alice").await;
        assert_change_event(&app, &number, n, "change.submitted", "alice").await;

        for voter in ["ivan", "bob", "carol", "dave"] {
            let n = next(1);
            app.approve(&number, voter).await;
            assert_change_event(&app, &number, n, "change.voted", voter).await;
        }
        assert_eq!(app.change(&number).await["state"], "scheduled");

        let n = next(1);
        let task = app.add_task(&number, "ivan", "Take a snapshot").await;
        let added = assert_appended(&app, &number, n, "task.created", "ivan").await;
        assert_eq!(added["before"], Value::Null);
        assert_eq!(added["after"], task);

        let n = next(1);
        app.step(&number, "implement", "ivan").await;
        assert_change_event(&app, &number, n, "change.implementation_started", "ivan").await;

        let n = next(1);
        app.set_task_state(&number, &task, "ivan", "done").await;
        let updated = assert_appended(&app, &number, n, "task.updated", "ivan").await;
        assert_eq!(
            (
                updated["before"]["state"].as_str(),
                updated["after"]["state"].as_str()
            ),
            (Some("open"), Some("done"))
        );

        let n = next(1);
        app.step(&number, "complete", "ivan").await;
        assert_change_event(&app, &number, n, "change.implementation_completed", "ivan").await;

        let n = next(1);
        app.review(&number, "alice", "successful").await;
        assert_change_event(&app, &number, n, "change.reviewed", "alice").await;
    }
);

/// The outbox rows of one event type about one change.
async fn outbox(app: &TestApp, event: &str, number: &str) -> Vec<OutboxItem> {
    app.store
        .pending_outbox(1000)
        .await
        .expect("read the outbox")
        .into_iter()
        .filter(|item| item.event_type == event && item.entity_key == number)
        .collect()
}

backend_test!(
    submit_asks_the_open_stage_approvers_through_the_outbox,
    |app| async move {
        let number = app.create("alice", normal_draft()).await;
        assert!(
            outbox(&app, "change.approval_requested", &number)
                .await
                .is_empty()
        );

        app.submit(&number, "alice").await;
        let requests = outbox(&app, "change.approval_requested", &number).await;
        assert_eq!(requests.len(), 1, "{requests:#?}");
        let request = &requests[0];
        assert_eq!(
            request.recipients,
            ["dave", "ivan"],
            "the DBAs, not the requester"
        );
        assert_eq!(request.topic, "change-approvals");
        assert_eq!(request.payload["number"], number.as_str());
        assert_eq!(request.payload["stage"], "Technical assessment");
        assert_eq!(request.payload["round"], 1);
        assert_eq!(request.created_at, app.now());
        assert_eq!(request.attempts, 0);
        assert!(request.delivered_at.is_none());

        // A refused vote notifies nobody.
        app.try_vote(&number, "alice", "approved")
            .await
            .problem(StatusCode::FORBIDDEN, "segregation_of_duties");
        assert_eq!(
            outbox(&app, "change.approval_requested", &number)
                .await
                .len(),
            1
        );

        // The assessment opens the CAB stage: its members are asked next.
        app.approve(&number, "ivan").await;
        let requests = outbox(&app, "change.approval_requested", &number).await;
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[1].recipients, ["bob", "carol", "dave", "erin"]);
        assert_eq!(requests[1].payload["stage"], "CAB authorisation");
        assert_ne!(requests[0].delivery_id, requests[1].delivery_id);
    }
);

backend_test!(
    emergency_submit_asks_the_ecab_and_rejection_tells_the_requester,
    |app| async move {
        let number = app.create("alice", emergency_draft()).await;
        app.submit(&number, "alice").await;
        let requests = outbox(&app, "change.approval_requested", &number).await;
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].recipients, ["bob", "carol"]);
        assert_eq!(
            time_of(&requests[0].payload["due_at"]),
            app.now() + Duration::hours(2)
        );

        app.reject(&number, "carol").await;
        let rejections = outbox(&app, "change.rejected", &number).await;
        assert_eq!(rejections.len(), 1);
        assert_eq!(rejections[0].recipients, ["alice"]);
        assert_eq!(rejections[0].topic, "change-approvals");
    }
);
