//! Approval rounds planned from workflows, driven through
//! `lifecycle::decide`: sequential stages, parallel lanes, rejections,
//! quorums, approvers leaving mid-round, and plans frozen at submit.

use crate::{directory, stored, yaml};
use chrono::{DateTime, Duration, Utc};
use stackflow_core::business_calendar::BusinessCalendar;
use stackflow_core::lifecycle::reevaluate;
use stackflow_core::workflow::{ChangeFacts, SelectedWorkflow, Workflow};
use stackflow_core::{
    Action, Actor, ApprovalStatus, Change, ChangeDraft, ChangeNumber, ChangeState, ChangeType,
    Channel, Context, Decision, Directory, Role, Vote, decide,
};

fn t0() -> DateTime<Utc> {
    // Wednesday 2026-11-25 10:00 UTC.
    "2026-11-25T10:00:00Z".parse().unwrap()
}

/// A submitted-ready change requested by alice, assigned to `dba`.
fn new_change(change_type: ChangeType) -> Change {
    let draft = ChangeDraft {
        change_type: Some(change_type),
        planned_start: Some(t0() + Duration::days(5)),
        planned_end: Some(t0() + Duration::days(5) + Duration::hours(2)),
        affected_cis: vec!["orders-db".into()],
        title: Some("Patch orders-db".into()),
        description: Some("Replication lag".into()),
        justification: Some("Orders are delayed".into()),
        implementation_plan: Some("Patch replicas, fail over".into()),
        backout_plan: Some("Fail back".into()),
        test_plan: Some("Lag under a second".into()),
        assignment_group: Some("dba".into()),
        ..Default::default()
    };
    draft
        .into_change(ChangeNumber::new(7), "alice", None, t0())
        .expect("a valid draft")
}

/// A change with its votes, as the store keeps it.
struct Round {
    change: Change,
    votes: Vec<Vote>,
    directory: Directory,
    selected: SelectedWorkflow,
    calendar: Option<BusinessCalendar>,
}

impl Round {
    fn submitted(change_type: ChangeType, workflow: Workflow) -> Round {
        let mut facts = ChangeFacts::new(change_type, "alice");
        facts.ci_owner_groups = vec!["net".into(), "dba".into()];
        let mut round = Round {
            change: new_change(change_type),
            votes: Vec::new(),
            directory: directory(),
            selected: SelectedWorkflow { workflow, facts },
            calendar: None,
        };
        round.act("alice", Action::Submit);
        round
    }

    fn context(&self) -> Context<'_> {
        Context {
            directory: &self.directory,
            votes: &self.votes,
            pending_tasks: 0,
            channel: Channel::Api,
            now: t0(),
            workflow: Some(&self.selected),
            calendar: self.calendar.as_ref(),
            cab_schedule: None,
        }
    }

    /// Re-evaluates the open stage after the approvers changed, as the
    /// store does in the same transaction; whether it moved.
    fn reevaluate(&mut self) -> bool {
        let Some(transition) = reevaluate(&self.change, &self.context()) else {
            return false;
        };
        self.change = transition.change;
        true
    }

    fn try_act(&mut self, who: &str, action: Action) -> Result<(), stackflow_core::Refusal> {
        let ctx = Context {
            directory: &self.directory,
            votes: &self.votes,
            pending_tasks: 0,
            channel: Channel::Api,
            now: t0(),
            workflow: Some(&self.selected),
            calendar: self.calendar.as_ref(),
            cab_schedule: None,
        };
        let transition = decide(
            &self.change,
            action,
            &Actor::new(who, Role::Implementer),
            &ctx,
        )?;
        self.change = transition.change;
        self.votes.extend(transition.vote);
        Ok(())
    }

    #[track_caller]
    fn act(&mut self, who: &str, action: Action) {
        if let Err(refusal) = self.try_act(who, action) {
            panic!("{who} was refused: {refusal}");
        }
    }

    #[track_caller]
    fn vote(&mut self, who: &str, decision: Decision) {
        self.act(
            who,
            Action::Vote {
                decision,
                notes: String::new(),
            },
        );
    }

    fn at(&self) -> (ChangeState, Option<usize>, ApprovalStatus) {
        (
            self.change.state,
            self.change.approval.current_stage,
            self.change.approval.status,
        )
    }
}

const REVIEW_THEN_CAB: &str = "
name: review-then-cab
type: change_approval
match: {change_types: [normal]}
stages:
  - name: Review
    lanes:
      - {name: Network, approvers: {group: net}, rule: all}
      - {name: Owners, approvers: {ci_owners: true}, rule: {quorum: 1}}
  - name: CAB
    cab: true
    lanes: [{approvers: {users: [bob, carol, dave]}, rule: majority}]
";

/// The owners of the affected CIs (`net` and `dba`: ivan, ned, nina once
/// the requester is left out), two of them, then the CAB.
const OWNERS_THEN_CAB: &str = "
name: owners-then-cab
type: change_approval
match: {change_types: [normal]}
stages:
  - name: Review
    lanes: [{name: Owners, approvers: {ci_owners: true}, rule: {quorum: 2}}]
  - name: CAB
    cab: true
    lanes: [{approvers: {users: [bob, carol, dave]}, rule: majority}]
