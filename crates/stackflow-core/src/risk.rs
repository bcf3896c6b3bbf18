//! The automated risk assessment of a change: pure scoring over plain
//! inputs that the shell gathers (the CIs and their blast radius from the
//! impact index, the windows and calendar, the assignment group's history,
//! the conflicts found).
//!
//! Each factor earns a fraction (0 to 1) of its weight; its contribution is
//! that fraction of the weight, rounded, and the score is the sum of the
//! contributions, so a reviewer can always see where every point came from.
//! The weights add up to at most 100, which keeps the score in 0–100
//! without clamping (clamping would break the sum). Levels follow the
//! policy's thresholds. See `docs/risk.md`.

use crate::enums::{ChangeType, Criticality};
use crate::errors::{FieldError, Refusal};
use crate::windows::WindowFit;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// How risky a change is, by the policy's thresholds on its score.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub enum RiskLevel {
    /// Below the moderate threshold.
    Low,
    /// From the moderate threshold.
    Moderate,
    /// From the high threshold.
    High,
    /// From the critical threshold.
    Critical,
}

impl RiskLevel {
    /// The wire name (`Low`, `Moderate`, `High`, `Critical`).
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Low => "Low",
            RiskLevel::Moderate => "Moderate",
            RiskLevel::High => "High",
            RiskLevel::Critical => "Critical",
        }
    }
}

impl fmt::Display for RiskLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The most points each factor can add. They must add up to at most 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RiskWeights {
    /// The most critical CI among the affected CIs and their blast radius.
    pub affected_ci_criticality: u8,
    /// How many CIs depend on the affected CIs.
    pub blast_radius_cis: u8,
    /// Blackout, business hours, outside business hours, maintenance window.
    pub change_window: u8,
    /// The assignment group's failure rate over the last 30 days.
    pub group_success_rate: u8,
    /// Failed changes on the same CIs or template over the last 90 days.
    pub similar_change_failures: u8,
    /// Emergency changes skip the usual scrutiny.
    pub change_type: u8,
    /// Other changes planned at the same time on related CIs.
    pub conflicts: u8,
}

impl Default for RiskWeights {
    fn default() -> Self {
        RiskWeights {
            affected_ci_criticality: 25,
            blast_radius_cis: 15,
            change_window: 20,
            group_success_rate: 10,
            similar_change_failures: 10,
            change_type: 10,
            conflicts: 10,
        }
    }
}

impl RiskWeights {
    fn total(&self) -> u32 {
        [
            self.affected_ci_criticality,
            self.blast_radius_cis,
            self.change_window,
            self.group_success_rate,
            self.similar_change_failures,
            self.change_type,
            self.conflicts,
        ]
        .iter()
        .map(|&w| u32::from(w))
        .sum()
    }
}

/// The scores at which each level starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RiskThresholds {
    /// `Moderate` from this score (default 30).
    pub moderate: u8,
    /// `High` from this score (default 60).
    pub high: u8,
    /// `Critical` from this score (default 85).
    pub critical: u8,
}

impl Default for RiskThresholds {
    fn default() -> Self {
        RiskThresholds {
            moderate: 30,
            high: 60,
            critical: 85,
        }
    }
}

/// Everything tunable about scoring, in one place: the `[risk]` section of
/// the configuration file (see `docs/risk.md`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RiskPolicy {
    /// Points per factor.
    pub weights: RiskWeights,
    /// Level thresholds.
    pub thresholds: RiskThresholds,
    /// A blast radius of this many CIs or more earns the factor's full
    /// weight; smaller ones earn a logarithmic share (default 1,000).
    pub blast_radius_saturation: u64,
    /// A success rate at or below this percentage earns the factor's full
    /// weight; 100% earns nothing, linearly between (default 75).
    pub success_rate_floor_percent: u8,
    /// Failed similar changes that earn the factor's full weight (default 2).
    pub failures_for_full_weight: u32,
    /// Conflicts that earn the factor's full weight (default 2).
    pub conflicts_for_full_weight: u32,
    /// A blast radius at least this large on a high or critical CI
    /// recommends a Blue/Green deployment (default 10).
    pub blue_green_blast_radius: u64,
}

impl Default for RiskPolicy {
    fn default() -> Self {
        RiskPolicy {
            weights: RiskWeights::default(),
            thresholds: RiskThresholds::default(),
            blast_radius_saturation: 1_000,
            success_rate_floor_percent: 75,
            failures_for_full_weight: 2,
            conflicts_for_full_weight: 2,
            blue_green_blast_radius: 10,
        }
    }
}

