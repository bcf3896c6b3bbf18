//! Risk assessment and schedule conflicts through the API: the score on
//! submission, the history it reads, reassessment when the CMDB under a
//! change moves, and conflicts flagged on both changes and cleared again.

use crate::fixtures::*;
use crate::support::*;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use stackflow_core::{ChangeNumber, Channel, Role};

async fn risk(app: &TestApp, number: &str) -> Value {
    app.get(&format!("/api/changes/{number}/risk"), "vic")
        .await
        .expect(StatusCode::OK)
}

fn contributions_total(assessment: &Value) -> u64 {
    assessment["contributions"]
        .as_object()
        .expect("contributions")
        .values()
        .map(|v| v.as_u64().expect("points"))
        .sum()
}

fn actions(trail: &[Value]) -> Vec<&str> {
    trail
        .iter()
        .map(|e| e["action"].as_str().expect("action"))
        .collect()
}

/// A normal change by alice for the dba group on `cis`, in `[start, end)`.
fn draft_on(cis: &[&str], start: &str, end: &str) -> Value {
    with(
        normal_draft(),
        json!({"affected_cis": cis, "planned_start": start, "planned_end": end}),
    )
}

/// Drives a normal change on orders-db-prod to `closed` with `close_code`.
async fn closed_change(app: &TestApp, close_code: &str) -> String {
    let number = app.normal_in_authorize().await;
    for voter in ["bob", "carol", "dave"] {
        app.approve(&number, voter).await;
    }
    app.step(&number, "implement", "ivan").await;
    app.step(&number, "complete", "ivan").await;
    let closed = app.review(&number, "alice", close_code).await;
    assert_eq!(closed["state"], "closed");
    number
}

/// Adds orders-storage, a high-criticality storage CI nothing depends on.
async fn add_orders_storage(app: &TestApp) {
    app.post(
        "/api/cis",
        "admin",
        json!({"name": "orders-storage", "class": "storage", "criticality": "high"}),
    )
    .await
    .expect(StatusCode::CREATED);
}

/// orders-db-prod comes to depend on orders-storage, and orders-app (the
/// fixture's dependent of orders-db-prod) with it.
async fn link_orders_db_to_storage(app: &TestApp) {
    app.post(
        "/api/relationships",
        "admin",
        json!({"from": "orders-db-prod", "to": "orders-storage", "type": "depends_on"}),
    )
    .await
    .expect(StatusCode::CREATED);
}

/// A standard change by alice on `ci` in the fixture's window, submitted:
/// `scheduled` at once.
async fn scheduled_standard_on(app: &TestApp, ci: &str) -> String {
    let draft = with(standard_draft(), json!({"affected_cis": [ci]}));
    let number = app.create("alice", draft).await;
    assert_eq!(app.submit(&number, "alice").await["state"], "scheduled");
    number
}

backend_test!(
    submission_scores_the_change_in_the_seed_shape,
    |app| async move {
        let number = app.create("alice", normal_draft()).await;
        assert!(app.change(&number).await["risk_assessment"].is_null());
        let submitted = app.submit(&number, "alice").await;
        let assessment = &submitted["risk_assessment"];
        for key in ["automated_score", "risk_level", "factors", "recommendation"] {
            assert!(!assessment[key].is_null(), "missing {key}: {assessment}");
        }
        let factors = &assessment["factors"];
        assert_eq!(
            factors["affected_ci_criticality"],
            "Critical (orders-db-prod, database)"
        );
        // orders-app uses orders-db-prod.
        assert_eq!(factors["blast_radius_cis"], 1);
        // Tuesday 22:00–23:30 UTC, office hours 09:00–17:00 UTC.
        assert_eq!(factors["change_window"], "Outside business hours");
        assert_eq!(
            factors["group_success_rate"],
            "No closed changes (last 30 days)"
        );
        assert_eq!(factors["similar_change_failures"], 0);
        // A normal change without conflicts has exactly the seed's keys,
        // and its contributions the same ones.
        let seed_keys = [
            "affected_ci_criticality",
            "blast_radius_cis",
            "change_window",
            "group_success_rate",
            "similar_change_failures",
        ];
        let keys = |object: &Value| -> Vec<String> {
            let mut keys: Vec<String> = (object.as_object().expect("an object").keys())
                .cloned()
                .collect();
            keys.sort();
            keys
        };
        assert_eq!(keys(factors), seed_keys);
        assert_eq!(keys(&assessment["contributions"]), seed_keys);
        let score = assessment["automated_score"].as_u64().expect("score");
        assert_eq!(contributions_total(assessment), score);
        assert_eq!(assessment["contributions"]["affected_ci_criticality"], 25);
        assert_eq!(assessment["contributions"]["change_window"], 8);
        let level = match score {
            0..=29 => "Low",
            30..=59 => "Moderate",
            60..=84 => "High",
            _ => "Critical",
        };
        assert_eq!(assessment["risk_level"], level);
        assert!(
            assessment["recommendation"]
                .as_str()
                .expect("recommendation")
                .contains("Schedule during maintenance window.")
        );
        assert_eq!(time_of(&assessment["assessed_at"]), app.now());

        let read = risk(&app, &number).await;
        assert_eq!(&read["risk_assessment"], assessment);
        assert_eq!(read["history"].as_array().expect("history").len(), 1);
        assert_eq!(&read["history"][0], assessment);
    }
);

backend_test!(a_refused_submission_assesses_nothing, |app| async move {
    let number = app
        .create("alice", with(normal_draft(), json!({"backout_plan": null})))
        .await;
    let before = app.snapshot(&number).await;
    app.try_step(&number, "submit", "alice")
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY);
    app.assert_unchanged(&number, &before).await;
    let read = risk(&app, &number).await;
    assert!(read["risk_assessment"].is_null());
    assert_eq!(read["history"], json!([]));
    // Someone else may not submit it either, and nothing is recorded.
    app.try_step(&number, "submit", "bob")
        .await
        .expect(StatusCode::FORBIDDEN);
    assert_eq!(risk(&app, &number).await["history"], json!([]));
});

backend_test!(
    the_groups_record_and_similar_failures_count,
    |app| async move {
        closed_change(&app, "successful").await;
        closed_change(&app, "unsuccessful").await;
        let number = app.create("alice", normal_draft()).await;
        let assessment = app.submit(&number, "alice").await["risk_assessment"].clone();
        assert_eq!(
            assessment["factors"]["group_success_rate"],
            "50% (last 30 days)"
        );
        assert_eq!(assessment["factors"]["similar_change_failures"], 1);
        assert_eq!(assessment["contributions"]["group_success_rate"], 10);
        assert_eq!(assessment["contributions"]["similar_change_failures"], 5);
        assert!(
            assessment["recommendation"]
                .as_str()
                .expect("recommendation")
                .contains("peer reviewed")
        );

        // 91 days on, neither the group's record nor the failure counts.
        app.clock.advance(chrono::Duration::days(91));
        let later = app
            .create(
                "alice",
                draft_on(
                    &["orders-db-prod"],
                    "2027-03-02T22:00:00Z",
                    "2027-03-02T23:00:00Z",
                ),
            )
            .await;
        let assessment = app.submit(&later, "alice").await["risk_assessment"].clone();
        assert_eq!(
            assessment["factors"]["group_success_rate"],
            "No closed changes (last 30 days)"
        );
        assert_eq!(assessment["factors"]["similar_change_failures"], 0);
    }
);

