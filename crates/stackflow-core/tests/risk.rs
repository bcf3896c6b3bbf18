//! The risk engine: each factor on its own moves the score the right way,
//! contributions always sum to the score, levels follow the thresholds, and
//! the recommendation follows the factors that drove the score.

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use stackflow_core::risk::{
    CiFacts, GroupHistory, RiskInputs, RiskLevel, RiskPolicy, RiskThresholds, RiskWeights, assess,
};
use stackflow_core::windows::WindowFit;
use stackflow_core::{ChangeType, Criticality};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, 0).unwrap()
}

fn ci(name: &str, class: &str, criticality: Criticality) -> CiFacts {
    CiFacts {
        name: name.into(),
        class: class.into(),
        criticality,
    }
}

/// A quiet change: low criticality, nothing depends on it, in a
/// maintenance window, a group that never fails, no history, no conflicts.
fn quiet() -> RiskInputs {
    RiskInputs {
        change_type: ChangeType::Normal,
        most_critical_affected: Some(ci("print-01", "server", Criticality::Low)),
        most_critical_dependent: None,
        blast_radius_cis: 0,
        window: WindowFit::Maintenance {
            window: "Sunday night".into(),
        },
        group_history: Some(GroupHistory {
            closed: 20,
            successful: 20,
        }),
        similar_change_failures: 0,
        conflicts: 0,
    }
}

fn score(inputs: &RiskInputs) -> u8 {
    assess(inputs, &RiskPolicy::default(), now()).automated_score
}

#[test]
fn the_seed_example_reads_as_the_seed_does() {
    let inputs = RiskInputs {
        most_critical_affected: Some(ci("orders-db-prod", "database", Criticality::Critical)),
        blast_radius_cis: 23,
        window: WindowFit::BusinessHours,
        group_history: Some(GroupHistory {
            closed: 50,
            successful: 47,
        }),
        similar_change_failures: 1,
        ..quiet()
    };
    let a = assess(&inputs, &RiskPolicy::default(), now());
    assert_eq!(
        a.factors.affected_ci_criticality,
        "Critical (orders-db-prod, database)"
    );
    assert_eq!(a.factors.blast_radius_cis, 23);
    assert_eq!(a.factors.group_success_rate, "94% (last 30 days)");
    assert_eq!(a.factors.similar_change_failures, 1);
    // 25 + round(15·ln 24/ln 1001 = 6.9) + 15 + round(10·0.06/0.25 = 2.4) + 5
    assert_eq!(a.contributions.affected_ci_criticality, 25);
    assert_eq!(a.contributions.blast_radius_cis, 7);
    assert_eq!(a.contributions.change_window, 15);
    assert_eq!(a.contributions.group_success_rate, 2);
    assert_eq!(a.contributions.similar_change_failures, 5);
    assert_eq!(a.automated_score, 54);
    assert_eq!(a.risk_level, RiskLevel::Moderate);
    assert!(
        a.recommendation
            .starts_with("Schedule during maintenance window. Consider Blue/Green deployment."),
        "{}",
        a.recommendation
    );
    assert_eq!(a.assessed_at, now());
    let json = serde_json::to_value(&a).unwrap();
    for key in [
        "automated_score",
        "risk_level",
        "factors",
        "recommendation",
        "contributions",
        "assessed_at",
    ] {
        assert!(json.get(key).is_some(), "missing {key}");
    }
    assert_eq!(json["risk_level"], "Moderate");
    assert_eq!(json["assessed_at"], "2026-11-28T10:00:00Z");
}

#[test]
fn a_quiet_change_scores_zero_and_is_low() {
    let a = assess(&quiet(), &RiskPolicy::default(), now());
    // Low criticality still earns round(25 · 0.1) = 3.
    assert_eq!(a.automated_score, 3);
    assert_eq!(a.risk_level, RiskLevel::Low);
    assert_eq!(a.factors.change_window, "Maintenance window (Sunday night)");
    assert_eq!(
        a.recommendation,
        "No additional precautions: proceed with the implementation and backout plans."
    );
}

#[test]
fn criticality_raises_the_score_and_names_the_ci() {
    let mut previous = 0;
    for level in Criticality::ALL {
        let inputs = RiskInputs {
            most_critical_affected: Some(ci("db", "database", *level)),
            ..quiet()
        };
        let s = score(&inputs);
        assert!(
            s > previous || previous == 0,
            "{level}: {s} after {previous}"
        );
        previous = s;
    }
    // A more critical dependent counts, and says so.
    let inputs = RiskInputs {
        most_critical_dependent: Some(ci("checkout", "business_service", Criticality::Critical)),
        blast_radius_cis: 1,
        ..quiet()
    };
    let a = assess(&inputs, &RiskPolicy::default(), now());
    assert_eq!(a.contributions.affected_ci_criticality, 25);
    assert_eq!(
        a.factors.affected_ci_criticality,
        "Critical (checkout, business_service, in blast radius)"
    );
    let none = RiskInputs {
        most_critical_affected: None,
        ..quiet()
    };
    assert_eq!(
        assess(&none, &RiskPolicy::default(), now())
            .factors
            .affected_ci_criticality,
        "None (no affected CIs)"
    );
}