impl RiskPolicy {
    /// Refuses a policy whose weights exceed 100 points or whose thresholds
    /// are not increasing within 1–100, naming each bad field.
    pub fn validate(&self) -> Result<(), Refusal> {
        let mut errors = Vec::new();
        let total = self.weights.total();
        if total > 100 {
            errors.push(FieldError::new(
                "risk.weights",
                format!("the weights add up to {total}; they may add up to at most 100"),
            ));
        }
        let t = self.thresholds;
        if !(1 <= t.moderate && t.moderate < t.high && t.high < t.critical && t.critical <= 100) {
            errors.push(FieldError::new(
                "risk.thresholds",
                format!(
                    "need 1 <= moderate < high < critical <= 100, got {} / {} / {}",
                    t.moderate, t.high, t.critical
                ),
            ));
        }
        if self.blast_radius_saturation == 0 {
            errors.push(FieldError::new(
                "risk.blast_radius_saturation",
                "must be at least 1",
            ));
        }
        if self.success_rate_floor_percent >= 100 {
            errors.push(FieldError::new(
                "risk.success_rate_floor_percent",
                "must be below 100",
            ));
        }
        if self.failures_for_full_weight == 0 {
            errors.push(FieldError::new(
                "risk.failures_for_full_weight",
                "must be at least 1",
            ));
        }
        if self.conflicts_for_full_weight == 0 {
            errors.push(FieldError::new(
                "risk.conflicts_for_full_weight",
                "must be at least 1",
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Refusal::Invalid(errors))
        }
    }

    /// The level a score falls in.
    pub fn level(&self, score: u8) -> RiskLevel {
        let t = self.thresholds;
        if score >= t.critical {
            RiskLevel::Critical
        } else if score >= t.high {
            RiskLevel::High
        } else if score >= t.moderate {
            RiskLevel::Moderate
        } else {
            RiskLevel::Low
        }
    }
}

/// A configuration item as scoring sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiFacts {
    /// Its name.
    pub name: String,
    /// Its class.
    pub class: String,
    /// Its criticality.
    pub criticality: Criticality,
}

/// The assignment group's closed changes over the last 30 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupHistory {
    /// Closed with any outcome but `canceled`.
    pub closed: u32,
    /// Of those, closed `successful` or `successful_with_issues`.
    pub successful: u32,
}

/// Everything the score depends on, gathered by the shell.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskInputs {
    /// The change's type.
    pub change_type: ChangeType,
    /// The most critical affected CI (first named wins ties).
    pub most_critical_affected: Option<CiFacts>,
    /// The most critical CI in the blast radius.
    pub most_critical_dependent: Option<CiFacts>,
    /// How many CIs depend on the affected CIs.
    pub blast_radius_cis: u64,
    /// Where the planned window falls.
    pub window: WindowFit,
    /// The assignment group's record; `None` without an assignment group.
    pub group_history: Option<GroupHistory>,
    /// Unsuccessful changes on the same CIs or template, last 90 days.
    pub similar_change_failures: u32,
    /// Conflicting changes and blackout windows found for the window.
    pub conflicts: u32,
}

/// What each factor looked like, in words and numbers. The first five keys
/// are the seed's, spelled as it spells them, and always there; the two
/// others are left out while they add nothing (a normal change, no
/// conflicts), so the usual assessment has exactly the seed's keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RiskFactors {
    /// E.g. `Critical (orders-db-prod, database)`.
    pub affected_ci_criticality: String,
    /// CIs in the blast radius.
    pub blast_radius_cis: u64,
    /// E.g. `Business hours (not recommended for High risk)`.
    pub change_window: String,
    /// E.g. `94% (last 30 days)`.
    pub group_success_rate: String,
    /// Failed similar changes in the last 90 days.
    pub similar_change_failures: u32,
    /// `Emergency`; left out for a normal change.
    #[serde(
        default = "normal_change_type",
        skip_serializing_if = "is_normal_change_type"
    )]
    #[schema(required = false)]
    pub change_type: String,
    /// Conflicting changes and blackout windows; left out when none.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    #[schema(required = false)]
    pub conflicts: u32,
}

/// What a factor list without `change_type` stands for.
fn normal_change_type() -> String {
    NORMAL_CHANGE_TYPE.to_owned()
}

/// `change_type` of a normal change, in words.
const NORMAL_CHANGE_TYPE: &str = "Normal";

fn is_normal_change_type(change_type: &str) -> bool {
    change_type == NORMAL_CHANGE_TYPE
}

fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

fn is_zero_u8(n: &u8) -> bool {
    *n == 0
}

