//! `POST /api/cmdb/import`: CSV and JSON files of CIs and relationships,
//! upserted by name, all or nothing, idempotent.

use crate::support::*;
use axum::http::{Method, StatusCode, header};
use serde_json::{Value, json};
use stackflow_core::impact::CmdbChange;
use stackflow_store::PageRequest;
use std::fmt::Write as _;

/// Posts a CSV file as `user`; `query` starts with `?` or is empty.
async fn import_csv(app: &TestApp, user: &str, query: &str, body: &str) -> Reply {
    app.call(Method::POST, &format!("/api/cmdb/import{query}"))
        .by(user)
        .header(header::CONTENT_TYPE, "text/csv")
        .raw(body.to_owned())
        .send()
        .await
}

/// Posts a JSON document as `user`.
async fn import_json(app: &TestApp, user: &str, query: &str, body: &Value) -> Reply {
    app.call(Method::POST, &format!("/api/cmdb/import{query}"))
        .by(user)
        .json(body)
        .send()
        .await
}

/// Asserts the 422 of a rejected file and returns its report.
#[track_caller]
fn rejected_report(reply: &Reply) -> Value {
    let body = reply.problem(StatusCode::UNPROCESSABLE_ENTITY, "import_rejected");
    let report = body["report"].clone();
    assert_eq!(report["applied"], false, "{report:#}");
    report
}

/// The `(line, reason)` pairs of a report's rejected rows.
fn rejections(report: &Value) -> Vec<(Value, String)> {
    report["rejected_rows"]
        .as_array()
        .expect("rejected_rows")
        .iter()
        .map(|row| {
            let reason = row["reason"].as_str().expect("reason").to_owned();
            (row["line"].clone(), reason)
        })
        .collect()
}

async fn ci_exists(app: &TestApp, name: &str) -> bool {
    app.get(&format!("/api/cis/{name}"), "vic").await.status == StatusCode::OK
}

/// The change-log entries after `after`.
async fn log_after(app: &TestApp, after: i64) -> Vec<CmdbChange> {
    app.store
        .cmdb_changes_since(after, 100_000)
        .await
        .expect("read the change log")
        .into_iter()
        .map(|(_, change)| change)
        .collect()
}

async fn log_position(app: &TestApp) -> i64 {
    app.store
        .cmdb_changes_since(0, 100_000)
        .await
        .expect("read the change log")
        .last()
        .map_or(0, |(seq, _)| *seq)
}

const SEEDED_AS_CSV: &str = "name,class,criticality,environment,owner_group,attributes\n\
    orders-db-prod,database,critical,production,dba,{}\n";

backend_test!(
    cis_are_created_updated_or_left_unchanged_and_reimporting_changes_nothing,
    |app| async move {
        let file = format!(
            "{SEEDED_AS_CSV}orders-app,application,critical,production,dba,\n\
             payments-api,application,high,,,\"{{\"\"tier\"\": 1, \"\"lang\"\": \"\"rust\"\"}}\"\n"
        );
        // Time passes between writes, as it does outside tests: the log
        // entries of an import are the rows stamped with its instant.
        app.clock.advance(chrono::Duration::seconds(1));
        let before = log_position(&app).await;
        let report = import_csv(&app, "max", "", &file)
            .await
            .expect(StatusCode::OK);
        assert_eq!(report["kind"], "cis");
        assert_eq!(report["applied"], true);
        assert_eq!(report["dry_run"], false);
        assert_eq!(
            report["cis"],
            json!({"created": 1, "updated": 1, "unchanged": 1, "rejected": 0})
        );
        assert_eq!(report["rejected_rows"], json!([]));
        let created = app
            .get("/api/cis/payments-api", "vic")
            .await
            .expect(StatusCode::OK);
        assert_eq!(created["attributes"], json!({"lang": "rust", "tier": 1}));
        assert_eq!(created["owner_group"], Value::Null);
        let updated = app
            .get("/api/cis/orders-app", "vic")
            .await
            .expect(StatusCode::OK);
        assert_eq!(updated["criticality"], "critical");
        assert_eq!(updated["attributes"], json!({}), "an empty cell is {{}}");

        // The impact index learns of the new CI and the new criticality.
        let logged = log_after(&app, before).await;
        assert_eq!(logged.len(), 2, "{logged:?}");
        assert!(
            logged
                .iter()
                .any(|c| matches!(c, CmdbChange::Ci { name, .. } if name == "payments-api"))
        );

        app.clock.advance(chrono::Duration::seconds(1));
        let again = import_csv(&app, "max", "", &file)
            .await
            .expect(StatusCode::OK);
        assert_eq!(
            again["cis"],
            json!({"created": 0, "updated": 0, "unchanged": 3, "rejected": 0})
        );
        assert_eq!(
            log_after(&app, before).await.len(),
            2,
            "nothing more logged"
        );
        let trail = app
            .store
            .audit_trail(
                "cmdb",
                "cis",
                PageRequest {
                    limit: 10,
                    after: None,
                },
            )
            .await
            .expect("audit trail");
        assert_eq!(trail.items.len(), 2, "one audit event per applied import");
        assert_eq!(trail.items[0].action, "cmdb.imported");
        assert_eq!(
            trail.items[0]
                .after
                .as_ref()
                .map(|a| a["cis"]["created"].clone()),
            Some(json!(1))
        );
    }
);

