//! The life of each change type, end to end, rejection with resubmission,
//! and cancellation.

use crate::fixtures::*;
use crate::support::*;
use axum::http::StatusCode;
use chrono::Duration;
use serde_json::{Value, json};

backend_test!(
    create_answers_201_with_location_and_etag,
    |app| async move {
        let reply = app.post("/api/changes", "alice", normal_draft()).await;
        let location = reply
            .headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let etag = reply
            .headers
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let change = reply.expect(StatusCode::CREATED);
        assert_eq!(location.as_deref(), Some("/api/changes/CHG0000001"));
        assert_eq!(etag.as_deref(), Some("\"1\""));
        assert_eq!(change["number"], "CHG0000001");
        assert_eq!(change["state"], "new");
        assert_eq!(change["approval"]["status"], "not_requested");
        assert_eq!(change["affected_cis"], json!(["orders-db-prod"]));
        assert_eq!(time_of(&change["created_at"]), app.now());
        assert_eq!(app.change("CHG0000001").await, change);
        let got = app.get("/api/changes/chg0000001", "vic").await;
        assert_eq!(
            got.headers.get("etag").and_then(|v| v.to_str().ok()),
            Some("\"1\"")
        );
    }
);

backend_test!(
    standard_change_is_preapproved_by_its_template_and_runs_to_closed,
    |app| async move {
        let number = app.create("alice", standard_draft()).await;
        assert_eq!(number, "CHG0000001");
        let created = app.change(&number).await;
        assert_eq!(created["type"], "standard");
        assert_eq!(created["state"], "new");
        assert_eq!(
            created["title"], "Restart a read replica",
            "title from the template"
        );
        assert_eq!(created["implementation_plan"], TEMPLATE_PLAN);
        assert_eq!(created["assignment_group"], "dba");
        assert_eq!(created["approval"]["status"], "not_required");
        assert_eq!(created["requested_by"], "alice");
        assert_eq!(created["version"], 1);

        let scheduled = app.submit(&number, "alice").await;
        assert_eq!(scheduled["state"], "scheduled");
        assert_eq!(scheduled["approval"]["status"], "approved");
        assert_eq!(scheduled["approval"]["pre_approved_by_template"], TEMPLATE);
        assert_eq!(
            time_of(&scheduled["pir"]["due_at"]),
            at(PLANNED_END) + Duration::hours(48)
        );
        assert_eq!(
            app.approvals(&number).await["votes"],
            json!([]),
            "nobody votes"
        );

        assert_eq!(
            app.step(&number, "implement", "ivan").await["state"],
            "implement"
        );
        assert_eq!(
            app.step(&number, "complete", "ivan").await["state"],
            "review"
        );
        let closed = app.review(&number, "alice", "successful").await;
        assert_eq!(closed["state"], "closed");
        assert_eq!(closed["close_code"], "successful");
        assert_eq!(closed["pir"]["review"]["reviewed_by"], "alice");
        assert_eq!(closed["version"], 5, "one version per write");
    }
);

backend_test!(
    normal_change_is_assessed_authorized_by_the_cab_and_closed_after_its_tasks_and_review,
    |app| async move {
        let number = app.create("alice", normal_draft()).await;
        app.clock.advance(Duration::hours(1));
        let submitted_at = app.now();

        let assessing = app.submit(&number, "alice").await;
        assert_eq!(assessing["state"], "assess");
        assert_eq!(assessing["approval"]["status"], "requested");
        assert_eq!(assessing["approval"]["round"], 1);
        assert_eq!(
            time_of(&assessing["approval"]["due_at"]),
            submitted_at + Duration::days(7),
            "5 business days from a Wednesday is the next Wednesday"
        );
        assert_eq!(assessing["approval"]["sla_breached"], false);

        // Technical assessment: any DBA but the requester.
        assert_eq!(app.approve(&number, "dave").await["state"], "authorize");

        // CAB majority: 3 of bob, carol, dave, erin.
        assert_eq!(app.approve(&number, "bob").await["state"], "authorize");
        assert_eq!(app.approve(&number, "carol").await["state"], "authorize");
        let scheduled = app.approve(&number, "erin").await;
        assert_eq!(scheduled["state"], "scheduled");
        assert_eq!(scheduled["approval"]["status"], "approved");
        assert_eq!(
            time_of(&scheduled["pir"]["due_at"]),
            at(PLANNED_END) + Duration::hours(48)
        );

        let snapshot = app.add_task(&number, "ivan", "Take a snapshot").await;
        let upgrade = app.add_task(&number, "ivan", "Run the upgrade").await;
        assert_eq!(
            (snapshot["position"].as_i64(), upgrade["position"].as_i64()),
            (Some(1), Some(2))
        );
        assert_eq!(snapshot["state"], "open");

        assert_eq!(
            app.step(&number, "implement", "ivan").await["state"],
            "implement"
        );
        let before = app.snapshot(&number).await;
        app.try_step(&number, "complete", "ivan")
            .await
            .problem(StatusCode::CONFLICT, "tasks_open");
        app.assert_unchanged(&number, &before).await;

        app.set_task_state(&number, &snapshot, "ivan", "done").await;
        app.set_task_state(&number, &upgrade, "ivan", "in_progress")
            .await;
        app.try_step(&number, "complete", "ivan")
            .await
            .problem(StatusCode::CONFLICT, "tasks_open");
        app.set_task_state(&number, &upgrade, "ivan", "done").await;
        let reviewing = app.step(&number, "complete", "ivan").await;
        assert_eq!(reviewing["state"], "review");

        let closed = app.review(&number, "alice", "successful_with_issues").await;
        assert_eq!(closed["state"], "closed");
        assert_eq!(closed["close_code"], "successful_with_issues");
        let pir = &closed["pir"]["review"];
        assert_eq!(pir["objectives_met"], "yes");
        assert_eq!(pir["close_code"], "successful_with_issues");
        assert_eq!(pir["lessons_learned"], "Take the snapshot earlier.");
    }
);

