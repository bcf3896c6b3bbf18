//! Approval SLA clocks and escalations: due times from the business
//! calendar (hand-computed), the breach escalated exactly once by the
//! durable timer — also with two instances on one database and across a
//! restart — and the overdue post-implementation review.

use crate::fixtures::*;
use crate::support::*;
use axum::http::{Method, StatusCode};
use chrono::Duration;
use serde_json::{Value, json};
use stackflow_store::JobKind;

/// London office hours, with Friday 27 November 2026 a holiday.
fn london_with_a_holiday() -> Value {
    json!({
        "time_zone": "Europe/London",
        "working_days": ["mon", "tue", "wed", "thu", "fri"],
        "working_hours": {"start": "09:00", "end": "17:00"},
        "holidays": [{"date": "2026-11-27", "name": "Company day", "yearly": false}]
    })
}

async fn set_calendar(app: &TestApp, calendar: &Value) {
    app.call(Method::PUT, "/api/calendar")
        .by("admin")
        .json(calendar)
        .send()
        .await
        .expect(StatusCode::OK);
}

fn count(trail: &[Value], action: &str) -> usize {
    trail.iter().filter(|e| e["action"] == action).count()
}

async fn outbox_events(app: &TestApp, event: &str) -> Vec<Value> {
    let items = app.store.pending_outbox(1000).await.expect("outbox");
    items
        .into_iter()
        .filter(|item| item.event_type == event)
        .map(|item| json!({"recipients": item.recipients, "payload": item.payload}))
        .collect()
}

backend_test!(
    due_times_count_business_days_in_the_calendar,
    |app| async move {
        set_calendar(&app, &london_with_a_holiday()).await;
        // Submitted Wednesday 25 November, 10:00 London (UTC in winter).
        // Five business days, skipping the weekend and Friday's holiday:
        // Thu 26 (1), Mon 30 (2), Tue 1 (3), Wed 2 (4), Thu 3 December (5).
        let normal = app.create("alice", normal_draft()).await;
        let submitted = app.submit(&normal, "alice").await;
        assert_eq!(
            time_of(&submitted["approval"]["due_at"]),
            at("2026-12-03T10:00:00Z")
        );
        // An emergency: two hours of wall clock, business hours or not.
        let emergency = app.create("alice", emergency_draft()).await;
        let submitted = app.submit(&emergency, "alice").await;
        assert_eq!(
            time_of(&submitted["approval"]["due_at"]),
            at("2026-11-25T12:00:00Z")
        );
        // Each open round has its timer, due when the SLA is.
        let timers: Vec<_> = (app.store.pending_jobs().await.expect("jobs"))
            .into_iter()
            .filter(|j| j.kind == Ok(JobKind::ApprovalSla))
            .map(|j| (j.key, j.run_at))
            .collect();
        assert_eq!(
            timers,
            vec![
                (format!("{emergency}/1"), at("2026-11-25T12:00:00Z")),
                (format!("{normal}/1"), at("2026-12-03T10:00:00Z")),
            ]
        );
    }
);

backend_test!(
    a_breach_is_escalated_once_to_the_change_managers,
    |app| async move {
        let number = app.create("alice", emergency_draft()).await;
        let due = time_of(&app.submit(&number, "alice").await["approval"]["due_at"]);
        app.clock.set(due - Duration::minutes(1));
        assert_eq!(app.run_jobs().await, 0, "not due yet");
        assert_eq!(app.change(&number).await["approval"]["sla_breached"], false);

        app.clock.set(due + Duration::seconds(30));
        assert_eq!(app.run_jobs().await, 1);
        let change = app.change(&number).await;
        assert_eq!(change["approval"]["sla_breached"], true);
        assert_eq!(
            change["state"], "authorize",
            "a breach escalates, it does not decide"
        );
        let trail = app.audit(&number).await;
        assert_eq!(count(&trail, "change.sla_breached"), 1);
        let breach = trail
            .iter()
            .find(|e| e["action"] == "change.sla_breached")
            .expect("event");
        assert_eq!(breach["actor"], "stackflow");
        assert_eq!(breach["channel"], "system");
        let notes = outbox_events(&app, "change.sla_breached").await;
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0]["recipients"], json!(["max"]));
        assert_eq!(notes[0]["payload"]["number"], number.as_str());

        // Later runs find nothing: the timer left with its escalation.
        app.clock.set(due + Duration::hours(5));
        assert_eq!(app.run_jobs().await, 0);
        assert_eq!(count(&app.audit(&number).await, "change.sla_breached"), 1);
    }
);