backend_test!(
    relationships_are_created_once_and_checked_against_the_cmdb,
    |app| async move {
        import_csv(
            &app,
            "admin",
            "",
            "name,class,criticality\nweb-vm,virtual_machine,medium\n",
        )
        .await
        .expect(StatusCode::OK);
        let file = "from,to,type\norders-app,orders-db-prod,uses\norders-app,web-vm,runs_on\n";
        let report = import_csv(&app, "max", "?kind=relationships", file)
            .await
            .expect(StatusCode::OK);
        assert_eq!(report["kind"], "relationships");
        assert_eq!(
            report["relationships"],
            json!({"created": 1, "unchanged": 1, "rejected": 0})
        );
        let listed = app
            .get("/api/cis/web-vm/relationships", "vic")
            .await
            .expect(StatusCode::OK);
        assert_eq!(listed["items"][0]["from"], "orders-app");
        assert_eq!(listed["items"][0]["type"], "runs_on");

        let bad = "from,to,type\n\
                   orders-app,ghost,uses\n\
                   web-vm,web-vm,runs_on\n\
                   web-vm,orders-db-prod,connects_to\n\
                   web-vm,orders-db-prod,connects_to\n\
                   web-vm,orders-db-prod,pings\n";
        let reply = import_csv(&app, "max", "", bad).await;
        let report = rejected_report(&reply);
        assert_eq!(report["relationships"]["rejected"], 4);
        let rows = rejections(&report);
        assert_eq!(rows[0], (json!(2), "no CI named `ghost`".to_owned()));
        assert_eq!(rows[1].0, json!(3));
        assert!(rows[1].1.contains("itself"), "{rows:?}");
        assert_eq!(rows[2].0, json!(5));
        assert!(rows[2].1.starts_with("duplicate of line 4"), "{rows:?}");
        assert_eq!(rows[3].0, json!(6));
        assert!(rows[3].1.contains("pings"), "{rows:?}");
        // All or nothing: line 4 was fine, and is not there.
        let listed = app
            .get("/api/cis/web-vm/relationships", "vic")
            .await
            .expect(StatusCode::OK);
        assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
    }
);

backend_test!(
    one_bad_row_and_nothing_of_the_file_is_applied,
    |app| async move {
        let file = "name,class,criticality,attributes\n\
                    good-1,server,low,\n\
                    bad-crit,server,urgent,\n\
                    short-row,server\n\
                    bad-attributes,server,low,[1]\n\
                    bad-json,server,low,{oops\n\
                    Bad Class,Server,low,\n\
                    good-2,server,low,\n\
                    good-1,server,high,\n";
        // Time passes between writes, as it does outside tests: the log
        // entries of an import are the rows stamped with its instant.
        app.clock.advance(chrono::Duration::seconds(1));
        let before = log_position(&app).await;
        let reply = import_csv(&app, "max", "", file).await;
        let report = rejected_report(&reply);
        assert_eq!(report["cis"]["rejected"], 6);
        assert_eq!(report["cis"]["created"], 2, "what applying would have done");
        assert_eq!(report["rejected_rows_truncated"], false);
        let rows = rejections(&report);
        let lines: Vec<Value> = rows.iter().map(|(line, _)| line.clone()).collect();
        assert_eq!(lines, [3, 4, 5, 6, 7, 9].map(|n| json!(n)));
        assert!(rows[0].1.contains("urgent"));
        assert!(rows[1].1.starts_with("malformed CSV row"));
        assert_eq!(rows[2].1, "attributes: must be a JSON object");
        assert!(rows[3].1.starts_with("attributes: not JSON"));
        assert!(rows[4].1.starts_with("class:"), "{rows:?}");
        assert!(rows[5].1.starts_with("duplicate of line 2"), "{rows:?}");
        assert!(reply.body["detail"].as_str().unwrap().contains("6 row(s)"));
        assert!(!ci_exists(&app, "good-1").await);
        assert!(!ci_exists(&app, "good-2").await);
        assert!(log_after(&app, before).await.is_empty());
    }
);