backend_test!(
    cab_majority_excludes_a_requester_who_sits_on_the_cab,
    |app| async move {
        // dave is on the CAB and in dba: he may request, never approve.
        let number = app.create("dave", normal_draft()).await;
        app.submit(&number, "dave").await;
        let approvals = app.approvals(&number).await;
        assert_eq!(
            approvals["stages"][0]["lanes"][0]["eligible_approvers"],
            json!(["ivan"])
        );
        assert_eq!(
            approvals["stages"][1]["lanes"][0]["eligible_approvers"],
            json!(["bob", "carol", "erin"])
        );
        assert_eq!(approvals["stages"][1]["lanes"][0]["rule"], "majority");
        app.approve(&number, "ivan").await;

        app.try_vote(&number, "dave", "approved")
            .await
            .problem(StatusCode::FORBIDDEN, "segregation_of_duties");
        assert_eq!(app.approve(&number, "bob").await["state"], "authorize");
        // Two of the three eligible are a majority.
        assert_eq!(app.approve(&number, "erin").await["state"], "scheduled");
    }
);

backend_test!(
    emergency_change_needs_two_distinct_ecab_approvers_within_two_hours,
    |app| async move {
        let number = app.create("alice", emergency_draft()).await;
        app.clock.advance(Duration::minutes(10));
        let submitted_at = app.now();
        let authorizing = app.submit(&number, "alice").await;
        assert_eq!(authorizing["state"], "authorize", "emergency skips assess");
        assert_eq!(
            time_of(&authorizing["approval"]["due_at"]),
            submitted_at + Duration::hours(2)
        );
        let approvals = app.approvals(&number).await;
        assert_eq!(approvals["stages"][0]["name"], "ECAB authorisation");
        assert_eq!(
            approvals["stages"][0]["lanes"][0]["eligible_approvers"],
            json!(["bob", "carol"])
        );
        assert_eq!(
            approvals["stages"][0]["lanes"][0]["rule"],
            json!({"quorum": 2})
        );

        assert_eq!(app.approve(&number, "bob").await["state"], "authorize");
        app.try_vote(&number, "bob", "approved")
            .await
            .problem(StatusCode::CONFLICT, "already_voted");
        assert_eq!(
            app.change(&number).await["state"],
            "authorize",
            "one person is one approver"
        );
        app.try_vote(&number, "dave", "approved")
            .await
            .problem(StatusCode::FORBIDDEN, "not_an_approver");
        let scheduled = app.approve(&number, "carol").await;
        assert_eq!(scheduled["state"], "scheduled");
        assert_eq!(scheduled["approval"]["status"], "approved");

        app.step(&number, "implement", "ivan").await;
        app.clock.advance(Duration::minutes(20));
        let completed_at = app.now();
        let reviewing = app.step(&number, "complete", "ivan").await;
        // Due 48 h after the work, which ended before its planned end.
        assert_eq!(
            time_of(&reviewing["pir"]["due_at"]),
            completed_at + Duration::hours(48)
        );
        assert_eq!(
            app.review(&number, "max", "successful").await["state"],
            "closed"
        );
    }
);