#[test]
fn a_larger_blast_radius_never_lowers_the_score() {
    let mut previous = score(&quiet());
    for count in [1, 5, 23, 100, 999, 1_000, 50_000] {
        let s = score(&RiskInputs {
            blast_radius_cis: count,
            ..quiet()
        });
        assert!(s >= previous, "{count}: {s} < {previous}");
        previous = s;
    }
    // Saturates at the configured count: the full weight, no more.
    let full = assess(
        &RiskInputs {
            blast_radius_cis: 5_000,
            ..quiet()
        },
        &RiskPolicy::default(),
        now(),
    );
    assert_eq!(full.contributions.blast_radius_cis, 15);
}

#[test]
fn the_window_orders_maintenance_outside_business_blackout() {
    let windows = [
        WindowFit::Maintenance { window: "m".into() },
        WindowFit::OutsideBusinessHours,
        WindowFit::BusinessHours,
        WindowFit::Blackout {
            window: "freeze".into(),
        },
    ];
    let scores: Vec<u8> = windows
        .iter()
        .map(|w| {
            score(&RiskInputs {
                window: w.clone(),
                ..quiet()
            })
        })
        .collect();
    assert!(scores.windows(2).all(|p| p[0] < p[1]), "{scores:?}");
    let blackout = assess(
        &RiskInputs {
            window: windows[3].clone(),
            ..quiet()
        },
        &RiskPolicy::default(),
        now(),
    );
    assert_eq!(blackout.factors.change_window, "Blackout window (freeze)");
    assert!(
        blackout
            .recommendation
            .contains("Move the change out of the blackout window (freeze).")
    );
}

#[test]
fn a_worse_group_record_raises_the_score_and_asks_for_peer_review() {
    let rate = |successful| {
        score(&RiskInputs {
            group_history: Some(GroupHistory {
                closed: 20,
                successful,
            }),
            ..quiet()
        })
    };
    assert!(rate(20) < rate(18));
    assert!(rate(18) < rate(16));
    assert_eq!(rate(15), rate(10), "at or below the floor: full weight");
    let poor = assess(
        &RiskInputs {
            group_history: Some(GroupHistory {
                closed: 10,
                successful: 7,
            }),
            ..quiet()
        },
        &RiskPolicy::default(),
        now(),
    );
    assert_eq!(poor.factors.group_success_rate, "70% (last 30 days)");
    assert!(poor.recommendation.contains("peer reviewed"));
    assert!(poor.recommendation.contains("70%"));
    // No record is neither good nor bad.
    let unknown = RiskInputs {
        group_history: Some(GroupHistory::default()),
        ..quiet()
    };
    assert_eq!(
        assess(&unknown, &RiskPolicy::default(), now())
            .factors
            .group_success_rate,
        "No closed changes (last 30 days)"
    );
    assert!(score(&unknown) > rate(20) && score(&unknown) < rate(10));
}

#[test]
fn failures_emergencies_and_conflicts_each_add_risk() {
    let base = score(&quiet());
    let failures = score(&RiskInputs {
        similar_change_failures: 1,
        ..quiet()
    });
    let more_failures = score(&RiskInputs {
        similar_change_failures: 3,
        ..quiet()
    });
    assert!(base < failures && failures < more_failures);
    let emergency = score(&RiskInputs {
        change_type: ChangeType::Emergency,
        ..quiet()
    });
    assert_eq!(emergency, base + 10);
    let conflicted = assess(
        &RiskInputs {
            conflicts: 1,
            ..quiet()
        },
        &RiskPolicy::default(),
        now(),
    );
    assert!(conflicted.automated_score > base);
    assert!(conflicted.recommendation.contains("schedule conflict"));
}

#[test]
fn levels_follow_the_thresholds() {
    let policy = RiskPolicy::default();
    assert_eq!(policy.level(0), RiskLevel::Low);
    assert_eq!(policy.level(29), RiskLevel::Low);
    assert_eq!(policy.level(30), RiskLevel::Moderate);
    assert_eq!(policy.level(59), RiskLevel::Moderate);
    assert_eq!(policy.level(60), RiskLevel::High);
    assert_eq!(policy.level(84), RiskLevel::High);
    assert_eq!(policy.level(85), RiskLevel::Critical);
    assert_eq!(policy.level(100), RiskLevel::Critical);
    let strict = RiskPolicy {
        thresholds: RiskThresholds {
            moderate: 10,
            high: 20,
            critical: 40,
        },
        ..policy
    };
    assert_eq!(strict.level(25), RiskLevel::High);
    // Business hours are "not recommended" only at High or above.
    let inputs = RiskInputs {
        window: WindowFit::BusinessHours,
        ..quiet()
    };
    let a = assess(&inputs, &strict, now());
    assert_eq!(a.risk_level, RiskLevel::Moderate);
    assert_eq!(a.factors.change_window, "Business hours");
    let worse = RiskInputs {
        change_type: ChangeType::Emergency,
        ..inputs
    };
    let b = assess(&worse, &strict, now());
    assert_eq!(b.risk_level, RiskLevel::High);
    assert_eq!(
        b.factors.change_window,
        "Business hours (not recommended for High risk)"
    );
}