/// Points each factor added; they sum to the score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RiskContributions {
    /// Points for criticality.
    pub affected_ci_criticality: u8,
    /// Points for blast radius size.
    pub blast_radius_cis: u8,
    /// Points for the window.
    pub change_window: u8,
    /// Points for the group's record.
    pub group_success_rate: u8,
    /// Points for similar failures.
    pub similar_change_failures: u8,
    /// Points for the change type; left out when none.
    #[serde(default, skip_serializing_if = "is_zero_u8")]
    #[schema(required = false)]
    pub change_type: u8,
    /// Points for conflicts; left out when none.
    #[serde(default, skip_serializing_if = "is_zero_u8")]
    #[schema(required = false)]
    pub conflicts: u8,
}

impl RiskContributions {
    /// The score: every contribution added up.
    pub fn total(&self) -> u8 {
        self.affected_ci_criticality
            + self.blast_radius_cis
            + self.change_window
            + self.group_success_rate
            + self.similar_change_failures
            + self.change_type
            + self.conflicts
    }
}

/// The seed's `risk_assessment`, with `contributions` and `assessed_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RiskAssessment {
    /// 0–100.
    pub automated_score: u8,
    /// By the policy's thresholds.
    pub risk_level: RiskLevel,
    /// Each factor as found.
    pub factors: RiskFactors,
    /// Each factor's points.
    pub contributions: RiskContributions,
    /// Advice written from the factors that drove the score.
    pub recommendation: String,
    /// When it was computed.
    pub assessed_at: DateTime<Utc>,
}

impl RiskAssessment {
    /// Whether two assessments say the same thing, whenever they were made.
    pub fn same_finding(&self, other: &RiskAssessment) -> bool {
        self.automated_score == other.automated_score
            && self.risk_level == other.risk_level
            && self.factors == other.factors
            && self.contributions == other.contributions
            && self.recommendation == other.recommendation
    }
}

/// Scores a change. Pure: the same inputs and policy give the same result.
pub fn assess(inputs: &RiskInputs, policy: &RiskPolicy, now: DateTime<Utc>) -> RiskAssessment {
    let w = policy.weights;
    let worst = most_critical(inputs);
    let contributions = RiskContributions {
        affected_ci_criticality: points(
            w.affected_ci_criticality,
            worst.map_or(0.0, |(ci, _)| criticality_share(ci.criticality)),
        ),
        blast_radius_cis: points(
            w.blast_radius_cis,
            blast_radius_share(inputs.blast_radius_cis, policy.blast_radius_saturation),
        ),
        change_window: points(w.change_window, window_share(&inputs.window)),
        group_success_rate: points(
            w.group_success_rate,
            group_share(inputs.group_history, policy.success_rate_floor_percent),
        ),
        similar_change_failures: points(
            w.similar_change_failures,
            count_share(
                inputs.similar_change_failures,
                policy.failures_for_full_weight,
            ),
        ),
        change_type: points(
            w.change_type,
            if inputs.change_type == ChangeType::Emergency {
                1.0
            } else {
                0.0
            },
        ),
        conflicts: points(
            w.conflicts,
            count_share(inputs.conflicts, policy.conflicts_for_full_weight),
        ),
    };
    let score = contributions.total();
    let level = policy.level(score);
    RiskAssessment {
        automated_score: score,
        risk_level: level,
        factors: RiskFactors {
            affected_ci_criticality: describe_criticality(worst),
            blast_radius_cis: inputs.blast_radius_cis,
            change_window: describe_window(&inputs.window, level),
            group_success_rate: describe_group(inputs.group_history),
            similar_change_failures: inputs.similar_change_failures,
            change_type: match inputs.change_type {
                ChangeType::Emergency => "Emergency",
                ChangeType::Normal => NORMAL_CHANGE_TYPE,
                ChangeType::Standard => "Standard",
            }
            .to_owned(),
            conflicts: inputs.conflicts,
        },
        contributions,
        recommendation: recommend(inputs, policy, &contributions, worst),
        assessed_at: now,
    }
}

/// The most critical CI of the change: an affected one, or one in its
/// blast radius (`true`) when that is strictly more critical.
fn most_critical(inputs: &RiskInputs) -> Option<(&CiFacts, bool)> {
    match (
        &inputs.most_critical_affected,
        &inputs.most_critical_dependent,
    ) {
        (Some(a), Some(d)) if d.criticality > a.criticality => Some((d, true)),
        (Some(a), _) => Some((a, false)),
        (None, Some(d)) => Some((d, true)),
        (None, None) => None,
    }
}

fn points(weight: u8, share: f64) -> u8 {
    // The share is clamped, so the result never exceeds the weight.
    (f64::from(weight) * share.clamp(0.0, 1.0)).round() as u8
}

fn criticality_share(criticality: Criticality) -> f64 {
    match criticality {
        Criticality::Critical => 1.0,
        Criticality::High => 0.7,
        Criticality::Medium => 0.35,
        Criticality::Low => 0.1,
    }
}