backend_test!(an_owner_group_must_exist, |app| async move {
    let file = "name,class,criticality,owner_group\nx-1,server,low,dba\nx-2,server,low,nobody\n";
    let reply = import_csv(&app, "max", "", file).await;
    let report = rejected_report(&reply);
    assert_eq!(
        rejections(&report),
        [(json!(3), "owner_group: no group named `nobody`".to_owned())]
    );
    assert!(!ci_exists(&app, "x-1").await);
});

backend_test!(a_dry_run_reports_and_rolls_back, |app| async move {
    let file = format!("{SEEDED_AS_CSV}new-one,server,low,,,\n");
    let report = import_csv(&app, "max", "?dry_run=true", &file)
        .await
        .expect(StatusCode::OK);
    assert_eq!(report["applied"], false);
    assert_eq!(report["dry_run"], true);
    assert_eq!(
        report["cis"],
        json!({"created": 1, "updated": 0, "unchanged": 1, "rejected": 0})
    );
    assert!(!ci_exists(&app, "new-one").await);
});

backend_test!(
    a_json_document_applies_cis_before_relationships,
    |app| async move {
        let document = json!({
            "relationships": [
                {"from": "shop", "to": "shop-db", "type": "depends_on"},
                {"from": "shop-db", "to": "orders-db-prod", "type": "connects_to"},
            ],
            "cis": [
                {"name": "shop", "class": "application", "criticality": "high",
                 "environment": "production", "owner_group": "dba", "attributes": {"team": "web"}},
                {"name": "shop-db", "class": "database", "criticality": "critical"},
            ],
        });
        let report = import_json(&app, "max", "", &document)
            .await
            .expect(StatusCode::OK);
        assert_eq!(report["kind"], "json");
        assert_eq!(report["cis"]["created"], 2);
        assert_eq!(
            report["relationships"],
            json!({"created": 2, "unchanged": 0, "rejected": 0})
        );
        let listed = app
            .get("/api/cis/shop-db/relationships", "vic")
            .await
            .expect(StatusCode::OK);
        assert_eq!(listed["items"].as_array().map(Vec::len), Some(2));

        let again = import_json(&app, "max", "", &document)
            .await
            .expect(StatusCode::OK);
        assert_eq!(again["cis"]["unchanged"], 2);
        assert_eq!(again["relationships"]["unchanged"], 2);

        let bad = json!({"cis": [{"name": "n1", "class": "server"}, {"name": "n1", "class": "server", "criticality": "low"}],
                         "relationships": [{"from": "n1", "to": "nowhere", "type": "uses"}]});
        let report = rejected_report(&import_json(&app, "max", "", &bad).await);
        let rows = rejections(&report);
        assert_eq!(rows[0].0, json!("cis[0]"));
        assert!(rows[0].1.starts_with("malformed JSON row"), "{rows:?}");
        assert_eq!(
            rows[1],
            (
                json!("relationships[0]"),
                "no CI named `nowhere`".to_owned()
            )
        );
    }
);