backend_test!(a_round_decided_in_time_is_not_escalated, |app| async move {
    let number = app.create("alice", emergency_draft()).await;
    let due = time_of(&app.submit(&number, "alice").await["approval"]["due_at"]);
    app.approve(&number, "bob").await;
    assert_eq!(app.approve(&number, "carol").await["state"], "scheduled");
    app.clock.set(due + Duration::minutes(1));
    // The timer fires and finds the round decided.
    assert_eq!(app.run_jobs().await, 1);
    let change = app.change(&number).await;
    assert_eq!(change["approval"]["sla_breached"], false);
    assert_eq!(count(&app.audit(&number).await, "change.sla_breached"), 0);
    assert!(outbox_events(&app, "change.sla_breached").await.is_empty());
});

backend_test!(two_instances_escalate_a_breach_once, |app| async move {
    let numbers = [
        app.create("alice", emergency_draft()).await,
        app.create("alice", emergency_draft()).await,
        app.create("alice", emergency_draft()).await,
    ];
    for number in &numbers {
        app.submit(number, "alice").await;
    }
    app.clock.advance(Duration::hours(3));
    // Two instances, each with its own connection pool, run their workers
    // at the same moment.
    let other = app.second_instance().await;
    let (first, second) = tokio::join!(
        tokio::spawn({
            let app = app.clone();
            async move { app.run_jobs().await }
        }),
        tokio::spawn({
            let other = other.clone();
            async move { other.run_jobs().await }
        }),
    );
    let ran = first.expect("first worker") + second.expect("second worker");
    assert!(ran >= 3, "every timer ran ({ran})");
    for number in &numbers {
        assert_eq!(app.change(number).await["approval"]["sla_breached"], true);
        assert_eq!(
            count(&app.audit(number).await, "change.sla_breached"),
            1,
            "{number}"
        );
    }
    assert_eq!(outbox_events(&app, "change.sla_breached").await.len(), 3);
    other.store.close().await;
});

backend_test!(a_timer_survives_a_restart, |app| async move {
    let number = app.create("alice", emergency_draft()).await;
    app.submit(&number, "alice").await;
    // The instance that set the timer stops; another starts later on the
    // same database and finds it due.
    let restarted = app.second_instance().await;
    app.store.close().await;
    restarted.clock.advance(Duration::hours(2));
    assert_eq!(restarted.run_jobs().await, 1);
    assert_eq!(
        restarted.change(&number).await["approval"]["sla_breached"],
        true
    );
    restarted.store.close().await;
});

backend_test!(an_overdue_review_is_escalated_once, |app| async move {
    let number = app.scheduled_standard().await;
    let due = time_of(&app.change(&number).await["pir"]["due_at"]);
    app.clock.set(due - Duration::minutes(1));
    assert_eq!(app.run_jobs().await, 0);
    app.clock.set(due);
    assert_eq!(app.run_jobs().await, 1);
    let change = app.change(&number).await;
    assert_eq!(time_of(&change["pir"]["escalated_at"]), due);
    assert_eq!(count(&app.audit(&number).await, "change.review_overdue"), 1);
    let notes = outbox_events(&app, "change.review_overdue").await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["recipients"], json!(["max"]));
    app.clock.advance(Duration::days(2));
    assert_eq!(app.run_jobs().await, 0);
});

backend_test!(
    timers_of_changes_already_in_flight_are_set_when_the_job_table_arrives,
    |app| async move {
        let number = app.create("alice", emergency_draft()).await;
        app.submit(&number, "alice").await;
        // The database as a version before the job table left it: the
        // round is open, and no timer exists.
        app.execute_raw(&[
            "DROP TABLE jobs",
            "DELETE FROM _sqlx_migrations WHERE version = 7",
        ])
        .await;
        app.store.migrate().await.expect("migrate");
        let timers: Vec<String> = (app.store.pending_jobs().await.expect("jobs"))
            .into_iter()
            .map(|j| j.key)
            .collect();
        assert_eq!(timers, vec![format!("{number}/1")]);
        app.clock.advance(Duration::hours(3));
        assert_eq!(app.run_jobs().await, 1);
        assert_eq!(app.change(&number).await["approval"]["sla_breached"], true);
    }
);