";

#[test]
fn stages_run_in_sequence_and_a_stage_waits_for_all_its_lanes() {
    use ChangeState::{Assess, Authorize, Scheduled};
    let mut round = Round::submitted(ChangeType::Normal, stored(yaml(REVIEW_THEN_CAB)));
    assert_eq!(round.at(), (Assess, Some(0), ApprovalStatus::Requested));
    let plan = round.change.approval.plan.as_ref().unwrap();
    assert_eq!(plan.source, "workflow review-then-cab v1");
    // Network (all of net) approves; Owners (one of ivan, ned, nina) not
    // yet: nina's and ned's approvals count in Network, one lane each.
    round.vote("nina", Decision::Approved);
    round.vote("ned", Decision::Approved);
    assert_eq!(round.at(), (Assess, Some(0), ApprovalStatus::Requested));
    round.vote("ivan", Decision::Approved);
    // Stage 0 approved: stage 1 opens in authorize.
    assert_eq!(round.at(), (Authorize, Some(1), ApprovalStatus::Requested));
    round.vote("bob", Decision::Approved);
    round.vote("carol", Decision::Approved);
    assert_eq!(round.at(), (Scheduled, None, ApprovalStatus::Approved));
}

#[test]
fn one_rejection_in_an_all_lane_rejects_the_change() {
    let mut round = Round::submitted(ChangeType::Normal, stored(yaml(REVIEW_THEN_CAB)));
    round.vote("nina", Decision::Rejected);
    assert_eq!(
        round.at(),
        (ChangeState::New, None, ApprovalStatus::Rejected)
    );
    assert_eq!(round.change.rejections[0].stage, "Review");
}

#[test]
fn a_quorum_that_can_still_be_met_survives_a_rejection() {
    let mut round = Round::submitted(ChangeType::Normal, stored(yaml(REVIEW_THEN_CAB)));
    round.vote("nina", Decision::Approved);
    round.vote("ned", Decision::Rejected);
    // Network rejected (all): the change is back to new.
    assert_eq!(round.change.state, ChangeState::New);
    let mut round = Round::submitted(ChangeType::Normal, stored(yaml(OWNERS_THEN_CAB)));
    round.vote("ned", Decision::Rejected);
    assert_eq!(round.at().1, Some(0), "2 of the 2 others can still approve");
    round.vote("nina", Decision::Approved);
    round.vote("ivan", Decision::Approved);
    assert_eq!(round.at().1, Some(1));
}

#[test]
fn an_owner_removed_from_their_group_mid_round_no_longer_counts() {
    let mut round = Round::submitted(ChangeType::Normal, stored(yaml(OWNERS_THEN_CAB)));
    round.vote("ned", Decision::Approved);
    // ned leaves `net` before the second approval: his vote stops counting.
    for group in &mut round.directory.groups {
        group.members.retain(|m| m != "ned");
    }
    round.vote("nina", Decision::Approved);
    assert_eq!(round.at().1, Some(0), "only nina's approval counts");
    round.vote("ivan", Decision::Approved);
    assert_eq!(round.at().1, Some(1));
    // And someone outside every lane may not vote at all.
    let refused = round.try_act(
        "nina",
        Action::Vote {
            decision: Decision::Approved,
            notes: String::new(),
        },
    );
    assert!(refused.is_err(), "nina is not in the CAB stage");
}

#[test]
fn the_plan_is_frozen_when_the_round_opens() {
    let mut round = Round::submitted(ChangeType::Normal, stored(yaml(REVIEW_THEN_CAB)));
    let frozen = round.change.approval.plan.clone();
    // The workflow is edited (version 2: one stage, another group) mid-round.
    let mut edited = yaml(&REVIEW_THEN_CAB.replace("group: net", "group: CAB"));
    edited.stages.truncate(1);
    round.selected.workflow = Workflow {
        version: 2,
        document: edited,
    };
    round.vote("nina", Decision::Approved);
    round.vote("ned", Decision::Approved);
    round.vote("ivan", Decision::Approved);
    assert_eq!(round.change.approval.plan, frozen);
    assert_eq!(
        round.at().0,
        ChangeState::Authorize,
        "still the old stage 1"
    );
}

