//! Known callers refused by the rules: 403 for who, 409 for when. Every
//! refused write leaves the change (version, state, audit trail) as it was.

use crate::fixtures::*;
use axum::http::{Method, StatusCode};
use serde_json::json;

backend_test!(
    requester_may_not_approve_their_own_change,
    |app| async move {
        let number = app.create("alice", normal_draft()).await;
        app.submit(&number, "alice").await;
        let before = app.snapshot(&number).await;
        app.try_vote(&number, "alice", "approved")
            .await
            .problem(StatusCode::FORBIDDEN, "segregation_of_duties");
        app.assert_unchanged(&number, &before).await;
    }
);

backend_test!(
    people_outside_the_open_stage_may_not_vote,
    |app| async move {
        let number = app.create("alice", normal_draft()).await;
        app.submit(&number, "alice").await;
        let before = app.snapshot(&number).await;
        // olga is in no group; bob is on the CAB, whose stage is not open yet.
        for outsider in ["olga", "bob"] {
            app.try_vote(&number, outsider, "approved")
                .await
                .problem(StatusCode::FORBIDDEN, "not_an_approver");
        }
        app.assert_unchanged(&number, &before).await;
        assert_eq!(app.approvals(&number).await["votes"], json!([]));
    }
);

backend_test!(
    approvers_removed_from_the_group_no_longer_count,
    |app| async move {
        let number = app.normal_in_authorize().await;
        app.call(Method::PUT, "/api/groups/CAB/members")
            .by("admin")
            .json(&json!({"members": ["bob", "carol", "dave"]}))
            .send()
            .await
            .expect(StatusCode::OK);
        let before = app.snapshot(&number).await;
        app.try_vote(&number, "erin", "approved")
            .await
            .problem(StatusCode::FORBIDDEN, "not_an_approver");
        app.assert_unchanged(&number, &before).await;
        // Three members left: two approvals are now a majority.
        app.approve(&number, "bob").await;
        assert_eq!(app.approve(&number, "carol").await["state"], "scheduled");
    }
);

backend_test!(
    viewers_may_not_create_or_change_anything,
    |app| async move {
        app.post("/api/changes", "vic", normal_draft())
            .await
            .problem(StatusCode::FORBIDDEN, "role_may_not_create_changes");
        let list = app.get("/api/changes", "vic").await.expect(StatusCode::OK);
        assert_eq!(
            list["items"],
            json!([]),
            "viewers read, and nothing was created"
        );

        let number = app.create("alice", normal_draft()).await;
        let before = app.snapshot(&number).await;
        app.patch(
            &format!("/api/changes/{number}"),
            "vic",
            json!({"title": "Mine now"}),
        )
        .await
        .problem(StatusCode::FORBIDDEN, "role_read_only");
        app.assert_unchanged(&number, &before).await;
    }
);

backend_test!(
    only_the_requester_or_a_manager_may_edit_submit_or_cancel,
    |app| async move {
        let number = app.create("alice", normal_draft()).await;
        let before = app.snapshot(&number).await;
        app.patch(
            &format!("/api/changes/{number}"),
            "olga",
            json!({"title": "Hijacked"}),
        )
        .await
        .problem(StatusCode::FORBIDDEN, "edit_by_requester_or_manager");
        app.try_step(&number, "submit", "olga")
            .await
            .problem(StatusCode::FORBIDDEN, "submit_by_requester_or_manager");
        app.try_act(&number, "cancel", "olga", json!({"reason": "mine"}))
            .await
            .problem(StatusCode::FORBIDDEN, "cancel_by_requester_or_manager");
        app.assert_unchanged(&number, &before).await;
        // A change manager may.
        assert_eq!(app.submit(&number, "max").await["state"], "assess");
    }
);

backend_test!(voting_twice_in_a_stage_is_409, |app| async move {
    let number = app.normal_in_authorize().await;
    app.approve(&number, "bob").await;
    let before = app.snapshot(&number).await;
    for decision in ["approved", "rejected"] {
        app.try_vote(&number, "bob", decision)
            .await
            .problem(StatusCode::CONFLICT, "already_voted");
    }
    app.assert_unchanged(&number, &before).await;
    let bobs = app.approvals(&number).await["votes"]
        .as_array()
        .expect("votes")
        .iter()
        .filter(|v| v["voter"] == "bob")
        .count();
    assert_eq!(bobs, 1);
});