backend_test!(
    the_groups_record_covers_exactly_the_last_30_days,
    |app| async move {
        let first = closed_change(&app, "successful").await;
        app.clock.advance(chrono::Duration::hours(1));
        let second = closed_change(&app, "unsuccessful").await;
        let closed_at = |change: Value| {
            at(change["pir"]["review"]["reviewed_at"]
                .as_str()
                .expect("reviewed"))
        };
        let (t1, t2) = (
            closed_at(app.change(&first).await),
            closed_at(app.change(&second).await),
        );
        assert!(t1 < t2);
        let group = app.change(&first).await["assignment_group"]
            .as_str()
            .map(String::from);
        let record = |now: chrono::DateTime<chrono::Utc>| {
            let (store, group) = (app.store.clone(), group.clone());
            async move {
                let query = stackflow_store::RiskHistoryQuery {
                    number: ChangeNumber::new(999_999),
                    assignment_group: group,
                    template: None,
                    cis: Vec::new(),
                    now,
                };
                let history = store.risk_history(&query).await.expect("history");
                let group = history.group.expect("a group");
                (group.closed, group.successful)
            }
        };
        let day = chrono::Duration::days(1);
        let tick = chrono::Duration::microseconds(1);
        // Before either closed; the same day (the partial last day); whole
        // days in between; the partial first day, up to and past its start.
        assert_eq!(record(t1 - tick).await, (0, 0));
        assert_eq!(record(t2).await, (2, 1));
        assert_eq!(record(t2 + day * 15).await, (2, 1));
        assert_eq!(record(t1 + day * 30).await, (2, 1));
        assert_eq!(record(t1 + day * 30 + tick).await, (1, 0));
        assert_eq!(record(t2 + day * 30 + tick).await, (0, 0));
        // Around the UTC midnights that cut the period.
        let midnight = (t2 + day)
            .date_naive()
            .and_time(chrono::NaiveTime::MIN)
            .and_utc();
        assert_eq!(record(midnight - tick).await, (2, 1));
        assert_eq!(record(midnight).await, (2, 1));
        assert_eq!(record(midnight + day * 29).await, (2, 1));
        assert_eq!(record(t2 + day * 30).await, (1, 0));
    }
);

backend_test!(an_emergency_adds_its_weight, |app| async move {
    let normal = app.create("alice", normal_draft()).await;
    let emergency = app
        .create(
            "alice",
            with(
                emergency_draft(),
                json!({"planned_start": "2026-12-08T22:00:00Z", "planned_end": "2026-12-08T23:30:00Z"}),
            ),
        )
        .await;
    let a = app.submit(&normal, "alice").await["risk_assessment"].clone();
    let b = app.submit(&emergency, "alice").await["risk_assessment"].clone();
    assert!(a["contributions"].get("change_type").is_none(), "{a:#}");
    assert!(a["factors"].get("change_type").is_none(), "{a:#}");
    assert_eq!(b["contributions"]["change_type"], 10);
    assert_eq!(b["factors"]["change_type"], "Emergency");
    assert_eq!(
        b["automated_score"].as_u64().expect("score"),
        a["automated_score"].as_u64().expect("score") + 10
    );
});

backend_test!(
    overlapping_changes_on_related_cis_conflict_on_both,
    |app| async move {
        let first = app.create("alice", normal_draft()).await;
        app.submit(&first, "alice").await;
        // orders-app depends on orders-db-prod; the windows overlap by an hour.
        let second = app
            .create(
                "alice",
                draft_on(
                    &["orders-app"],
                    "2026-12-01T22:30:00Z",
                    "2026-12-02T01:00:00Z",
                ),
            )
            .await;
        let submitted = app.submit(&second, "alice").await;
        let conflicts = submitted["conflicts"].as_array().expect("conflicts");
        assert_eq!(conflicts.len(), 1, "{conflicts:?}");
        assert_eq!(conflicts[0]["type"], "change");
        assert_eq!(conflicts[0]["change"], first.as_str());
        assert_eq!(conflicts[0]["ci"], "orders-app");
        assert_eq!(
            time_of(&conflicts[0]["overlap_start"]),
            at("2026-12-01T22:30:00Z")
        );
        assert_eq!(
            time_of(&conflicts[0]["overlap_end"]),
            at("2026-12-01T23:30:00Z")
        );
        assert!(
            conflicts[0]["reason"]
                .as_str()
                .expect("reason")
                .contains("depends on"),
            "{conflicts:?}"
        );
        assert_eq!(submitted["risk_assessment"]["factors"]["conflicts"], 1);

        // Flagged on the first change too, in the same transaction; the
        // first is reassessed by the job that submission requested.
        let flagged = app.change(&first).await;
        assert_eq!(flagged["conflicts"][0]["change"], second.as_str());
        assert!(
            flagged["risk_assessment"]["factors"]
                .get("conflicts")
                .is_none()
        );
        assert_eq!(app.run_jobs().await, 1);
        assert_eq!(app.run_jobs().await, 0, "a job runs once");
        let earlier = app.change(&first).await;
        let theirs = earlier["conflicts"].as_array().expect("conflicts");
        assert_eq!(theirs.len(), 1);
        assert_eq!(theirs[0]["change"], second.as_str());
        assert_eq!(earlier["risk_assessment"]["factors"]["conflicts"], 1);
        assert_eq!(
            risk(&app, &first).await["history"]
                .as_array()
                .expect("history")
                .len(),
            2
        );
        let trail = app.audit(&first).await;
        let done = actions(&trail);
        assert!(done.contains(&"change.conflict_flagged"), "{done:?}");
        assert!(done.contains(&"change.risk_reassessed"), "{done:?}");

        // A change on the same CI at another time does not conflict.
        let apart = app
            .create(
                "alice",
                draft_on(
                    &["orders-db-prod"],
                    "2026-12-03T22:00:00Z",
                    "2026-12-03T23:00:00Z",
                ),
            )
            .await;
        assert_eq!(app.submit(&apart, "alice").await["conflicts"], json!([]));

        // Withdrawing the second change clears the record on the first, and
        // the first is scored without it again.
        app.try_act(
            &second,
            "cancel",
            "alice",
            json!({"reason": "moved to January"}),
        )
        .await
        .expect(StatusCode::OK);
        assert_eq!(app.run_jobs().await, 1);
        let cleared = app.change(&first).await;
        assert_eq!(cleared["conflicts"], json!([]));
        assert!(
            cleared["risk_assessment"]["factors"]
                .get("conflicts")
                .is_none()
        );
        let trail = app.audit(&first).await;
        assert!(actions(&trail).contains(&"change.conflict_cleared"));
    }
);