#[test]
fn emergency_workflows_run_in_authorize_and_take_their_sla_from_the_calendar() {
    let ecab = "name: ecab\ntype: change_approval\nmatch: {change_types: [emergency]}\nsla: {minutes: 45}\nstages:\n  - name: ECAB\n    lanes: [{approvers: {group: ECAB}, rule: {quorum: 2}}]\n";
    let mut round = Round::submitted(ChangeType::Emergency, stored(yaml(ecab)));
    assert_eq!(round.change.state, ChangeState::Authorize);
    assert_eq!(
        round.change.approval.due_at,
        Some(t0() + Duration::minutes(45))
    );
    round.vote("bob", Decision::Approved);
    assert_eq!(round.change.state, ChangeState::Authorize);
    round.vote("carol", Decision::Approved);
    assert_eq!(round.change.state, ChangeState::Scheduled);
    // Without an SLA, with a calendar: 5 business days of that calendar.
    let mut round = Round {
        calendar: Some(BusinessCalendar::office_hours(chrono_tz::Europe::Berlin)),
        ..Round::submitted(ChangeType::Normal, stored(yaml(REVIEW_THEN_CAB)))
    };
    round.change = new_change(ChangeType::Normal);
    round.act("alice", Action::Submit);
    // Wednesday 11:00 Berlin + 5 working days = next Wednesday 11:00 Berlin.
    assert_eq!(
        round.change.approval.due_at,
        Some("2026-12-02T10:00:00Z".parse().unwrap())
    );
}

#[test]
fn a_named_approver_deactivated_mid_round_stops_counting() {
    const NAMED: &str = "
name: named
type: change_approval
match: {change_types: [normal]}
stages:
  - name: Named
    lanes: [{approvers: {users: [ivan, dave, carol]}, rule: {quorum: 2}}]
";
    let mut round = Round::submitted(ChangeType::Normal, stored(yaml(NAMED)));
    round.vote("ivan", Decision::Approved);
    // ivan is deactivated: his approval no longer counts.
    round.directory.active_users.remove("ivan");
    assert!(!round.reevaluate());
    round.vote("dave", Decision::Approved);
    assert_eq!(
        round.at(),
        (ChangeState::Authorize, Some(0), ApprovalStatus::Requested)
    );
    round.vote("carol", Decision::Approved);
    assert_eq!(round.at().0, ChangeState::Scheduled);

    // `all` does not wait for a deactivated named user: the re-evaluation
    // that follows the deactivation settles the round.
    let all = stored(yaml(&NAMED.replace(
        "[ivan, dave, carol]}, rule: {quorum: 2}",
        "[ivan, dave]}, rule: all",
    )));
    let mut round = Round::submitted(ChangeType::Normal, all);
    round.vote("dave", Decision::Approved);
    assert_eq!(round.at().0, ChangeState::Authorize);
    round.directory.active_users.remove("ivan");
    assert!(round.reevaluate());
    assert_eq!(
        round.at(),
        (ChangeState::Scheduled, None, ApprovalStatus::Approved)
    );
}

#[test]
fn an_ecab_requester_leaves_too_few_ecab_approvers_whatever_the_rule() {
    const ECAB_ALL: &str = "
name: ecab-all
type: change_approval
match: {change_types: [emergency]}
stages:
  - name: ECAB
    lanes: [{approvers: {group_of_kind: ecab}, rule: all}]
";
    // bob of the ECAB (bob, carol) requests: carol alone can never be two.
    let mut facts = ChangeFacts::new(ChangeType::Emergency, "bob");
    facts.ci_owner_groups = vec!["dba".into()];
    let mut change = new_change(ChangeType::Emergency);
    change.requested_by = "bob".into();
    let selected = SelectedWorkflow {
        workflow: stored(yaml(ECAB_ALL)),
        facts,
    };
    let directory = directory();
    let ctx = Context {
        directory: &directory,
        votes: &[],
        pending_tasks: 0,
        channel: Channel::Api,
        now: t0(),
        workflow: Some(&selected),
        calendar: None,
        cab_schedule: None,
    };
    let refused = decide(
        &change,
        Action::Submit,
        &Actor::new("bob", Role::Requester),
        &ctx,
    )
    .expect_err("one eligible ECAB approver");
    assert_eq!(crate::conflict_rule(refused), "approval_stage_unreachable");

    // alice requests, and carol leaves the ECAB mid-round: bob's approval
    // alone leaves the round open.
    let mut round = Round::submitted(ChangeType::Emergency, stored(yaml(ECAB_ALL)));
    for group in &mut round.directory.groups {
        if group.name == "ECAB" {
            group.members.retain(|m| m != "carol");
        }
    }
    round.vote("bob", Decision::Approved);
    assert_eq!(
        round.at(),
        (ChangeState::Authorize, Some(0), ApprovalStatus::Requested)
    );
    assert!(!round.reevaluate());
}

#[test]
fn one_person_in_two_lanes_approves_one_of_them() {
    // ivan is a DBA and a CI owner; the stage wants both reviews.
    const TWO_REVIEWS: &str = "
name: two-reviews
type: change_approval
match: {change_types: [normal]}
stages:
  - name: Review
    lanes:
      - {name: DBAs, approvers: {group: dba}, rule: any}
      - {name: Named, approvers: {users: [ivan, nina]}, rule: any}
";
    let mut round = Round::submitted(ChangeType::Normal, stored(yaml(TWO_REVIEWS)));
    round.vote("ivan", Decision::Approved);
    assert_eq!(
        round.at(),
        (ChangeState::Authorize, Some(0), ApprovalStatus::Requested)
    );
    round.vote("nina", Decision::Approved);
    assert_eq!(round.at().0, ChangeState::Scheduled);
}
