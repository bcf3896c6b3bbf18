//! Truly parallel requests (each in its own task on a clone of the router):
//! votes never lose each other, stale writes lose cleanly, numbers and task
//! positions never collide, and simultaneous edits of a group or a CI are
//! applied one after the other, never merged or lost.

use crate::fixtures::*;
use crate::support::*;
use axum::http::{Method, StatusCode};
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::Barrier;

/// Runs `request(app, i)` for every `i` in `0..n` at the same moment (each
/// task waits at a barrier before sending) and returns the replies in order.
async fn all_at_once<F, Fut>(app: &TestApp, n: usize, request: F) -> Vec<Reply>
where
    F: Fn(TestApp, usize) -> Fut,
    Fut: Future<Output = Reply> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let barrier = barrier.clone();
            let call = request(app.clone(), i);
            tokio::spawn(async move {
                barrier.wait().await;
                call.await
            })
        })
        .collect();
    let mut replies = Vec::with_capacity(n);
    for task in tasks {
        replies.push(task.await.expect("request task"));
    }
    replies
}

backend_test!(
    simultaneous_cab_votes_are_each_recorded_once,
    |app| async move {
        const CAB: [&str; 4] = ["bob", "carol", "dave", "erin"];
        // Three changes at once, all four CAB members voting on each.
        let numbers = vec![
            app.normal_in_authorize().await,
            app.normal_in_authorize().await,
            app.normal_in_authorize().await,
        ];
        let versions_before: Vec<i64> = {
            let mut v = Vec::new();
            for n in &numbers {
                v.push(app.change(n).await["version"].as_i64().unwrap());
            }
            v
        };
        let targets = Arc::new(numbers.clone());
        let replies = all_at_once(&app, CAB.len() * numbers.len(), move |app, i| {
            let number = targets[i / CAB.len()].clone();
            let voter = CAB[i % CAB.len()];
            async move { app.try_vote(&number, voter, "approved").await }
        })
        .await;

        for (c, number) in numbers.iter().enumerate() {
            let replies = &replies[c * CAB.len()..(c + 1) * CAB.len()];
            let accepted: Vec<&str> = CAB
                .iter()
                .zip(replies)
                .filter(|(_, r)| r.status == StatusCode::OK)
                .map(|(voter, _)| *voter)
                .collect();
            // A majority of four is three: the fourth vote finds the round closed.
            assert_eq!(accepted.len(), 3, "{number}: {replies:#?}");
            for reply in replies.iter().filter(|r| r.status != StatusCode::OK) {
                reply.problem(StatusCode::CONFLICT, "no_open_approval");
            }
            let change = app.change(number).await;
            assert_eq!(change["state"], "scheduled");
            assert_eq!(change["approval"]["status"], "approved");
            assert_eq!(
                change["version"].as_i64().unwrap(),
                versions_before[c] + 3,
                "one version per vote"
            );
            let cab_votes: Vec<String> = app.approvals(number).await["votes"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|v| v["stage"] == 1)
                .map(|v| v["voter"].as_str().unwrap().to_owned())
                .collect();
            let mut recorded = cab_votes.clone();
            recorded.sort();
            let mut expected: Vec<String> = accepted.iter().map(|v| (*v).to_owned()).collect();
            expected.sort();
            assert_eq!(recorded, expected, "every accepted vote once, no other");
            let voted_events = app
                .audit(number)
                .await
                .iter()
                .filter(|e| e["action"] == "change.voted")
                .count();
            assert_eq!(voted_events, 4, "the assessment vote and three CAB votes");
        }
    }
);

backend_test!(
    simultaneous_votes_that_are_all_needed_all_count,
    |app| async move {
        // An emergency change needs both ECAB members: neither of two
        // simultaneous votes may be lost.
        let number = app.create("alice", emergency_draft()).await;
        app.submit(&number, "alice").await;
        let replies = all_at_once(&app, 2, {
            let number = number.clone();
            move |app, i| {
                let number = number.clone();
                async move { app.try_vote(&number, ["bob", "carol"][i], "approved").await }
            }
        })
        .await;
        for reply in replies {
            reply.expect(StatusCode::OK);
        }
        let change = app.change(&number).await;
        assert_eq!(change["state"], "scheduled", "neither vote was lost");
        assert_eq!(change["version"], 4);
        assert_eq!(
            app.approvals(&number).await["votes"]
                .as_array()
                .map(Vec::len),
            Some(2)
        );
    }
);

backend_test!(
    concurrent_patches_with_one_if_match_let_exactly_one_win,
    |app| async move {
        const N: usize = 8;
        let number = app.create("alice", normal_draft()).await;
        let path = format!("/api/changes/{number}");
        let replies = all_at_once(&app, N, move |app, i| {
            let call = app
                .call(Method::PATCH, &path)
                .by("alice")
                .if_match(1)
                .json(&json!({"title": format!("Edit {i}")}));
            call.send()
        })
        .await;
        let winners: Vec<usize> = (0..N)
            .filter(|i| replies[*i].status == StatusCode::OK)
            .collect();
        assert_eq!(winners.len(), 1, "{replies:#?}");
        for reply in replies.iter().filter(|r| r.status != StatusCode::OK) {
            reply.problem(StatusCode::CONFLICT, "stale_version");
        }
        let change = app.change(&number).await;
        assert_eq!(change["version"], 2);
        assert_eq!(change["title"], format!("Edit {}", winners[0]));
        assert_eq!(app.audit(&number).await.len(), 2, "created and one edit");
    }
);