backend_test!(
    conflicts_are_the_same_found_by_ci_or_by_window,
    |app| async move {
        // orders-db-prod depends on orders-storage; billing-app on neither.
        for (name, class) in [
            ("orders-storage", "storage"),
            ("billing-app", "application"),
        ] {
            let ci = json!({"name": name, "class": class, "environment": "production",
                            "criticality": "high", "owner_group": "dba"});
            app.post("/api/cis", "max", ci)
                .await
                .expect(StatusCode::CREATED);
        }
        let link = json!({"from": "orders-db-prod", "to": "orders-storage", "type": "depends_on"});
        app.post("/api/relationships", "max", link)
            .await
            .expect(StatusCode::CREATED);
        // At the same time: a dependent, a dependency, a shared CI beside an
        // unrelated one (starting first, so window order is not number
        // order), and an unrelated change.
        let mut related = Vec::new();
        for (cis, start) in [
            (&["orders-app"][..], PLANNED_START),
            (&["orders-storage"], PLANNED_START),
            (&["billing-app", "orders-db-prod"], "2026-12-01T21:00:00Z"),
        ] {
            let number = app.create("alice", draft_on(cis, start, PLANNED_END)).await;
            app.submit(&number, "alice").await;
            related.push(number);
        }
        let apart = app
            .create(
                "alice",
                draft_on(&["billing-app"], PLANNED_START, PLANNED_END),
            )
            .await;
        app.submit(&apart, "alice").await;

        let number = app.create("alice", normal_draft()).await;
        let mut by_ci = app
            .assess(&number, stackflow_web::risk::CONFLICT_SCOPE_LIMIT)
            .await;
        let mut by_window = app.assess(&number, 0).await;
        let found: Vec<String> = (by_ci.conflicts.iter())
            .filter_map(|c| c.change.map(|n| n.to_string()))
            .collect();
        assert_eq!(found, related);
        // They read different candidates (checked below) and find the same.
        assert!(by_ci.candidates.as_ref().is_some_and(|r| r.scope.is_some()));
        assert!(
            by_window
                .candidates
                .as_ref()
                .is_some_and(|r| r.scope.is_none())
        );
        (by_ci.candidates, by_window.candidates) = (None, None);
        assert_eq!(by_ci, by_window);

        // The store: by CI, only the related changes, each with its CIs in
        // the scope; by window, all four with all their CIs.
        let (start, end) = (at(PLANNED_START), at(PLANNED_END));
        let own: ChangeNumber = number.parse().expect("number");
        let scope: Vec<String> = ["orders-app", "orders-db-prod", "orders-storage"]
            .map(String::from)
            .to_vec();
        let in_scope = app
            .store
            .conflict_candidates(own, start, end, Some(&scope))
            .await
            .expect("by CI");
        let numbers: Vec<String> = in_scope.iter().map(|c| c.number.to_string()).collect();
        assert_eq!(numbers, related);
        assert_eq!(in_scope[2].affected_cis, ["orders-db-prod"]);
        let in_window = app
            .store
            .conflict_candidates(own, start, end, None)
            .await
            .expect("by window");
        assert_eq!(in_window.len(), 4);
        assert_eq!(in_window[2].affected_cis, ["billing-app", "orders-db-prod"]);
        assert_eq!(in_window[3].number.to_string(), apart);
    }
);

backend_test!(
    the_lookup_by_ci_follows_a_change_in_and_out_of_the_active_states,
    |app| async move {
        let ci = json!({"name": "billing-app", "class": "application", "environment": "production",
                        "criticality": "high", "owner_group": "dba"});
        app.post("/api/cis", "max", ci)
            .await
            .expect(StatusCode::CREATED);
        let (start, end) = (at(PLANNED_START), at(PLANNED_END));
        let asking = app.create("alice", normal_draft()).await;
        let asking: ChangeNumber = asking.parse().expect("number");
        // The numbers found by CI in `scope`, checked against the window
        // path filtered to the same CIs.
        let found = |scope: &'static [&'static str]| {
            let store = app.store.clone();
            async move {
                let scope: Vec<String> = scope.iter().map(|s| s.to_string()).collect();
                let by_ci = store
                    .conflict_candidates(asking, start, end, Some(&scope))
                    .await
                    .expect("by CI");
                let by_window = store
                    .conflict_candidates(asking, start, end, None)
                    .await
                    .expect("by window");
                let numbers: Vec<String> = by_ci.iter().map(|c| c.number.to_string()).collect();
                let expected: Vec<String> = (by_window.iter())
                    .filter(|c| c.affected_cis.iter().any(|ci| scope.contains(ci)))
                    .map(|c| c.number.to_string())
                    .collect();
                assert_eq!(numbers, expected, "by CI and by window disagree");
                numbers
            }
        };

        // Drafted: not active, not found.
        let other = app
            .create(
                "alice",
                draft_on(&["orders-app"], PLANNED_START, PLANNED_END),
            )
            .await;
        assert!(found(&["orders-app"]).await.is_empty());
        // Its CIs edited while a draft: the new one counts, the old one not.
        app.patch(
            &format!("/api/changes/{other}"),
            "alice",
            json!({"affected_cis": ["billing-app"]}),
        )
        .await
        .expect(StatusCode::OK);
        app.submit(&other, "alice").await;
        assert_eq!(found(&["billing-app"]).await, vec![other.clone()]);
        assert!(found(&["orders-app"]).await.is_empty());
        // Canceled: gone again.
        app.try_act(&other, "cancel", "alice", json!({"reason": "not needed"}))
            .await
            .expect(StatusCode::OK);
        assert!(found(&["billing-app"]).await.is_empty());
    }
);

backend_test!(
    both_sides_of_a_conflict_record_it_alike_and_settle,
    |app| async move {
        // orders-web and orders-app both depend on orders-db-prod.
        let ci = json!({"name": "orders-web", "class": "application", "environment": "production",
                        "criticality": "high", "owner_group": "dba"});
        app.post("/api/cis", "max", ci)
            .await
            .expect(StatusCode::CREATED);
        let link = json!({"from": "orders-web", "to": "orders-db-prod", "type": "depends_on"});
        app.post("/api/relationships", "max", link)
            .await
            .expect(StatusCode::CREATED);
        let database = app.create("alice", normal_draft()).await;
        app.submit(&database, "alice").await;
        let front = app
            .create(
                "alice",
                draft_on(&["orders-web", "orders-app"], PLANNED_START, PLANNED_END),
            )
            .await;
        let submitted = app.submit(&front, "alice").await;
        let ours = &submitted["conflicts"][0];
        assert_eq!(ours["change"], database.as_str());
        assert_eq!(ours["ci"], "orders-app", "the first dependent CI by name");

        // Reassessing the database change writes the record the front
        // change holds: it must say what the front change's own assessment
        // said, or the two would rewrite each other's records for ever.
        let assessed = app
            .assess(&database, stackflow_web::risk::CONFLICT_SCOPE_LIMIT)
            .await;
        let (_, theirs) = (assessed.counterparts.iter())
            .find(|(number, _)| number.to_string() == front)
            .expect("the front change is a counterpart");
        assert_eq!(theirs.ci.as_deref(), Some("orders-app"));
        assert_eq!(ours["reason"], theirs.reason.as_str());

        // So the reassessment the submission requested settles it: one job,
        // and the front change's record is left as it was.
        assert_eq!(app.run_job_batch().await, 1);
        assert_eq!(app.run_job_batch().await, 0);
        let trail = app.audit(&front).await;
        assert!(
            !actions(&trail).contains(&"change.conflict_flagged"),
            "{:?}",
            actions(&trail)
        );
    }
);