backend_test!(
    illegal_transitions_are_409_naming_the_rule,
    |app| async move {
        let number = app.create("alice", normal_draft()).await;
        let before = app.snapshot(&number).await;
        for (action, rule) in [
            ("implement", "implement_only_when_scheduled"),
            ("complete", "complete_only_when_implementing"),
        ] {
            app.try_step(&number, action, "alice")
                .await
                .problem(StatusCode::CONFLICT, rule);
        }
        app.try_act(
            &number,
            "review",
            "alice",
            json!({"objectives_met": "yes", "close_code": "successful"}),
        )
        .await
        .problem(StatusCode::CONFLICT, "review_only_after_implementation");
        app.try_vote(&number, "bob", "approved")
            .await
            .problem(StatusCode::CONFLICT, "no_open_approval");
        app.assert_unchanged(&number, &before).await;

        app.submit(&number, "alice").await;
        let before = app.snapshot(&number).await;
        app.try_step(&number, "submit", "alice")
            .await
            .problem(StatusCode::CONFLICT, "submit_only_when_new");
        app.patch(
            &format!("/api/changes/{number}"),
            "alice",
            json!({"title": "Too late"}),
        )
        .await
        .problem(StatusCode::CONFLICT, "edit_only_in_new");
        app.assert_unchanged(&number, &before).await;
    }
);

backend_test!(
    cancel_after_implementation_started_is_409,
    |app| async move {
        let number = app.scheduled_standard().await;
        app.step(&number, "implement", "ivan").await;
        let before = app.snapshot(&number).await;
        app.try_act(
            &number,
            "cancel",
            "alice",
            json!({"reason": "changed my mind"}),
        )
        .await
        .problem(StatusCode::CONFLICT, "cancel_only_before_implementation");
        app.assert_unchanged(&number, &before).await;
    }
);

backend_test!(canceled_changes_are_final, |app| async move {
    let number = app.create("alice", normal_draft()).await;
    let canceled = app
        .try_act(&number, "cancel", "alice", json!({"reason": "superseded"}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(canceled["state"], "canceled");
    assert_eq!(canceled["close_code"], "canceled");
    assert_eq!(canceled["cancel_reason"], "superseded");
    let before = app.snapshot(&number).await;
    app.try_step(&number, "submit", "alice")
        .await
        .problem(StatusCode::CONFLICT, "change_is_final");
    app.assert_unchanged(&number, &before).await;
});

backend_test!(
    an_emergency_that_only_one_ecab_member_could_approve_is_refused_at_submit,
    |app| async move {
        // bob sits on the two-person ECAB: as requester he leaves one approver.
        let number = app.create("bob", emergency_draft()).await;
        let before = app.snapshot(&number).await;
        app.try_step(&number, "submit", "bob")
            .await
            .problem(StatusCode::CONFLICT, "approval_stage_unreachable");
        app.assert_unchanged(&number, &before).await;
    }
);

backend_test!(
    shrinking_the_cab_below_the_votes_cast_settles_the_open_round,
    |app| async move {
        let number = app.normal_in_authorize().await;
        app.approve(&number, "bob").await;
        app.approve(&number, "carol").await;
        // Two of four are no majority; two of two are.
        app.call(Method::PUT, "/api/groups/CAB/members")
            .by("admin")
            .json(&json!({"members": ["bob", "carol"]}))
            .send()
            .await
            .expect(StatusCode::OK);
        let lane = &app.approvals(&number).await["stages"][1]["lanes"][0];
        assert_eq!(lane["outcome"], "approved");
        // Everyone who may still vote has voted: unless the round is settled
        // now, nothing but a cancellation can ever move the change again.
        let change = app.change(&number).await;
        assert_eq!(change["state"], "scheduled", "{:#}", change["approval"]);
    }
);

backend_test!(
    deactivating_an_approver_settles_the_open_round_without_them,
    |app| async move {
        let number = app.normal_in_authorize().await;
        app.approve(&number, "bob").await;
        app.approve(&number, "carol").await;
        // Two of four CAB members are no majority; with erin and dave
        // deactivated, two of two are.
        for person in ["erin", "dave"] {
            app.call(Method::PATCH, &format!("/api/users/{person}"))
                .by("admin")
                .json(&json!({"active": false}))
                .send()
                .await
                .expect(StatusCode::OK);
        }
        let change = app.change(&number).await;
        assert_eq!(change["state"], "scheduled", "{:#}", change["approval"]);
        let trail = app
            .get(&format!("/api/changes/{number}/audit?limit=500"), "alice")
            .await;
        let actions: Vec<&str> = trail.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|e| e["action"].as_str())
            .collect();
        assert_eq!(actions.last(), Some(&"change.approval_reevaluated"));
    }
);
