//! Blast radius through the impact index: what it reports, how it follows
//! writes made through the API on this instance and on a second instance
//! sharing the database.

use crate::fixtures::*;
use crate::support::*;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

async fn add_ci(app: &TestApp, name: &str, class: &str, criticality: &str) {
    app.post(
        "/api/cis",
        "admin",
        json!({"name": name, "class": class, "criticality": criticality}),
    )
    .await
    .expect(StatusCode::CREATED);
}

async fn depends(app: &TestApp, from: &str, to: &str, rel_type: &str) -> i64 {
    let created = app
        .post(
            "/api/relationships",
            "admin",
            json!({"from": from, "to": to, "type": rel_type}),
        )
        .await
        .expect(StatusCode::CREATED);
    created["id"].as_i64().expect("relationship id")
}

async fn impact(app: &TestApp, query: &str) -> Value {
    app.get(&format!("/api/cis/{query}"), "vic")
        .await
        .expect(StatusCode::OK)
}

fn names(report: &Value) -> Vec<&str> {
    report["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["name"].as_str().expect("name"))
        .collect()
}

/// host-1 ← vm-1 ← orders-app (← shop); orders-app also uses orders-db-prod.
async fn estate(app: &TestApp) {
    add_ci(app, "host-1", "host", "medium").await;
    add_ci(app, "vm-1", "virtual_machine", "low").await;
    add_ci(app, "shop", "business_service", "critical").await;
    depends(app, "vm-1", "host-1", "hosted_on").await;
    depends(app, "orders-app", "vm-1", "runs_on").await;
    depends(app, "shop", "orders-app", "depends_on").await;
}

backend_test!(
    a_host_impacts_everything_above_it_with_the_chain_back,
    |app| async move {
        estate(&app).await;
        let report = impact(&app, "host-1/impact").await;
        assert_eq!(report["root"], json!(["host-1"]));
        assert_eq!(report["count"], 3);
        assert_eq!(report["max_criticality"], "critical");
        assert_eq!(report["most_critical_ci"], "shop");
        assert_eq!(report["max_depth_reached"], 3);
        assert_eq!(report["depth_limit"], Value::Null);
        assert_eq!(names(&report), ["shop", "orders-app", "vm-1"]);
        assert_eq!(report["items"][0]["depth"], 3);
        assert_eq!(
            report["items"][0]["path"],
            json!(["shop", "orders-app", "vm-1", "host-1"])
        );
        assert_eq!(report["items"][0]["class"], "business_service");
        assert_eq!(
            report["by_class"],
            json!({"application": 1, "business_service": 1, "virtual_machine": 1})
        );
        assert_eq!(
            report["by_criticality"],
            json!({"critical": 1, "high": 1, "low": 1})
        );

        let shallow = impact(&app, "host-1/impact?depth=1").await;
        assert_eq!(shallow["count"], 1);
        assert_eq!(shallow["depth_limit"], 1);
        assert_eq!(names(&shallow), ["vm-1"]);

        // The database is shared by everything above it, through orders-app.
        let db = impact(&app, "orders-db-prod/impact").await;
        assert_eq!(names(&db), ["shop", "orders-app"]);
        let nothing = impact(&app, "shop/impact").await;
        assert_eq!(nothing["count"], 0);
        assert_eq!(nothing["max_criticality"], Value::Null);
        assert_eq!(nothing["items"], json!([]));
    }
);

backend_test!(pages_cap_the_list_and_keep_the_totals, |app| async move {
    estate(&app).await;
    let first = impact(&app, "host-1/impact?limit=2").await;
    assert_eq!(first["count"], 3);
    assert_eq!(names(&first), ["shop", "orders-app"]);
    assert_eq!(first["next_offset"], 2);
    let rest = impact(&app, "host-1/impact?limit=2&offset=2").await;
    assert_eq!(names(&rest), ["vm-1"]);
    assert_eq!(rest["next_offset"], Value::Null);
    // The list convention's cursor walks the same pages.
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a next_cursor")
        .to_owned();
    let by_cursor = impact(&app, &format!("host-1/impact?limit=2&cursor={cursor}")).await;
    assert_eq!(names(&by_cursor), ["vm-1"]);
    assert_eq!(by_cursor["next_cursor"], Value::Null);
    assert_eq!(
        impact(
            &app,
            &format!("host-1/impact?limit=2&cursor={cursor}&offset=2")
        )
        .await["items"],
        by_cursor["items"]
    );
    app.get(
        &format!("/api/cis/host-1/impact?cursor={cursor}&offset=1"),
        "vic",
    )
    .await
    .problem(StatusCode::BAD_REQUEST, "bad_cursor");
    app.get("/api/cis/host-1/impact?cursor=nonsense", "vic")
        .await
        .problem(StatusCode::BAD_REQUEST, "bad_cursor");
    let summary = impact(&app, "host-1/impact?limit=0").await;
    assert_eq!(summary["count"], 3);
    assert_eq!(summary["items"], json!([]));

    app.get("/api/cis/host-1/impact?limit=1001", "vic")
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    app.get("/api/cis/host-1/impact?depth=-1", "vic")
        .await
        .problem(StatusCode::BAD_REQUEST, "bad_query");
    app.get("/api/cis/no-such-ci/impact", "vic")
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
});

backend_test!(
    impact_follows_api_writes_when_they_return,
    |app| async move {
        estate(&app).await;
        assert_eq!(impact(&app, "host-1/impact").await["count"], 3);

        // A cycle back to the host changes nothing and terminates.
        let cycle = depends(&app, "host-1", "shop", "depends_on").await;
        assert_eq!(impact(&app, "host-1/impact").await["count"], 3);
        // The database's recursive query agrees, cycle and depth limit included.
        for (root, depth, expected) in [
            ("host-1", None, 3),
            ("host-1", Some(2), 2),
            ("shop", None, 3),
        ] {
            let roots = [root.to_owned()];
            let by_sql = app
                .store
                .blast_radius_count_sql(&roots, depth)
                .await
                .expect("count");
            assert_eq!(by_sql, expected, "{root} to depth {depth:?}");
        }
        app.call(Method::DELETE, &format!("/api/relationships/{cycle}"))
            .by("admin")
            .send()
            .await
            .expect(StatusCode::NO_CONTENT);

        // A new dependent is impacted as soon as its relationship exists.
        add_ci(&app, "reports-app", "application", "medium").await;
        let rel = depends(&app, "reports-app", "vm-1", "runs_on").await;
        let report = impact(&app, "host-1/impact").await;
        assert_eq!(report["count"], 4);
        assert!(names(&report).contains(&"reports-app"));

        // A second relationship of another type keeps the dependency when
        // the first goes.
        let second = depends(&app, "reports-app", "vm-1", "uses").await;
        app.call(Method::DELETE, &format!("/api/relationships/{rel}"))
            .by("admin")
            .send()
            .await
            .expect(StatusCode::NO_CONTENT);
        assert_eq!(impact(&app, "host-1/impact").await["count"], 4);
        app.call(Method::DELETE, &format!("/api/relationships/{second}"))
            .by("admin")
            .send()
            .await
            .expect(StatusCode::NO_CONTENT);
        assert_eq!(impact(&app, "host-1/impact").await["count"], 3);

        // Criticality edits show in the report.
        app.patch("/api/cis/shop", "admin", json!({"criticality": "low"}))
            .await
            .expect(StatusCode::OK);
        assert_eq!(
            impact(&app, "host-1/impact").await["max_criticality"],
            "high"
        );

        // A deleted CI leaves every blast radius, in both directions.
        app.call(Method::DELETE, "/api/cis/vm-1")
            .by("admin")
            .send()
            .await
            .expect(StatusCode::NO_CONTENT);
        assert_eq!(impact(&app, "host-1/impact").await["count"], 0);
        app.get("/api/cis/vm-1/impact", "vic")
            .await
            .problem(StatusCode::NOT_FOUND, "not_found");
    }
);

backend_test!(
    a_second_instance_sees_the_first_instances_writes,
    |app| async move {
        let other = app.second_instance().await;
        assert_eq!(impact(&other, "orders-db-prod/impact").await["count"], 1);

        estate(&app).await;
        let report = impact(&other, "host-1/impact").await;
        assert_eq!(report["count"], 3);
        assert_eq!(names(&report), ["shop", "orders-app", "vm-1"]);

        // …and the other way round, deletions included.
        app.get("/api/cis/vm-1/impact", "vic")
            .await
            .expect(StatusCode::OK);
        other
            .call(Method::DELETE, "/api/cis/vm-1")
            .by("admin")
            .send()
            .await
            .expect(StatusCode::NO_CONTENT);
        assert_eq!(impact(&app, "host-1/impact").await["count"], 0);
        assert_eq!(impact(&app, "orders-db-prod/impact").await["count"], 2);
        other.store.close().await;
    }
);

backend_test!(
    a_change_reports_the_blast_radius_of_its_cis,
    |app| async move {
        estate(&app).await;
        let number = app
            .create(
                "alice",
                with(
                    normal_draft(),
                    json!({"affected_cis": ["vm-1", "orders-db-prod"]}),
                ),
            )
            .await;
        let report = app
            .get(&format!("/api/changes/{number}/impact"), "vic")
            .await
            .expect(StatusCode::OK);
        assert_eq!(report["number"], number);
        assert_eq!(report["root"], json!(["vm-1", "orders-db-prod"]));
        assert_eq!(report["count"], 2);
        assert_eq!(names(&report), ["shop", "orders-app"]);
        assert_eq!(report["missing"], json!([]));
        assert_eq!(report["items"][1]["depth"], 1);
        assert_eq!(report["next_cursor"], Value::Null);
        let first = app
            .get(&format!("/api/changes/{number}/impact?limit=1"), "vic")
            .await
            .expect(StatusCode::OK);
        assert_eq!(names(&first), ["shop"]);
        let cursor = first["next_cursor"].as_str().expect("a next_cursor");
        let rest = app
            .get(
                &format!("/api/changes/{number}/impact?limit=1&cursor={cursor}"),
                "vic",
            )
            .await
            .expect(StatusCode::OK);
        assert_eq!(names(&rest), ["orders-app"]);
        assert_eq!(rest["next_cursor"], Value::Null);

        app.get("/api/changes/CHG9999999/impact", "vic")
            .await
            .problem(StatusCode::NOT_FOUND, "not_found");
        app.call(Method::GET, &format!("/api/changes/{number}/impact"))
            .send()
            .await
            .problem(StatusCode::UNAUTHORIZED, "unauthorized");
    }
);

async fn import_csv(app: &TestApp, body: String) -> Value {
    app.call(Method::POST, "/api/cmdb/import")
        .by("admin")
        .header(axum::http::header::CONTENT_TYPE, "text/csv")
        .raw(body)
        .send()
        .await
        .expect(StatusCode::OK)
}

backend_test!(
    imports_reach_the_index_small_ones_entry_by_entry_bulk_ones_by_rebuild,
    |app| async move {
        estate(&app).await;
        let other = app.second_instance().await;

        // A small import: logged entry by entry.
        let cis = "name,class,criticality\nbatch-1,application,high\nbatch-2,application,low\n";
        import_csv(&app, cis.to_owned()).await;
        let rels = "from,to,type\nbatch-1,vm-1,runs_on\nbatch-2,batch-1,uses\n";
        import_csv(&app, rels.to_owned()).await;
        let report = impact(&app, "host-1/impact").await;
        assert_eq!(report["count"], 5);
        assert_eq!(report["max_depth_reached"], 3);
        assert_eq!(impact(&other, "host-1/impact").await["count"], 5);

        // A bulk import (over 10,000 rows changed) logs one reload: both
        // instances rebuild from the database and see every row.
        let leaves = 10_500;
        let mut cis = String::from("name,class,criticality\n");
        let mut rels = String::from("from,to,type\n");
        for i in 0..leaves {
            cis.push_str(&format!("leaf-{i:05},virtual_machine,low\n"));
            rels.push_str(&format!("leaf-{i:05},host-1,hosted_on\n"));
        }
        import_csv(&app, cis).await;
        import_csv(&app, rels).await;
        let logged = app.store.cmdb_changes_since(0, 100_000).await.expect("log");
        assert!(
            logged
                .iter()
                .any(|(_, c)| *c == stackflow_core::impact::CmdbChange::Reload),
            "a bulk import logs a reload"
        );
        for instance in [&app, &other] {
            let report = impact(instance, "host-1/impact?limit=1").await;
            assert_eq!(report["count"], 5 + leaves);
            assert_eq!(report["by_class"]["virtual_machine"], 1 + leaves);
            assert_eq!(report["next_offset"], 1);
        }
        other.store.close().await;
    }
);

backend_test!(
    an_instance_behind_a_pruned_change_log_rebuilds_its_index,
    |app| async move {
        estate(&app).await;
        let other = app.second_instance().await;
        assert_eq!(impact(&other, "host-1/impact").await["count"], 3);

        // The first instance writes on; then the log is pruned past what
        // the second instance has applied (it has not polled meanwhile).
        app.clock.advance(chrono::Duration::days(8));
        add_ci(&app, "batch-app", "application", "high").await;
        depends(&app, "batch-app", "vm-1", "runs_on").await;
        let cutoff = app.now() + chrono::Duration::seconds(1);
        let pruned = app.store.prune_cmdb_log(cutoff).await.expect("prune");
        assert!(pruned >= 8, "pruned {pruned}");
        let read = app.store.cmdb_changes_since(0, 10).await.expect("read");
        assert_eq!(
            read.iter().map(|(_, c)| c.clone()).collect::<Vec<_>>(),
            [stackflow_core::impact::CmdbChange::Reload],
            "a reader behind the horizon is told to rebuild"
        );

        // The second instance cannot replay what is gone: it rebuilds.
        let report = impact(&other, "host-1/impact").await;
        assert_eq!(report["count"], 4);
        assert!(names(&report).contains(&"batch-app"));
        // Pruning again finds nothing more to delete.
        assert_eq!(app.store.prune_cmdb_log(cutoff).await.expect("prune"), 0);
        other.store.close().await;
    }
);