/// Logarithmic: the first dependents matter most; `saturation` or more
/// earns the full weight.
fn blast_radius_share(count: u64, saturation: u64) -> f64 {
    ((count as f64).ln_1p() / (saturation as f64).ln_1p()).min(1.0)
}

fn window_share(window: &WindowFit) -> f64 {
    match window {
        WindowFit::Maintenance { .. } => 0.0,
        WindowFit::OutsideBusinessHours => 0.4,
        WindowFit::BusinessHours | WindowFit::Unplanned => 0.75,
        WindowFit::Blackout { .. } => 1.0,
    }
}

/// No record at all is treated as halfway: unknown is neither good nor bad.
fn group_share(history: Option<GroupHistory>, floor_percent: u8) -> f64 {
    match history {
        Some(h) if h.closed > 0 => {
            let failure = 1.0 - f64::from(h.successful) / f64::from(h.closed);
            failure / (1.0 - f64::from(floor_percent) / 100.0)
        }
        _ => 0.5,
    }
}

fn count_share(count: u32, for_full_weight: u32) -> f64 {
    f64::from(count) / f64::from(for_full_weight.max(1))
}

fn capitalised(criticality: Criticality) -> &'static str {
    match criticality {
        Criticality::Critical => "Critical",
        Criticality::High => "High",
        Criticality::Medium => "Medium",
        Criticality::Low => "Low",
    }
}

fn describe_criticality(worst: Option<(&CiFacts, bool)>) -> String {
    match worst {
        None => "None (no affected CIs)".to_owned(),
        Some((ci, false)) => format!(
            "{} ({}, {})",
            capitalised(ci.criticality),
            ci.name,
            ci.class
        ),
        Some((ci, true)) => format!(
            "{} ({}, {}, in blast radius)",
            capitalised(ci.criticality),
            ci.name,
            ci.class
        ),
    }
}

fn describe_window(window: &WindowFit, level: RiskLevel) -> String {
    match window {
        WindowFit::Maintenance { window } => format!("Maintenance window ({window})"),
        WindowFit::Blackout { window } => format!("Blackout window ({window})"),
        WindowFit::OutsideBusinessHours => "Outside business hours".to_owned(),
        WindowFit::BusinessHours if level >= RiskLevel::High => {
            format!("Business hours (not recommended for {level} risk)")
        }
        WindowFit::BusinessHours => "Business hours".to_owned(),
        WindowFit::Unplanned => "No planned window".to_owned(),
    }
}

/// The rate, rounded down so that a group with one failure never shows 100%.
fn success_percent(h: GroupHistory) -> u32 {
    h.successful * 100 / h.closed
}

fn describe_group(history: Option<GroupHistory>) -> String {
    match history {
        None => "No assignment group".to_owned(),
        Some(h) if h.closed == 0 => "No closed changes (last 30 days)".to_owned(),
        Some(h) => format!("{}% (last 30 days)", success_percent(h)),
    }
}

/// Advice from the factors that added points, most pressing first.
fn recommend(
    inputs: &RiskInputs,
    policy: &RiskPolicy,
    points: &RiskContributions,
    worst: Option<(&CiFacts, bool)>,
) -> String {
    let mut advice: Vec<String> = Vec::new();
    match &inputs.window {
        WindowFit::Blackout { window } => advice.push(format!(
            "Move the change out of the blackout window ({window})."
        )),
        WindowFit::Maintenance { .. } => {}
        WindowFit::Unplanned => advice.push("Plan the change window.".to_owned()),
        _ => {}
    }
    if points.change_window > 0 && !matches!(inputs.window, WindowFit::Maintenance { .. }) {
        advice.push("Schedule during maintenance window.".to_owned());
    }
    if let Some((ci, _)) = worst
        && ci.criticality >= Criticality::High
        && inputs.blast_radius_cis >= policy.blue_green_blast_radius
    {
        advice.push("Consider Blue/Green deployment.".to_owned());
    }
    if let Some(h) = inputs.group_history
        && h.closed > 0
        && 2 * u32::from(points.group_success_rate) >= u32::from(policy.weights.group_success_rate)
        && points.group_success_rate > 0
    {
        advice.push(format!(
            "Have the implementation plan peer reviewed: the assignment group's success rate is {}% over the last 30 days.",
            success_percent(h)
        ));
    }
    if inputs.similar_change_failures > 0 {
        advice.push(format!(
            "Review the {} similar change(s) that failed in the last 90 days and their lessons learned.",
            inputs.similar_change_failures
        ));
    }
    if inputs.conflicts > 0 {
        advice.push(format!(
            "Resolve the {} schedule conflict(s) before approval.",
            inputs.conflicts
        ));
    }
    if advice.is_empty() {
        "No additional precautions: proceed with the implementation and backout plans.".to_owned()
    } else {
        advice.join(" ")
    }
}