backend_test!(
    concurrent_creates_get_distinct_consecutive_numbers,
    |app| async move {
        const N: usize = 20;
        let replies = all_at_once(&app, N, |app, i| async move {
            let draft = with(normal_draft(), json!({"title": format!("Parallel {i}")}));
            app.post("/api/changes", "alice", draft).await
        })
        .await;
        let mut numbers: Vec<String> = replies
            .into_iter()
            .map(|r| {
                r.expect(StatusCode::CREATED)["number"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        numbers.sort();
        let expected: Vec<String> = (1..=N).map(|n| format!("CHG{n:07}")).collect();
        assert_eq!(numbers, expected);
    }
);

backend_test!(
    concurrent_task_additions_get_distinct_positions,
    |app| async move {
        const N: usize = 10;
        let number = app.create("alice", normal_draft()).await;
        let path = format!("/api/changes/{number}/tasks");
        let replies = all_at_once(&app, N, move |app, i| {
            let path = path.clone();
            async move {
                app.post(&path, "alice", json!({"title": format!("Step {i}")}))
                    .await
            }
        })
        .await;
        for reply in replies {
            reply.expect(StatusCode::CREATED);
        }
        let tasks = app
            .get(&format!("/api/changes/{number}/tasks"), "ivan")
            .await
            .expect(StatusCode::OK);
        let tasks = tasks["items"].as_array().expect("tasks");
        let positions: Vec<i64> = tasks
            .iter()
            .map(|t| t["position"].as_i64().unwrap())
            .collect();
        assert_eq!(positions, (1..=N as i64).collect::<Vec<_>>());
        let titles: HashSet<&str> = tasks.iter().map(|t| t["title"].as_str().unwrap()).collect();
        assert_eq!(titles.len(), N);
        assert_eq!(
            app.change(&number).await["version"],
            1 + N as i64,
            "each addition bumps the version"
        );
    }
);

backend_test!(
    one_approver_voting_twice_at_once_counts_once,
    |app| async move {
        let number = app.normal_in_authorize().await;
        let before = app.change(&number).await["version"].as_i64().unwrap();
        let replies = all_at_once(&app, 4, {
            let number = number.clone();
            move |app, _| {
                let number = number.clone();
                async move { app.try_vote(&number, "bob", "approved").await }
            }
        })
        .await;
        let accepted = replies
            .iter()
            .filter(|r| r.status == StatusCode::OK)
            .count();
        assert_eq!(accepted, 1, "{replies:#?}");
        for reply in replies.iter().filter(|r| r.status != StatusCode::OK) {
            reply.problem(StatusCode::CONFLICT, "already_voted");
        }
        assert_eq!(
            app.change(&number).await["version"].as_i64().unwrap(),
            before + 1
        );
        let bobs = app.approvals(&number).await["votes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["voter"] == "bob")
            .count();
        assert_eq!(bobs, 1);
    }
);

/// How many times each race below is run: every round is one chance for the
/// two writers to interleave, and one lucky ordering proves little.
const ROUNDS: usize = 10;

/// A second admin, created through the API; returns their token.
async fn second_admin(app: &TestApp) -> String {
    app.post(
        "/api/users",
        "admin",
        json!({"username": "root", "email": "root@example.com", "role": "admin"}),
    )
    .await
    .expect(StatusCode::CREATED);
    let created = app
        .post("/api/users/root/tokens", "admin", json!({"name": "race"}))
        .await
        .expect(StatusCode::CREATED);
    created["token"].as_str().expect("the secret").to_owned()
}

/// The members of a group, as the API lists them.
async fn members_of(app: &TestApp, group: &str) -> Vec<String> {
    let group = app
        .get(&format!("/api/groups/{group}"), "admin")
        .await
        .expect(StatusCode::OK);
    group["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m.as_str().expect("a username").to_owned())
        .collect()
}

backend_test!(
    simultaneous_member_replacements_leave_one_list_never_their_union,
    |app| async move {
        const LISTS: [[&str; 2]; 2] = [["bob", "carol"], ["dave", "erin"]];
        // The ECAB (bob, carol) must stay within the CAB: emptied first, so
        // that both lists are allowed.
        app.call(Method::PUT, "/api/groups/ECAB/members")
            .by("admin")
            .json(&json!({"members": []}))
            .send()
            .await
            .expect(StatusCode::OK);
        let tokens = Arc::new([app.token("admin"), second_admin(&app).await]);
        for round in 0..ROUNDS {
            let replies = all_at_once(&app, 2, {
                let tokens = tokens.clone();
                move |app, i| {
                    // Alternate who sends which list.
                    let token = tokens[(i + round) % 2].clone();
                    async move {
                        app.call(Method::PUT, "/api/groups/CAB/members")
                            .bearer(&token)
                            .json(&json!({"members": LISTS[i]}))
                            .send()
                            .await
                    }
                }
            })
            .await;
            for (i, reply) in replies.into_iter().enumerate() {
                let group = reply.expect(StatusCode::OK);
                assert_eq!(
                    group["members"],
                    json!(LISTS[i]),
                    "round {round}: each writer sees its own list"
                );
            }
            let members = members_of(&app, "CAB").await;
            assert!(
                LISTS.iter().any(|list| members == list),
                "round {round}: CAB is {members:?}, not exactly one of {LISTS:?}"
            );
        }
    }
);

backend_test!(
    simultaneous_edits_of_different_ci_fields_both_stay,
    |app| async move {
        const CI: &str = "/api/cis/orders-db-prod";
        const CRITICALITIES: [&str; 4] = ["low", "medium", "high", "critical"];
        for round in 0..ROUNDS {
            // Both values differ from the previous round's, so a lost
            // update shows as a stale value.
            let criticality = CRITICALITIES[round % CRITICALITIES.len()];
            let environment = format!("env-{round}");
            let replies = all_at_once(&app, 2, {
                let environment = environment.clone();
                move |app, i| {
                    let (user, body) = if i == 0 {
                        ("admin", json!({"criticality": criticality}))
                    } else {
                        ("max", json!({"environment": environment}))
                    };
                    async move { app.patch(CI, user, body).await }
                }
            })
            .await;
            let replies: Vec<_> = replies
                .into_iter()
                .map(|r| r.expect(StatusCode::OK))
                .collect();
            assert_eq!(replies[0]["criticality"], criticality);
            assert_eq!(replies[1]["environment"], environment.as_str());
            assert!(
                replies.iter().any(|ci| ci["criticality"] == criticality
                    && ci["environment"] == environment.as_str()),
                "round {round}: the later edit saw the earlier one: {replies:#?}"
            );
            let ci = app.get(CI, "vic").await.expect(StatusCode::OK);
            assert_eq!(ci["criticality"], criticality, "round {round}: {ci:#}");
            assert_eq!(
                ci["environment"],
                environment.as_str(),
                "round {round}: {ci:#}"
            );
        }
    }
);

backend_test!(
    settings_writers_at_the_same_moment_queue_and_never_deadlock,
    |app| async move {
        // Editing bob locks his row; setting the CAB's members checks it
        // (a foreign key) after writing the group. Both move the settings
        // generation, whose row each now locks first: on PostgreSQL, taken
        // at the first settings write instead, each held what the other
        // waited for and one of them failed.
        const ROUNDS: usize = 40;
        for round in 0..ROUNDS {
            let name = format!("Bob, round {round}");
            let members = if round % 2 == 0 {
                json!(["bob", "carol", "dave", "erin", "olga"])
            } else {
                json!(["bob", "carol", "dave", "erin"])
            };
            let replies = all_at_once(&app, 2, {
                let name = name.clone();
                let members = members.clone();
                move |app, i| {
                    let (name, members) = (name.clone(), members.clone());
                    async move {
                        if i == 0 {
                            app.patch("/api/users/bob", "admin", json!({"display_name": name}))
                                .await
                        } else {
                            app.call(Method::PUT, "/api/groups/CAB/members")
                                .by("admin")
                                .json(&json!({"members": members}))
                                .send()
                                .await
                        }
                    }
                }
            })
            .await;
            for reply in replies {
                reply.expect(StatusCode::OK);
            }
            let bob = app
                .get("/api/users/bob", "admin")
                .await
                .expect(StatusCode::OK);
            assert_eq!(bob["display_name"], name.as_str(), "round {round}");
            let cab = app
                .get("/api/groups/CAB", "admin")
                .await
                .expect(StatusCode::OK);
            assert_eq!(cab["members"], members, "round {round}");
        }
    }
);

backend_test!(
    the_writer_meter_counts_each_write_transaction_and_its_time,
    |app| async move {
        let start = app.store.writer_reading();
        let mut numbers = Vec::new();
        for _ in 0..3 {
            numbers.push(app.create("alice", normal_draft()).await);
        }
        // Reads begin no write transaction.
        app.change(&numbers[0]).await;
        let end = app.store.writer_reading();
        match app.store.backend() {
            stackflow_store::Backend::Sqlite => {
                let (start, end) = (start.expect("a reading"), end.expect("a reading"));
                let used = stackflow_store::WriterUse::between(&start, &end);
                assert_eq!(used.transactions, 3, "{used:?}");
                assert!(used.busy > std::time::Duration::ZERO, "{used:?}");
                assert!(used.busy <= used.window, "{used:?}");
            }
            // Writers run side by side on the pool: no one connection to meter.
            stackflow_store::Backend::Postgres => assert_eq!((start, end), (None, None)),
        }
    }
);