backend_test!(
    windows_finer_than_the_database_keeps_settle_too,
    |app| async move {
        // The window's end is given to the nanosecond; PostgreSQL keeps
        // microseconds. Were the document to keep the nanoseconds, the
        // two changes would compute their overlap from different ends and
        // rewrite each other's records, one reassessment after another.
        let first = app
            .create(
                "alice",
                draft_on(
                    &["orders-db-prod"],
                    "2026-12-01T22:00:00Z",
                    "2026-12-01T23:00:00.240131516Z",
                ),
            )
            .await;
        let kept = app.change(&first).await;
        assert_eq!(
            time_of(&kept["planned_end"]),
            "2026-12-01T23:00:00.240131Z"
                .parse::<DateTime<Utc>>()
                .expect("time")
        );
        app.submit(&first, "alice").await;
        let second = app
            .create(
                "alice",
                draft_on(&["orders-db-prod"], "2026-12-01T22:30:00Z", PLANNED_END),
            )
            .await;
        let submitted = app.submit(&second, "alice").await;
        assert_eq!(submitted["conflicts"][0]["change"], first.as_str());
        assert_eq!(
            submitted["conflicts"][0]["overlap_end"],
            kept["planned_end"]
        );
        // The first change's reassessment agrees with the record the
        // second wrote, and nothing more is asked of either.
        assert_eq!(app.run_job_batch().await, 1);
        assert_eq!(app.run_job_batch().await, 0);
        assert_eq!(
            app.change(&first).await["conflicts"][0]["overlap_end"],
            kept["planned_end"]
        );
    }
);

backend_test!(
    changes_submitted_at_the_same_time_see_each_other,
    |app| async move {
        let first = app.create("alice", normal_draft()).await;
        let second = app.create("alice", normal_draft()).await;
        // The first is assessed while the second is still new…
        let assessed = app
            .assess(&first, stackflow_web::risk::CONFLICT_SCOPE_LIMIT)
            .await;
        assert!(assessed.conflicts.is_empty());
        // …and the second is submitted meanwhile, while the first is new.
        let submitted = app.submit(&second, "alice").await;
        assert_eq!(submitted["conflicts"], json!([]));
        // Recording the first's assessment is refused: the second has
        // become a candidate since it was read.
        let caller = app.caller("alice", Role::Requester, Channel::Api);
        let refused = app
            .store
            .submit_assessed(&caller, first.parse().expect("number"), None, assessed)
            .await;
        assert!(
            matches!(
                refused,
                Err(stackflow_store::StoreError::AssessmentOutdated(_))
            ),
            "{refused:?}"
        );
        assert_eq!(app.change(&first).await["state"], "new");
        // Submitted through the API, it is assessed again: both record it.
        let submitted = app.submit(&first, "alice").await;
        assert_eq!(submitted["conflicts"][0]["change"], second.as_str());
        assert_eq!(
            app.change(&second).await["conflicts"][0]["change"],
            first.as_str()
        );
    }
);

backend_test!(the_same_ci_at_the_same_time_conflicts, |app| async move {
    let first = app.create("alice", normal_draft()).await;
    app.submit(&first, "alice").await;
    let second = app.create("alice", normal_draft()).await;
    let submitted = app.submit(&second, "alice").await;
    let conflicts = &submitted["conflicts"];
    assert_eq!(conflicts[0]["ci"], "orders-db-prod");
    assert_eq!(conflicts[0]["change"], first.as_str());
    assert!(
        conflicts[0]["reason"]
            .as_str()
            .expect("reason")
            .contains("also changes orders-db-prod")
    );
    // A standard change is pre-approved and not scored, but its window
    // conflicts like any other.
    let standard = app.scheduled_standard().await;
    let routine = app.change(&standard).await;
    assert!(routine["risk_assessment"].is_null());
    let mut found: Vec<&str> = routine["conflicts"]
        .as_array()
        .expect("conflicts")
        .iter()
        .map(|c| c["change"].as_str().expect("change"))
        .collect();
    found.sort_unstable();
    assert_eq!(found, vec![first.as_str(), second.as_str()]);
    assert_eq!(
        app.change(&first).await["conflicts"]
            .as_array()
            .expect("conflicts")
            .len(),
        2
    );

    // A rejection sends the second back to `new`: it stops conflicting.
    app.reject(&second, "ivan").await;
    // Three writes moved the first change's conflicts (the second's
    // submission, the standard change's, the rejection): one coalesced
    // job for it, and one for the second (flagged by the standard change),
    // which no longer awaits approval and needs nothing.
    assert_eq!(app.run_jobs().await, 2);
    let first_now = app.change(&first).await;
    let remaining = first_now["conflicts"].as_array().expect("conflicts");
    assert_eq!(remaining.len(), 1);
    assert_eq!(remaining[0]["change"], standard.as_str());
    assert_eq!(first_now["risk_assessment"]["factors"]["conflicts"], 1);
    assert_eq!(app.change(&second).await["conflicts"], json!([]));
});

backend_test!(
    a_cmdb_change_under_a_waiting_change_reassesses_it,
    |app| async move {
        let waiting = app.create("alice", normal_draft()).await;
        app.submit(&waiting, "alice").await;
        let standard = with(
            standard_draft(),
            json!({"planned_start": "2026-12-05T22:00:00Z", "planned_end": "2026-12-05T23:00:00Z"}),
        );
        let scheduled = app.create("alice", standard).await;
        assert_eq!(app.submit(&scheduled, "alice").await["state"], "scheduled");
        let before = risk(&app, &waiting).await["risk_assessment"].clone();
        assert_eq!(before["factors"]["blast_radius_cis"], 1);

        app.post(
            "/api/cis",
            "admin",
            json!({"name": "checkout", "class": "business_service", "criticality": "critical"}),
        )
        .await
        .expect(StatusCode::CREATED);
        // Nothing depends on it yet: nothing to reassess.
        assert_eq!(app.run_jobs().await, 0);
        assert_eq!(
            risk(&app, &waiting).await["history"]
                .as_array()
                .expect("history")
                .len(),
            1
        );
        app.clock.advance(chrono::Duration::minutes(5));
        app.post(
            "/api/relationships",
            "admin",
            json!({"from": "checkout", "to": "orders-app", "type": "depends_on"}),
        )
        .await
        .expect(StatusCode::CREATED);
        // The write asked the job worker for the waiting change's
        // reassessment (and for no other: the standard change is not scored).
        assert_eq!(risk(&app, &waiting).await["risk_assessment"], before);
        assert_eq!(app.run_jobs().await, 1);

        let read = risk(&app, &waiting).await;
        let after = &read["risk_assessment"];
        assert_eq!(after["factors"]["blast_radius_cis"], 2);
        assert_eq!(
            after["factors"]["affected_ci_criticality"],
            "Critical (orders-db-prod, database)"
        );
        // One more dependent: ln 3 / ln 1001 of 15 points still rounds to 2.
        assert_eq!(after["contributions"]["blast_radius_cis"], 2);
        assert_eq!(contributions_total(after), contributions_total(&before));
        assert_eq!(time_of(&after["assessed_at"]), app.now());
        // Oldest first; the newest is the change's own.
        assert_eq!(read["history"].as_array().expect("history").len(), 2);
        assert_eq!(read["history"][0], before);
        assert_eq!(&read["history"][1], after);
        let trail = app.audit(&waiting).await;
        let last = trail.last().expect("an event");
        assert_eq!(last["action"], "change.risk_reassessed");
        assert_eq!(last["actor"], "stackflow");
        assert_eq!(last["channel"], "system");

        // A standard change is not risk-scored and not reassessed.
        assert!(app.change(&scheduled).await["risk_assessment"].is_null());
        assert_eq!(risk(&app, &scheduled).await["history"], json!([]));

        // Jobs are asked for the named changes that still await approval.
        let numbers: Vec<ChangeNumber> = [&waiting, &scheduled]
            .iter()
            .map(|number| number.parse().expect("a change number"))
            .collect();
        let requested = app
            .store
            .request_reassessment_of(&numbers, app.now())
            .await
            .expect("requested");
        assert_eq!(requested, 1);
        assert_eq!(app.run_jobs().await, 1);
    }
);