backend_test!(
    only_cmdb_managers_import_and_the_file_must_be_readable,
    |app| async move {
        import_csv(&app, "alice", "", SEEDED_AS_CSV)
            .await
            .problem(StatusCode::FORBIDDEN, "role_may_not_manage_cmdb");
        import_csv(&app, "vic", "", SEEDED_AS_CSV)
            .await
            .problem(StatusCode::FORBIDDEN, "role_may_not_manage_cmdb");
        // Refused before the body is looked at (or spooled to disk): even a
        // body of a type no import takes is a 403 for a viewer, not a 415.
        app.call(Method::POST, "/api/cmdb/import")
            .by("vic")
            .header(header::CONTENT_TYPE, "text/plain")
            .raw("x")
            .send()
            .await
            .problem(StatusCode::FORBIDDEN, "role_may_not_manage_cmdb");
        app.call(Method::POST, "/api/cmdb/import")
            .by("max")
            .header(header::CONTENT_TYPE, "text/plain")
            .raw("x")
            .send()
            .await
            .problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
        let fields = import_csv(&app, "max", "", "name,class,criticality,colour\n")
            .await
            .invalid_fields();
        assert_eq!(fields[0].0, "file");
        assert!(fields[0].1.contains("unknown column `colour`"));
        let fields = app
            .call(Method::POST, "/api/cmdb/import")
            .by("max")
            .header(header::CONTENT_TYPE, "application/json")
            .raw("{\"cis\": [")
            .send()
            .await
            .invalid_fields();
        assert_eq!(fields[0].0, "file");
        let doc = app
            .call(Method::GET, "/api/openapi.json")
            .send()
            .await
            .expect(StatusCode::OK);
        assert!(doc["paths"]["/api/cmdb/import"]["post"].is_object());
    }
);

backend_test!(
    a_file_of_100k_rows_imports_and_reimports_unchanged,
    |app| async move {
        let mut file = String::from("name,class,criticality,environment,owner_group\n");
        for i in 0..100_000 {
            writeln!(file, "vm-{i:06},virtual_machine,low,production,dba").unwrap();
        }
        // Time passes between writes, as it does outside tests: the log
        // entries of an import are the rows stamped with its instant.
        app.clock.advance(chrono::Duration::seconds(1));
        let before = log_position(&app).await;
        let report = import_csv(&app, "admin", "", &file)
            .await
            .expect(StatusCode::OK);
        assert_eq!(report["cis"]["created"], 100_000);
        assert_eq!(
            log_after(&app, before).await,
            [CmdbChange::Reload],
            "a bulk change asks the index to reload"
        );
        app.clock.advance(chrono::Duration::seconds(1));
        let again = import_csv(&app, "admin", "", &file)
            .await
            .expect(StatusCode::OK);
        assert_eq!(again["cis"]["unchanged"], 100_000);
        assert_eq!(log_after(&app, before).await.len(), 1);
        assert!(ci_exists(&app, "vm-099999").await);

        // 1,500 bad rows: the list stops at 1,000, the count does not.
        let mut bad = String::from("name,class,criticality\n");
        for i in 0..1_500 {
            writeln!(bad, "bad-{i},server,none").unwrap();
        }
        let report = rejected_report(&import_csv(&app, "admin", "", &bad).await);
        assert_eq!(report["cis"]["rejected"], 1_500);
        assert_eq!(
            report["rejected_rows"].as_array().map(Vec::len),
            Some(1_000)
        );
        assert_eq!(report["rejected_rows_truncated"], true);
    }
);

backend_test!(
    an_applied_import_asks_for_the_waiting_changes_to_be_reassessed,
    |app| async move {
        let waiting = app.create("alice", crate::fixtures::normal_draft()).await;
        let before = app.submit(&waiting, "alice").await["risk_assessment"].clone();
        assert_eq!(
            before["factors"]["affected_ci_criticality"],
            "Critical (orders-db-prod, database)"
        );
        let lowered = SEEDED_AS_CSV.replace(",critical,", ",low,");

        // A dry run writes nothing, so asks for nothing.
        import_csv(&app, "max", "?dry_run=true", &lowered)
            .await
            .expect(StatusCode::OK);
        assert_eq!(app.run_jobs().await, 0);

        app.clock.advance(chrono::Duration::minutes(5));
        import_csv(&app, "max", "", &lowered)
            .await
            .expect(StatusCode::OK);
        // The import returns before the reassessment: the job worker makes it.
        assert_eq!(app.change(&waiting).await["risk_assessment"], before);
        assert_eq!(app.run_jobs().await, 1);
        let after = app.change(&waiting).await["risk_assessment"].clone();
        // The most critical CI is now the one depending on it.
        assert_eq!(
            after["factors"]["affected_ci_criticality"],
            "High (orders-app, application, in blast radius)"
        );
        assert_eq!(before["automated_score"], 40);
        assert_eq!(after["automated_score"], 33, "{after}");
        assert_eq!(time_of(&after["assessed_at"]), app.now());
    }
);