#[test]
fn weights_are_the_only_source_of_points() {
    let policy = RiskPolicy {
        weights: RiskWeights {
            change_type: 0,
            ..RiskWeights::default()
        },
        ..RiskPolicy::default()
    };
    let inputs = RiskInputs {
        change_type: ChangeType::Emergency,
        ..quiet()
    };
    assert_eq!(
        assess(&inputs, &policy, now()).automated_score,
        score(&quiet())
    );
}

#[test]
fn policies_that_could_exceed_100_or_misorder_levels_are_refused() {
    assert!(RiskPolicy::default().validate().is_ok());
    let heavy = RiskPolicy {
        weights: RiskWeights {
            change_type: 11,
            ..RiskWeights::default()
        },
        ..RiskPolicy::default()
    };
    let refusal = heavy.validate().unwrap_err();
    assert!(format!("{refusal:?}").contains("risk.weights"));
    let misordered = RiskPolicy {
        thresholds: RiskThresholds {
            moderate: 60,
            high: 30,
            critical: 85,
        },
        ..RiskPolicy::default()
    };
    assert!(format!("{:?}", misordered.validate().unwrap_err()).contains("risk.thresholds"));
}

fn any_window() -> impl Strategy<Value = WindowFit> {
    prop_oneof![
        Just(WindowFit::Maintenance { window: "m".into() }),
        Just(WindowFit::BusinessHours),
        Just(WindowFit::OutsideBusinessHours),
        Just(WindowFit::Unplanned),
        Just(WindowFit::Blackout { window: "b".into() }),
    ]
}

fn any_inputs() -> impl Strategy<Value = RiskInputs> {
    (
        prop::sample::select(vec![ChangeType::Normal, ChangeType::Emergency]),
        prop::option::of(prop::sample::select(Criticality::ALL.to_vec())),
        prop::option::of(prop::sample::select(Criticality::ALL.to_vec())),
        0u64..2_000_000,
        any_window(),
        prop::option::of((0u32..200, 0u32..200)),
        0u32..10,
        0u32..10,
    )
        .prop_map(
            |(t, a, d, blast, window, history, failures, conflicts)| RiskInputs {
                change_type: t,
                most_critical_affected: a.map(|c| ci("a", "server", c)),
                most_critical_dependent: d.map(|c| ci("d", "application", c)),
                blast_radius_cis: blast,
                window,
                group_history: history.map(|(closed, ok)| GroupHistory {
                    closed,
                    successful: ok.min(closed),
                }),
                similar_change_failures: failures,
                conflicts,
            },
        )
}

proptest! {
    #[test]
    fn contributions_sum_to_the_score_within_each_weight(inputs in any_inputs()) {
        let policy = RiskPolicy::default();
        let a = assess(&inputs, &policy, now());
        let c = a.contributions;
        let w = policy.weights;
        prop_assert_eq!(c.total(), a.automated_score);
        prop_assert!(a.automated_score <= 100);
        prop_assert!(c.affected_ci_criticality <= w.affected_ci_criticality);
        prop_assert!(c.blast_radius_cis <= w.blast_radius_cis);
        prop_assert!(c.change_window <= w.change_window);
        prop_assert!(c.group_success_rate <= w.group_success_rate);
        prop_assert!(c.similar_change_failures <= w.similar_change_failures);
        prop_assert!(c.change_type <= w.change_type);
        prop_assert!(c.conflicts <= w.conflicts);
        prop_assert_eq!(a.risk_level, policy.level(a.automated_score));
        prop_assert!(!a.recommendation.is_empty());
    }

    #[test]
    fn more_of_any_count_never_lowers_the_score(inputs in any_inputs(), extra in 1u32..5) {
        let base = score(&inputs);
        let more = [
            RiskInputs { blast_radius_cis: inputs.blast_radius_cis + u64::from(extra) * 100, ..inputs.clone() },
            RiskInputs { similar_change_failures: inputs.similar_change_failures + extra, ..inputs.clone() },
            RiskInputs { conflicts: inputs.conflicts + extra, ..inputs.clone() },
        ];
        for m in &more {
            prop_assert!(score(m) >= base);
        }
    }
}