backend_test!(
    a_relationship_below_a_waiting_change_reassesses_it_for_conflicts,
    |app| async move {
        // orders-app depends on orders-db-prod (the fixture); orders-storage
        // stands alone and carries a scheduled change at the same time as
        // a change waiting on orders-app.
        add_orders_storage(&app).await;
        let scheduled = scheduled_standard_on(&app, "orders-storage").await;
        let waiting = app
            .create(
                "alice",
                draft_on(&["orders-app"], PLANNED_START, PLANNED_END),
            )
            .await;
        assert_eq!(app.submit(&waiting, "alice").await["conflicts"], json!([]));

        // orders-db-prod now depends on orders-storage, so orders-app does
        // too, two steps away from the relationship's dependency end.
        app.clock.advance(chrono::Duration::minutes(5));
        link_orders_db_to_storage(&app).await;
        app.run_jobs().await;

        let change = app.change(&waiting).await;
        let conflicts = change["conflicts"].as_array().expect("conflicts");
        assert_eq!(conflicts.len(), 1, "{conflicts:?}");
        assert_eq!(conflicts[0]["change"], scheduled);
        assert_eq!(change["risk_assessment"]["factors"]["conflicts"], 1);
        let theirs = app.change(&scheduled).await["conflicts"].clone();
        assert_eq!(theirs[0]["change"], waiting);
    }
);

backend_test!(
    a_reassessment_owed_when_the_server_stopped_is_made_when_it_starts,
    |app| async move {
        let waiting = app.create("alice", normal_draft()).await;
        app.submit(&waiting, "alice").await;
        let before = risk(&app, &waiting).await["risk_assessment"].clone();
        assert_eq!(before["factors"]["blast_radius_cis"], 1);

        // A critical service comes to depend on orders-app, and the server
        // stops after the writes commit, before it reassesses.
        app.clock.advance(chrono::Duration::minutes(5));
        let admin = app.caller("admin", Role::Admin, Channel::Api);
        let checkout = serde_json::from_value(
            json!({"name": "checkout", "class": "business_service", "criticality": "critical"}),
        )
        .expect("a CI");
        app.store.create_ci(&admin, checkout).await.expect("CI");
        let link = serde_json::from_value(
            json!({"from": "checkout", "to": "orders-app", "type": "depends_on"}),
        )
        .expect("a relationship");
        app.store
            .create_relationship(&admin, link)
            .await
            .expect("relationship");
        app.index_cmdb_writes_as_after_a_restart().await;
        assert_eq!(app.run_jobs().await, 0);
        assert_eq!(risk(&app, &waiting).await["risk_assessment"], before);

        // What `serve` asks for when it starts.
        let requested = app
            .store
            .request_reassessment_of_waiting_changes(app.now())
            .await
            .expect("requested");
        assert_eq!(requested, 1);
        assert_eq!(app.run_job_batch().await, 1);
        let read = risk(&app, &waiting).await;
        assert_eq!(read["risk_assessment"]["factors"]["blast_radius_cis"], 2);
        assert_eq!(read["history"].as_array().expect("history").len(), 2);

        // Asked again with nothing new: reassessed, and nothing recorded.
        app.store
            .request_reassessment_of_waiting_changes(app.now())
            .await
            .expect("requested");
        assert_eq!(app.run_job_batch().await, 1);
        assert_eq!(
            risk(&app, &waiting).await["history"]
                .as_array()
                .expect("history")
                .len(),
            2
        );
    }
);

/// Creates a window as the change manager, asserting 201.
async fn add_window(app: &TestApp, window: Value) -> Value {
    app.post("/api/windows", "max", window)
        .await
        .expect(StatusCode::CREATED)
}

backend_test!(
    a_maintenance_window_takes_the_window_risk_away,
    |app| async move {
        // Weekly on Tuesdays 21:00–01:00 UTC, for databases only.
        add_window(
            &app,
            json!({"name": "Tuesday night", "kind": "maintenance",
               "start": "2026-11-24T21:00:00Z", "end": "2026-11-25T01:00:00Z",
               "recurrence": "FREQ=WEEKLY;BYDAY=TU", "time_zone": "UTC",
               "scope": {"cis": [], "classes": ["database"]}}),
        )
        .await;
        let inside = app.create("alice", normal_draft()).await;
        let assessment = app.submit(&inside, "alice").await["risk_assessment"].clone();
        assert_eq!(
            assessment["factors"]["change_window"],
            "Maintenance window (Tuesday night)"
        );
        assert_eq!(assessment["contributions"]["change_window"], 0);
        assert!(
            !assessment["recommendation"]
                .as_str()
                .expect("recommendation")
                .contains("Schedule during maintenance window.")
        );
        // orders-app is an application: the window does not cover it.
        let uncovered = app
            .create(
                "alice",
                draft_on(
                    &["orders-db-prod", "orders-app"],
                    "2026-12-08T22:00:00Z",
                    "2026-12-08T23:00:00Z",
                ),
            )
            .await;
        let assessment = app.submit(&uncovered, "alice").await["risk_assessment"].clone();
        assert_eq!(
            assessment["factors"]["change_window"],
            "Outside business hours"
        );
        // In business hours on a Wednesday.
        let daytime = app
            .create(
                "alice",
                draft_on(
                    &["orders-db-prod"],
                    "2026-12-09T10:00:00Z",
                    "2026-12-09T11:00:00Z",
                ),
            )
            .await;
        let assessment = app.submit(&daytime, "alice").await["risk_assessment"].clone();
        assert!(
            assessment["factors"]["change_window"]
                .as_str()
                .expect("window")
                .starts_with("Business hours")
        );
        assert_eq!(assessment["contributions"]["change_window"], 15);
    }
);