backend_test!(
    rejected_change_returns_to_new_and_its_resubmission_opens_round_two,
    |app| async move {
        let number = app.normal_in_authorize().await;
        app.clock.advance(Duration::minutes(5));
        // One "no" of four cannot block a majority yet; the second can.
        assert_eq!(app.reject(&number, "bob").await["state"], "authorize");
        app.clock.advance(Duration::minutes(5));
        let rejected_at = app.now();
        let rejected = app.reject(&number, "carol").await;
        assert_eq!(rejected["state"], "new");
        assert_eq!(rejected["approval"]["status"], "rejected");
        assert_eq!(rejected["approval"]["current_stage"], json!(null));
        let rejections = rejected["rejections"].as_array().expect("rejections");
        assert_eq!(rejections.len(), 1);
        assert_eq!(rejections[0]["round"], 1);
        assert_eq!(rejections[0]["stage"], "CAB authorisation");
        assert_eq!(rejections[0]["by"], "carol");
        assert_eq!(rejections[0]["notes"], "carol says rejected");
        assert_eq!(time_of(&rejections[0]["at"]), rejected_at);

        let revised = app
            .patch(
                &format!("/api/changes/{number}"),
                "alice",
                json!({"backout_plan": "Restore the snapshot taken before the upgrade."}),
            )
            .await
            .expect(StatusCode::OK);
        assert_eq!(
            revised["backout_plan"],
            "Restore the snapshot taken before the upgrade."
        );
        assert_eq!(
            revised["version"],
            rejected["version"].as_i64().unwrap() + 1
        );

        app.clock.advance(Duration::hours(1));
        let resubmitted = app.submit(&number, "alice").await;
        assert_eq!(resubmitted["state"], "assess");
        assert_eq!(resubmitted["approval"]["status"], "requested");
        assert_eq!(resubmitted["approval"]["round"], 2);
        assert_eq!(
            resubmitted["rejections"].as_array().map(Vec::len),
            Some(1),
            "history kept"
        );
        let round_two_vote_at = app.now();
        // ivan assessed round 1 and may assess round 2 again.
        assert_eq!(app.approve(&number, "ivan").await["state"], "authorize");

        let view = app.approvals(&number).await;
        assert_eq!(view["round"], 2);
        let votes = view["votes"].as_array().expect("votes");
        let summary: Vec<_> = votes
            .iter()
            .map(|v| {
                (
                    v["round"].as_u64().unwrap(),
                    v["voter"].as_str().unwrap(),
                    v["decision"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (1, "ivan", "approved"),
                (1, "bob", "rejected"),
                (1, "carol", "rejected"),
                (2, "ivan", "approved")
            ]
        );
        for vote in votes {
            assert_eq!(vote["channel"], "api");
        }
        assert_eq!(time_of(&votes[0]["at"]), at(START));
        assert_eq!(time_of(&votes[2]["at"]), rejected_at);
        assert_eq!(time_of(&votes[3]["at"]), round_two_vote_at);
    }
);

backend_test!(
    canceling_stops_the_approval_and_review_clocks,
    |app| async move {
        // In `authorize`, waiting for the CAB: the approval clock runs.
        let number = app.normal_in_authorize().await;
        let waiting = app.change(&number).await;
        assert!(
            waiting["approval"]["due_at"].is_string(),
            "{:#}",
            waiting["approval"]
        );
        let canceled = app
            .try_act(&number, "cancel", "alice", json!({"reason": "superseded"}))
            .await
            .expect(StatusCode::OK);
        assert_eq!(canceled["state"], "canceled");
        assert_eq!(canceled["close_code"], "canceled");
        assert_eq!(
            canceled["approval"]["due_at"],
            Value::Null,
            "{:#}",
            canceled["approval"]
        );
        assert_eq!(
            canceled["pir"]["due_at"],
            Value::Null,
            "{:#}",
            canceled["pir"]
        );
        assert_eq!(app.change(&number).await, canceled, "as stored");
        assert_eq!(app.approvals(&number).await["due_at"], Value::Null);

        // Scheduled: the review clock runs too.
        let number = app.scheduled_standard().await;
        let scheduled = app.change(&number).await;
        assert_eq!(
            time_of(&scheduled["pir"]["due_at"]),
            at(PLANNED_END) + Duration::hours(48)
        );
        let canceled = app
            .try_act(&number, "cancel", "max", json!({"reason": "not needed"}))
            .await
            .expect(StatusCode::OK);
        assert_eq!(canceled["state"], "canceled");
        assert_eq!(canceled["close_code"], "canceled");
        assert_eq!(canceled["approval"]["due_at"], Value::Null);
        assert_eq!(canceled["pir"]["due_at"], Value::Null);
        assert_eq!(app.change(&number).await, canceled, "as stored");
    }
);