backend_test!(
    calendar_and_window_writes_reassess_waiting_changes_whoever_makes_them,
    |app| async move {
        let waiting = app.create("alice", normal_draft()).await;
        let before = app.submit(&waiting, "alice").await["risk_assessment"].clone();
        assert_eq!(before["factors"]["change_window"], "Outside business hours");

        // New York, 09:00–19:00: the planned 22:00 UTC is 17:00 there in
        // December, inside business hours.
        app.clock.advance(chrono::Duration::minutes(1));
        app.call(axum::http::Method::PUT, "/api/calendar")
            .by("max")
            .json(&json!({"time_zone": "America/New_York",
                "working_days": ["mon", "tue", "wed", "thu", "fri"],
                "working_hours": {"start": "09:00", "end": "19:00"}, "holidays": []}))
            .send()
            .await
            .expect(StatusCode::OK);
        // Requested with the write, reassessed by the job worker: one job
        // for the one waiting change.
        assert_eq!(app.change(&waiting).await["risk_assessment"], before);
        assert_eq!(app.run_job_batch().await, 1);
        let moved = app.change(&waiting).await["risk_assessment"].clone();
        assert!(
            moved["factors"]["change_window"]
                .as_str()
                .expect("window")
                .starts_with("Business hours"),
            "{moved}"
        );
        assert_eq!(moved["contributions"]["change_window"], 15);
        assert_eq!(app.run_job_batch().await, 0);

        // A blackout added from the command line, which writes through the
        // store and runs no job worker of its own: the server's runs it.
        app.clock.advance(chrono::Duration::minutes(1));
        let cli = app.caller("cli", Role::Admin, Channel::Cli);
        let freeze = serde_json::from_value(json!({"name": "CLI freeze", "kind": "blackout",
            "start": "2026-12-01T00:00:00Z", "end": "2026-12-02T00:00:00Z"}))
        .expect("a window draft");
        app.store
            .create_window(&cli, freeze)
            .await
            .expect("window stored");
        assert_eq!(app.run_job_batch().await, 1);
        let frozen = app.change(&waiting).await;
        assert_eq!(
            frozen["risk_assessment"]["factors"]["change_window"],
            "Blackout window (CLI freeze)"
        );
        assert_eq!(frozen["conflicts"][0]["window"], "CLI freeze");
        let history = risk(&app, &waiting).await["history"].clone();
        assert_eq!(history.as_array().expect("history").len(), 3);
    }
);

backend_test!(
    a_blackout_conflicts_and_reassesses_waiting_changes,
    |app| async move {
        let waiting = app.create("alice", normal_draft()).await;
        let before = app.submit(&waiting, "alice").await["risk_assessment"].clone();
        assert_eq!(before["factors"]["change_window"], "Outside business hours");

        app.clock.advance(chrono::Duration::minutes(1));
        let freeze = add_window(
            &app,
            json!({"name": "December freeze", "kind": "blackout",
               "start": "2026-12-01T00:00:00Z", "end": "2026-12-02T00:00:00Z",
               "time_zone": "UTC"}),
        )
        .await;
        // The write asked the job worker to reassess the waiting change.
        assert_eq!(app.run_job_batch().await, 1);
        let change = app.change(&waiting).await;
        let assessment = &change["risk_assessment"];
        assert_eq!(
            assessment["factors"]["change_window"],
            "Blackout window (December freeze)"
        );
        assert_eq!(assessment["contributions"]["change_window"], 20);
        assert_eq!(assessment["factors"]["conflicts"], 1);
        assert!(
            assessment["recommendation"]
                .as_str()
                .expect("recommendation")
                .contains("Move the change out of the blackout window (December freeze).")
        );
        assert_eq!(
            assessment["automated_score"].as_u64().expect("score"),
            before["automated_score"].as_u64().expect("score") + 12 + 5
        );
        let conflicts = change["conflicts"].as_array().expect("conflicts");
        assert_eq!(conflicts.len(), 1);
        assert_eq!(conflicts[0]["type"], "blackout");
        assert_eq!(conflicts[0]["window"], "December freeze");
        assert_eq!(conflicts[0]["window_id"], freeze["id"]);
        assert_eq!(time_of(&conflicts[0]["overlap_start"]), at(PLANNED_START));
        assert_eq!(time_of(&conflicts[0]["overlap_end"]), at(PLANNED_END));
        assert_eq!(
            risk(&app, &waiting).await["history"]
                .as_array()
                .expect("history")
                .len(),
            2
        );

        // Lifting the freeze puts it back as it was.
        let path = format!("/api/windows/{}", freeze["id"]);
        app.call(axum::http::Method::DELETE, &path)
            .by("max")
            .send()
            .await
            .expect(StatusCode::NO_CONTENT);
        assert_eq!(app.run_job_batch().await, 1);
        let lifted = app.change(&waiting).await;
        assert_eq!(lifted["conflicts"], json!([]));
        assert_eq!(
            lifted["risk_assessment"]["automated_score"],
            before["automated_score"]
        );
        assert_eq!(
            risk(&app, &waiting).await["history"]
                .as_array()
                .expect("history")
                .len(),
            3
        );
    }
);

backend_test!(
    a_blackout_declared_while_a_change_is_assessed_is_found_once_it_is_submitted,
    |app| async move {
        let number = app.create("alice", normal_draft()).await;
        let assessed = app
            .assess(&number, stackflow_web::risk::CONFLICT_SCOPE_LIMIT)
            .await;
        assert!(assessed.conflicts.is_empty(), "{:?}", assessed.conflicts);
        // A freeze over the planned window is declared between the
        // assessment and the submission's commit. It asks to reassess the
        // changes awaiting approval, which this one is not yet.
        app.post(
            "/api/windows",
            "max",
            json!({"name": "December freeze", "kind": "blackout",
                   "start": "2026-12-01T00:00:00Z", "end": "2026-12-03T00:00:00Z"}),
        )
        .await
        .expect(StatusCode::CREATED);
        assert_eq!(app.run_jobs().await, 0);
        let caller = app.caller("alice", Role::Requester, Channel::Api);
        let submitted = app
            .store
            .submit_assessed(&caller, number.parse().expect("number"), None, assessed)
            .await
            .expect("submitted");
        assert!(submitted.conflicts.is_empty());
        // The submission asked for its own reassessment, which places it
        // against the freeze.
        app.clock.advance(chrono::Duration::minutes(1));
        assert_eq!(app.run_jobs().await, 1);
        let change = app.change(&number).await;
        assert_eq!(change["conflicts"][0]["type"], "blackout", "{change:#}");
        assert_eq!(
            change["risk_assessment"]["factors"]["change_window"],
            "Blackout window (December freeze)"
        );
    }
);

backend_test!(
    a_reassessment_never_records_a_conflict_with_a_change_that_has_since_ended,
    |app| async move {
        // As in the test above: a relationship brings a scheduled change on
        // orders-storage into the scope of a change waiting on orders-app.
        add_orders_storage(&app).await;
        let scheduled = scheduled_standard_on(&app, "orders-storage").await;
        let waiting = app
            .create(
                "alice",
                draft_on(&["orders-app"], PLANNED_START, PLANNED_END),
            )
            .await;
        assert_eq!(app.submit(&waiting, "alice").await["conflicts"], json!([]));
        app.clock.advance(chrono::Duration::minutes(5));
        link_orders_db_to_storage(&app).await;

        // The reassessment reads the scheduled change as a conflict…
        let assessed = app
            .assess(&waiting, stackflow_web::risk::CONFLICT_SCOPE_LIMIT)
            .await;
        assert_eq!(assessed.conflicts.len(), 1, "{:?}", assessed.conflicts);
        // …which is canceled before the reassessment is recorded. It held
        // no record about the waiting change, so that one's version stays.
        let version = app.change(&waiting).await["version"].clone();
        app.try_act(
            &scheduled,
            "cancel",
            "alice",
            json!({"reason": "not needed"}),
        )
        .await
        .expect(StatusCode::OK);
        assert_eq!(app.change(&waiting).await["version"], version);
        let caller = app.caller("admin", Role::Admin, Channel::Api);
        let refused = app
            .store
            .record_reassessment(&caller, waiting.parse().expect("number"), assessed)
            .await;
        assert!(
            matches!(
                refused,
                Err(stackflow_store::StoreError::AssessmentOutdated(_))
            ),
            "{refused:?}"
        );
        // The reassessment the relationship asked for finds nothing.
        app.run_jobs().await;
        let change = app.change(&waiting).await;
        assert_eq!(change["conflicts"], json!([]), "{change:#}");
        assert!(
            change["risk_assessment"]["factors"]
                .get("conflicts")
                .is_none()
        );
    }
);

backend_test!(
    a_reassessment_that_moves_only_the_conflict_records_adds_no_history,
    |app| async move {
        let first = app.create("alice", normal_draft()).await;
        app.submit(&first, "alice").await;
        let second = app.create("alice", normal_draft()).await;
        let submitted = app.submit(&second, "alice").await;
        assert_eq!(submitted["conflicts"][0]["change"], first.as_str());
        let history = risk(&app, &second).await["history"].clone();
        assert_eq!(history.as_array().expect("history").len(), 1);
        let audit_events = app.audit(&second).await.len();

        // The same finding an hour later, with the conflict record worded
        // otherwise.
        app.clock.advance(chrono::Duration::hours(1));
        let mut assessed = app
            .assess(&second, stackflow_web::risk::CONFLICT_SCOPE_LIMIT)
            .await;
        assessed.conflicts[0].reason = "reworded".into();
        let caller = app.caller("admin", Role::Admin, Channel::Api);
        let recorded = app
            .store
            .record_reassessment(&caller, second.parse().expect("number"), assessed)
            .await
            .expect("recorded");
        assert!(recorded.is_some(), "the conflicts moved, so it is recorded");
        let change = app.change(&second).await;
        assert_eq!(change["conflicts"][0]["reason"], "reworded");
        assert_eq!(risk(&app, &second).await["history"], history);
        // The change keeps the assessment the history holds.
        assert_eq!(change["risk_assessment"], history[0]);
        assert_eq!(app.audit(&second).await.len(), audit_events + 1);
    }
);

backend_test!(
    deleting_the_ci_a_conflict_ran_through_reassesses_the_waiting_change,
    |app| async move {
        // orders-app depends on orders-db-prod (the fixture), which is made
        // to depend on orders-storage, where a change is scheduled at the
        // same time as one waiting on orders-app: they conflict.
        add_orders_storage(&app).await;
        link_orders_db_to_storage(&app).await;
        let scheduled = scheduled_standard_on(&app, "orders-storage").await;
        let waiting = app
            .create(
                "alice",
                draft_on(&["orders-app"], PLANNED_START, PLANNED_END),
            )
            .await;
        let submitted = app.submit(&waiting, "alice").await;
        assert_eq!(submitted["conflicts"][0]["change"], scheduled.as_str());
        app.run_jobs().await;

        // orders-db-prod is retired: nothing links orders-app to the
        // storage any more, and its relationships go with it unlogged.
        app.clock.advance(chrono::Duration::minutes(5));
        app.call(axum::http::Method::DELETE, "/api/cis/orders-db-prod")
            .by("admin")
            .send()
            .await
            .expect(StatusCode::NO_CONTENT);
        app.run_jobs().await;

        let change = app.change(&waiting).await;
        assert_eq!(change["conflicts"], json!([]), "{change:#}");
        assert!(
            change["risk_assessment"]["factors"]
                .get("conflicts")
                .is_none()
        );
        assert_eq!(app.change(&scheduled).await["conflicts"], json!([]));
    }
);

backend_test!(
    a_freeze_declared_over_a_scheduled_change_is_recorded_on_it_and_lifted_with_it,
    |app| async move {
        let scheduled = app.scheduled_standard().await;
        let approved_version = app.change(&scheduled).await["version"].clone();
        app.run_jobs().await;
        // Neither a maintenance window nor a freeze elsewhere in time
        // touches it.
        for window in [
            json!({"name": "Patching", "kind": "maintenance",
                   "start": "2026-12-01T00:00:00Z", "end": "2026-12-03T00:00:00Z"}),
            json!({"name": "January freeze", "kind": "blackout",
                   "start": "2027-01-01T00:00:00Z", "end": "2027-01-03T00:00:00Z"}),
        ] {
            app.post("/api/windows", "max", window)
                .await
                .expect(StatusCode::CREATED);
        }
        app.run_jobs().await;
        assert_eq!(app.change(&scheduled).await["version"], approved_version);

        // A freeze over its window, declared after it was approved.
        app.clock.advance(chrono::Duration::minutes(5));
        let freeze = app
            .post(
                "/api/windows",
                "max",
                json!({"name": "December freeze", "kind": "blackout",
                       "start": "2026-12-01T00:00:00Z", "end": "2026-12-03T00:00:00Z"}),
            )
            .await
            .expect(StatusCode::CREATED);
        app.run_jobs().await;
        let change = app.change(&scheduled).await;
        assert_eq!(change["state"], "scheduled", "not sent back for approval");
        let conflicts = change["conflicts"].as_array().expect("conflicts");
        assert_eq!(conflicts.len(), 1, "{conflicts:?}");
        assert_eq!(conflicts[0]["type"], "blackout");
        assert_eq!(conflicts[0]["window"], "December freeze");
        assert_eq!(conflicts[0]["window_id"], freeze["id"]);
        let trail = app.audit(&scheduled).await;
        let last = trail.last().expect("an audit event");
        assert_eq!(last["action"], "change.conflicts_updated");
        let notes: Vec<_> = (app.store.pending_outbox(1000).await.expect("outbox"))
            .into_iter()
            .filter(|n| n.event_type == "change.blackout_conflict" && n.entity_key == scheduled)
            .collect();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(notes[0].recipients, ["alice"]);
        // Running the check again changes nothing.
        let version = change["version"].clone();
        app.reassess_number(&scheduled).await;
        assert_eq!(app.change(&scheduled).await["version"], version);

        // The freeze is lifted: so is the record.
        app.call(
            axum::http::Method::DELETE,
            &format!("/api/windows/{}", freeze["id"]),
        )
        .by("max")
        .send()
        .await
        .expect(StatusCode::NO_CONTENT);
        app.run_jobs().await;
        assert_eq!(app.change(&scheduled).await["conflicts"], json!([]));
    }
);

backend_test!(
    a_cmdb_write_between_assessment_and_submission_still_reassesses_the_change,
    |app| async move {
        let waiting = app.create("alice", normal_draft()).await;
        let assessed = app
            .assess(&waiting, stackflow_web::risk::CONFLICT_SCOPE_LIMIT)
            .await;
        // A critical service comes to depend on the change's CI after the
        // assessment read the CMDB, and the write's follow-up looks for
        // waiting changes before the submission commits: none yet.
        app.post(
            "/api/cis",
            "admin",
            json!({"name": "checkout", "class": "business_service", "criticality": "critical"}),
        )
        .await
        .expect(StatusCode::CREATED);
        app.post(
            "/api/relationships",
            "admin",
            json!({"from": "checkout", "to": "orders-db-prod", "type": "depends_on"}),
        )
        .await
        .expect(StatusCode::CREATED);
        assert_eq!(app.run_jobs().await, 0);
        let caller = app.caller("alice", Role::Requester, Channel::Api);
        let submitted = app
            .store
            .submit_assessed(&caller, waiting.parse().expect("number"), None, assessed)
            .await
            .expect("submitted");
        let stale = submitted.risk_assessment.expect("assessed");
        // orders-app, the fixture's dependent, and not checkout.
        assert_eq!(stale.factors.blast_radius_cis, 1, "{stale:?}");
        // The submission asked for its own reassessment.
        app.clock.advance(chrono::Duration::minutes(1));
        assert_eq!(app.run_jobs().await, 1);
        let read = risk(&app, &waiting).await;
        assert_eq!(read["history"].as_array().expect("history").len(), 2);
        assert_eq!(read["risk_assessment"]["factors"]["blast_radius_cis"], 2);
    }
);

backend_test!(
    deleting_the_ci_a_conflict_ran_through_reassesses_the_change_below_it,
    |app| async move {
        // The mirror of the test above: the waiting change is on
        // orders-storage, at the bottom, and the scheduled one on
        // orders-app, which depends on it through orders-db-prod. The
        // deletion logs orders-db-prod's own dependencies as relationships
        // removed, so orders-storage counts as touched.
        add_orders_storage(&app).await;
        link_orders_db_to_storage(&app).await;
        let scheduled = scheduled_standard_on(&app, "orders-app").await;
        let waiting = app
            .create(
                "alice",
                draft_on(&["orders-storage"], PLANNED_START, PLANNED_END),
            )
            .await;
        let submitted = app.submit(&waiting, "alice").await;
        assert_eq!(submitted["conflicts"][0]["change"], scheduled.as_str());
        assert_eq!(
            submitted["risk_assessment"]["factors"]["blast_radius_cis"],
            2
        );
        app.run_jobs().await;

        app.clock.advance(chrono::Duration::minutes(5));
        app.call(axum::http::Method::DELETE, "/api/cis/orders-db-prod")
            .by("admin")
            .send()
            .await
            .expect(StatusCode::NO_CONTENT);
        app.run_jobs().await;

        let change = app.change(&waiting).await;
        assert_eq!(change["conflicts"], json!([]), "{change:#}");
        assert_eq!(change["risk_assessment"]["factors"]["blast_radius_cis"], 0);
    }
);

backend_test!(
    a_change_approved_while_it_is_reassessed_still_gets_the_freeze_recorded,
    |app| async move {
        let number = app.normal_in_authorize().await;
        // A freeze is declared; the change's reassessment reads it…
        app.post(
            "/api/windows",
            "max",
            json!({"name": "December freeze", "kind": "blackout",
                   "start": "2026-12-01T00:00:00Z", "end": "2026-12-03T00:00:00Z"}),
        )
        .await
        .expect(StatusCode::CREATED);
        let stale = app
            .store
            .get_change(number.parse().expect("number"))
            .await
            .expect("read")
            .expect("the change");
        let assessed = app
            .assess(&number, stackflow_web::risk::CONFLICT_SCOPE_LIMIT)
            .await;
        assert_eq!(assessed.conflicts.len(), 1, "{:?}", assessed.conflicts);
        // …while the board approves it (a majority of four).
        app.approve(&number, "bob").await;
        app.approve(&number, "carol").await;
        assert_eq!(app.approve(&number, "erin").await["state"], "scheduled");
        let caller = app.caller("admin", Role::Admin, Channel::Api);
        let outdated = app
            .store
            .record_reassessment(&caller, number.parse().expect("number"), assessed)
            .await;
        assert!(
            matches!(
                outdated,
                Err(stackflow_store::StoreError::AssessmentOutdated(_))
            ),
            "{outdated:?}"
        );
        // The job that read it before the approval finds it outdated, reads
        // it again, and, now that it is scheduled, records only the freeze:
        // it is not scored again.
        let scored = app.change(&number).await["risk_assessment"].clone();
        let recorded = app.reassess_as_read(stale).await;
        assert!(!recorded, "no new assessment");
        let change = app.change(&number).await;
        assert_eq!(change["state"], "scheduled");
        assert_eq!(change["conflicts"][0]["type"], "blackout", "{change:#}");
        assert_eq!(change["risk_assessment"], scored);
    }
);

backend_test!(
    a_standard_change_submitted_as_a_freeze_is_declared_gets_it_recorded,
    |app| async move {
        let number = app.create("alice", standard_draft()).await;
        let assessed = app
            .assess(&number, stackflow_web::risk::CONFLICT_SCOPE_LIMIT)
            .await;
        assert!(assessed.risk.is_none(), "a standard change is not scored");
        app.post(
            "/api/windows",
            "max",
            json!({"name": "December freeze", "kind": "blackout",
                   "start": "2026-12-01T00:00:00Z", "end": "2026-12-03T00:00:00Z"}),
        )
        .await
        .expect(StatusCode::CREATED);
        assert_eq!(app.run_jobs().await, 0);
        let caller = app.caller("alice", Role::Requester, Channel::Api);
        let submitted = app
            .store
            .submit_assessed(&caller, number.parse().expect("number"), None, assessed)
            .await
            .expect("submitted");
        assert_eq!(submitted.state.as_str(), "scheduled");
        assert!(submitted.conflicts.is_empty());
        // Scheduled at once: the job its submission asked for records the
        // freeze on it.
        app.clock.advance(chrono::Duration::minutes(1));
        assert_eq!(app.run_jobs().await, 1);
        let change = app.change(&number).await;
        assert_eq!(change["conflicts"][0]["type"], "blackout", "{change:#}");
        assert!(change["risk_assessment"].is_null());
    }
);
