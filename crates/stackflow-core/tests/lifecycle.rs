//! Integration tests of the change state machine, [`stackflow_core::decide`].
//!
//! The first half drives random sequences of actions by random people of a
//! small, fixed organisation through `decide`, for each change type, and
//! checks after every step the rules of product.md ("Change types",
//! "Approval workflows"): the lifecycle table, segregation of duties, one
//! audit event and one version per accepted action, sensible refusals, what
//! it takes to reach `scheduled`, and that open tasks block completion. Each
//! step is also compared with a small oracle written from the specification,
//! so that `decide` neither refuses what the rules allow nor allows what they
//! refuse.
//!
//! The second half walks whole lives of each type by hand and pins the dates
//! (approval SLA, post-implementation review) to literal values.
//!
//! Nothing sleeps: every test holds its own clock and moves it explicitly.

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use stackflow_core::calendar::add_business_days;
use stackflow_core::escalation;
use stackflow_core::{
    Action, Actor, ApprovalStatus, Change, ChangeDraft, ChangeNumber, ChangePatch, ChangeState,
    ChangeType, Channel, CloseCode, Context, Decision, Directory, GroupInfo, GroupKind,
    ObjectivesMet, Refusal, Role, Template, Transition, Vote, decide,
};
use std::collections::BTreeSet;

// ---------------------------------------------------------------------------
// The organisation
// ---------------------------------------------------------------------------

/// The requester of most changes here.
const ALICE: &str = "alice";
/// Name of the CAB group.
const CAB: &str = "CAB";
/// Name of the ECAB group.
const ECAB: &str = "ECAB";
/// Name of the implementation group the changes are assigned to.
const DBA: &str = "dba";

/// Everyone who may try to act, with their role. Approval rights come from
/// group membership (see [`directory`]), never from the role, so the CAB
/// members are plain implementers; `max` is the only change manager, `vic`
/// only reads, and `olga` belongs to no group at all.
const PEOPLE: &[(&str, Role)] = &[
    ("alice", Role::Requester),
    ("bob", Role::Implementer),
    ("carol", Role::Implementer),
    ("dave", Role::Implementer),
    ("erin", Role::Implementer),
    ("ivan", Role::Implementer),
    ("max", Role::ChangeManager),
    ("vic", Role::Viewer),
    ("olga", Role::Implementer),
];

/// The actor for a person of [`PEOPLE`].
fn actor(name: &str) -> Actor {
    let (_, role) = PEOPLE
        .iter()
        .find(|(person, _)| *person == name)
        .unwrap_or_else(|| panic!("{name} is not in the organisation"));
    Actor::new(name, *role)
}

fn group(name: &str, kind: GroupKind, members: &[&str]) -> GroupInfo {
    GroupInfo {
        name: name.into(),
        kind,
        members: members.iter().map(|m| (*m).to_owned()).collect(),
    }
}

/// The CAB of four, an ECAB of two of them (ECAB members sit on the CAB too),
/// and the implementation group `dba`, to which the requester `alice` also
/// belongs — so segregation of duties has something to refuse in `assess`.
fn directory() -> Directory {
    Directory::of_groups(vec![
        group(CAB, GroupKind::Cab, &["bob", "carol", "dave", "erin"]),
        group(ECAB, GroupKind::Ecab, &["bob", "carol"]),
        group(DBA, GroupKind::Implementation, &["ivan", "alice"]),
    ])
}

// ---------------------------------------------------------------------------
// Clock and changes
// ---------------------------------------------------------------------------

fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("an RFC 3339 time")
}

/// Every test starts on Wednesday 2026-11-25 at 10:00 UTC.
fn t0() -> DateTime<Utc> {
    at("2026-11-25T10:00:00Z")
}

/// The planned window of each type: standard and normal changes run Monday
/// night, emergency ones the same afternoon.
fn window(change_type: ChangeType) -> (DateTime<Utc>, DateTime<Utc>) {
    match change_type {
        ChangeType::Emergency => (at("2026-11-25T12:00:00Z"), at("2026-11-25T14:00:00Z")),
        _ => (at("2026-11-30T22:00:00Z"), at("2026-12-01T02:00:00Z")),
    }
}

/// The active standard change template the standard changes come from.
fn template() -> Template {
    Template {
        name: "db-index-rebuild".into(),
        title: "Rebuild database indexes".into(),
        description: "Routine index maintenance".into(),
        implementation_plan: "REINDEX one replica at a time".into(),
        backout_plan: "Stop the reindex; the old index stays".into(),
        test_plan: "Query latency back to baseline".into(),
        assignment_group: Some(DBA.into()),
        active: true,
    }
}

/// A change of `change_type` raised by `requester` at `now`, built through
/// [`ChangeDraft::into_change`] as the API would, with everything submit
/// needs: standard changes from the active template, normal and emergency
/// ones with plans, window and assignment group filled in.
fn new_change(change_type: ChangeType, requester: &str, now: DateTime<Utc>) -> Change {
    let (start, end) = window(change_type);
    let mut draft = ChangeDraft {
        change_type: Some(change_type),
        planned_start: Some(start),
        planned_end: Some(end),
        affected_cis: vec!["orders-db".into()],
        ..Default::default()
    };
    let template = template();
    if change_type == ChangeType::Standard {
        draft.template = Some(template.name.clone());
    } else {
        draft.title = Some(format!("Fix orders-db ({change_type})"));
        draft.description = Some("Replication lag on orders-db".into());
        draft.justification = Some("Orders are delayed".into());
        draft.implementation_plan = Some("Apply the patch to the replicas, then fail over".into());
        draft.backout_plan = Some("Fail back to the old primary".into());
        draft.test_plan = Some("Replication lag under one second".into());
        draft.assignment_group = Some(DBA.into());
    }
    draft
        .into_change(ChangeNumber::new(456), requester, Some(&template), now)
        .expect("a valid draft")
}

// ---------------------------------------------------------------------------
// The world: a change as the store holds it
// ---------------------------------------------------------------------------

/// One change with what the store keeps beside it: every vote of every round,
/// the group directory, the open task count and the clock. Accepted
/// transitions are applied the way the store applies them: the change is
/// replaced and the vote, if any, appended.
struct World {
    change: Change,
    votes: Vec<Vote>,
    directory: Directory,
    pending_tasks: usize,
    now: DateTime<Utc>,
}

impl World {
    fn new(change_type: ChangeType, requester: &str) -> Self {
        World {
            change: new_change(change_type, requester, t0()),
            votes: Vec::new(),
            directory: directory(),
            pending_tasks: 0,
            now: t0(),
        }
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    /// The facts of this world as `decide` reads them.
    fn context(&self) -> Context<'_> {
        Context {
            directory: &self.directory,
            votes: &self.votes,
            pending_tasks: self.pending_tasks,
            channel: Channel::Api,
            now: self.now,
            workflow: None,
            calendar: None,
            cab_schedule: None,
        }
    }

    fn attempt_as(&self, actor: &Actor, action: Action) -> Result<Transition, Refusal> {
        decide(&self.change, action, actor, &self.context())
    }

    fn attempt(&self, who: &str, action: Action) -> Result<Transition, Refusal> {
        self.attempt_as(&actor(who), action)
    }

    fn apply(&mut self, transition: Transition) {
        self.change = transition.change;
        self.votes.extend(transition.vote);
    }

    /// Performs an action that must be accepted, and returns its transition.
    #[track_caller]
    fn act(&mut self, who: &str, action: Action) -> Transition {
        let transition = self
            .attempt(who, action)
            .unwrap_or_else(|refusal| panic!("{who} was refused: {refusal:?}"));
        self.apply(transition.clone());
        transition
    }

    /// Tries an action that must be refused, and returns the refusal.
    #[track_caller]
    fn refused(&self, who: &str, action: Action) -> Refusal {
        match self.attempt(who, action) {
            Ok(t) => panic!("{who} was allowed: {:?}", t.audit_action),
            Err(refusal) => refusal,
        }
    }
}

fn approve() -> Action {
    Action::Vote {
        decision: Decision::Approved,
        notes: "Risk mitigation plan looks solid.".into(),
    }
}

fn reject(notes: &str) -> Action {
    Action::Vote {
        decision: Decision::Rejected,
        notes: notes.into(),
    }
}

fn edit(patch: ChangePatch) -> Action {
    Action::Edit(Box::new(patch))
}

fn review() -> Action {
    Action::Review {
        objectives_met: ObjectivesMet::Yes,
        close_code: CloseCode::Successful,
        lessons_learned: "Announce the window earlier".into(),
    }
}

fn cancel() -> Action {
    Action::Cancel {
        reason: "Superseded by CHG0000457".into(),
    }
}

/// One of every kind of action, for checking that a final change refuses all.
fn every_action() -> Vec<Action> {
    vec![
        edit(ChangePatch {
            title: Some("Too late".into()),
            ..Default::default()
        }),
        Action::Submit,
        approve(),
        reject("no"),
        Action::Implement,
        Action::Complete,
        review(),
        cancel(),
    ]
}

#[track_caller]
fn assert_forbidden(refusal: &Refusal, rule: &str) {
    assert!(
        matches!(refusal, Refusal::Forbidden { rule: got, .. } if *got == rule),
        "expected 403 `{rule}`, got {refusal:?}"
    );
}

#[track_caller]
fn assert_conflict(refusal: &Refusal, rule: &str) {
    assert!(
        matches!(refusal, Refusal::Conflict { rule: got, .. } if *got == rule),
        "expected 409 `{rule}`, got {refusal:?}"
    );
}

#[track_caller]
fn assert_invalid(refusal: &Refusal, field: &str) {
    assert!(
        matches!(refusal, Refusal::Invalid(errors) if errors.iter().any(|e| e.field == field)),
        "expected 422 on `{field}`, got {refusal:?}"
    );
}

/// A step of a scripted happy path: who does what, and the state it reaches.
type Scripted = (&'static str, fn() -> Action, ChangeState);

/// Drives a fresh change of `change_type` by `alice` to `target` along the
/// happy path, so that tests can start from any state.
fn world_in(change_type: ChangeType, target: ChangeState) -> World {
    let mut w = World::new(change_type, ALICE);
    let path: &[Scripted] = match change_type {
        ChangeType::Standard => &[(ALICE, || Action::Submit, ChangeState::Scheduled)],
        ChangeType::Normal => &[
            (ALICE, || Action::Submit, ChangeState::Assess),
            ("ivan", approve, ChangeState::Authorize),
            ("bob", approve, ChangeState::Authorize),
            ("carol", approve, ChangeState::Authorize),
            ("dave", approve, ChangeState::Scheduled),
        ],
        ChangeType::Emergency => &[
            (ALICE, || Action::Submit, ChangeState::Authorize),
            ("bob", approve, ChangeState::Authorize),
            ("carol", approve, ChangeState::Scheduled),
        ],
    };
    let tail: &[Scripted] = &[
        ("ivan", || Action::Implement, ChangeState::Implement),
        ("ivan", || Action::Complete, ChangeState::Review),
        (ALICE, review, ChangeState::Closed),
    ];
    for (who, action, reached) in path.iter().chain(tail) {
        if w.change.state == target {
            break;
        }
        w.advance(Duration::minutes(30));
        w.act(who, action());
        assert_eq!(w.change.state, *reached, "on the way to {target}");
    }
    assert_eq!(
        w.change.state, target,
        "{change_type} never reaches {target}"
    );
    w
}

// ---------------------------------------------------------------------------
// Property tests: random steps
// ---------------------------------------------------------------------------

/// Who acts in a generated step.
#[derive(Debug, Clone, Copy)]
enum Who {
    /// Anyone of [`PEOPLE`]: mostly exercises refusals.
    Anyone(usize),
    /// Someone plausible for the action (a member of the open stage's group
    /// for a vote, the requester or the manager for an edit, …), so that
    /// random runs get past the approval stages often enough. Plausible is
    /// not always allowed: the requester sits in `dba`, people vote twice.
    Plausible(usize),
}

/// The small edits a generated step makes, valid and invalid.
#[derive(Debug, Clone, Copy)]
enum PatchKind {
    Retitle,
    BlankTitle,
    Describe,
    AssignTo(usize),
    Unassign,
    ClearGroup,
    RestoreGroup,
    ShiftWindow(i64),
    InvertWindow,
    ClearPlan,
    RestorePlan,
}

/// A generated action; turned into an [`Action`] against the change of the
/// moment.
#[derive(Debug, Clone, Copy)]
enum Act {
    Edit(PatchKind),
    Submit,
    Vote(Decision),
    Implement,
    Complete { pending: usize },
    Review(ObjectivesMet, CloseCode),
    Cancel { with_reason: bool },
}

/// What a generated step tries.
#[derive(Debug, Clone, Copy)]
enum Intent {
    /// This action, whatever the state.
    Do(Act),
    /// The next action on the happy path of the change's state (submit,
    /// approve, implement, complete, review), so that random runs get to
    /// the end of the lifecycle often enough.
    Progress,
}

/// One generated step: the clock moves on, then someone tries something.
#[derive(Debug, Clone, Copy)]
struct Step {
    who: Who,
    intent: Intent,
    minutes_later: i64,
}

fn patch_for(kind: PatchKind, change: &Change) -> ChangePatch {
    let start = change
        .planned_start
        .expect("changes here always have a window");
    let end = change
        .planned_end
        .expect("changes here always have a window");
    let mut patch = ChangePatch::default();
    match kind {
        PatchKind::Retitle => patch.title = Some("Fix orders-db, take two".into()),
        PatchKind::BlankTitle => patch.title = Some("   ".into()),
        PatchKind::Describe => patch.description = Some("Now with numbers".into()),
        PatchKind::AssignTo(i) => {
            patch.assigned_to = Some(Some(PEOPLE[i % PEOPLE.len()].0.to_owned()));
        }
        PatchKind::Unassign => patch.assigned_to = Some(None),
        PatchKind::ClearGroup => patch.assignment_group = Some(None),
        PatchKind::RestoreGroup => patch.assignment_group = Some(Some(DBA.into())),
        PatchKind::ShiftWindow(hours) => {
            patch.planned_start = Some(Some(start + Duration::hours(hours)));
            patch.planned_end = Some(Some(end + Duration::hours(hours)));
        }
        PatchKind::InvertWindow => patch.planned_end = Some(Some(start - Duration::hours(1))),
        PatchKind::ClearPlan => patch.implementation_plan = Some(String::new()),
        PatchKind::RestorePlan => patch.implementation_plan = Some("Patch, then fail over".into()),
    }
    patch
}

fn action_for(act: Act, change: &Change) -> Action {
    match act {
        Act::Edit(kind) => edit(patch_for(kind, change)),
        Act::Submit => Action::Submit,
        Act::Vote(decision) => Action::Vote {
            decision,
            notes: "generated".into(),
        },
        Act::Implement => Action::Implement,
        Act::Complete { .. } => Action::Complete,
        Act::Review(objectives_met, close_code) => Action::Review {
            objectives_met,
            close_code,
            lessons_learned: "generated".into(),
        },
        Act::Cancel { with_reason } => Action::Cancel {
            reason: if with_reason { "generated" } else { "  " }.into(),
        },
    }
}

/// The audit action names, as the audit trail spells them.
fn audit_name(act: Act) -> &'static str {
    match act {
        Act::Edit(_) => "change.edited",
        Act::Submit => "change.submitted",
        Act::Vote(_) => "change.voted",
        Act::Implement => "change.implementation_started",
        Act::Complete { .. } => "change.implementation_completed",
        Act::Review(..) => "change.reviewed",
        Act::Cancel { .. } => "change.canceled",
    }
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![
        1 => (0..PEOPLE.len()).prop_map(Who::Anyone),
        2 => (0..8usize).prop_map(Who::Plausible),
    ]
}

fn patch_kind() -> impl Strategy<Value = PatchKind> {
    prop_oneof![
        Just(PatchKind::Retitle),
        Just(PatchKind::BlankTitle),
        Just(PatchKind::Describe),
        (0..PEOPLE.len()).prop_map(PatchKind::AssignTo),
        Just(PatchKind::Unassign),
        Just(PatchKind::ClearGroup),
        Just(PatchKind::RestoreGroup),
        (-48..=48i64).prop_map(PatchKind::ShiftWindow),
        Just(PatchKind::InvertWindow),
        Just(PatchKind::ClearPlan),
        Just(PatchKind::RestorePlan),
    ]
}

fn act() -> impl Strategy<Value = Act> {
    let decision = prop_oneof![4 => Just(Decision::Approved), 1 => Just(Decision::Rejected)];
    let pending = prop_oneof![2 => Just(0usize), 1 => 1..4usize];
    let objectives = prop::sample::select(vec![
        ObjectivesMet::Yes,
        ObjectivesMet::Partially,
        ObjectivesMet::No,
    ]);
    let close_code = prop::sample::select(CloseCode::ALL.to_vec());
    prop_oneof![
        2 => patch_kind().prop_map(Act::Edit),
        2 => Just(Act::Submit),
        6 => decision.prop_map(Act::Vote),
        2 => Just(Act::Implement),
        2 => pending.prop_map(|pending| Act::Complete { pending }),
        2 => (objectives, close_code).prop_map(|(o, c)| Act::Review(o, c)),
        1 => any::<bool>().prop_map(|with_reason| Act::Cancel { with_reason }),
    ]
}

fn intent() -> impl Strategy<Value = Intent> {
    prop_oneof![
        3 => act().prop_map(Intent::Do),
        2 => Just(Intent::Progress),
    ]
}

/// Up to 30 steps, each up to 12 hours after the previous one.
fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = (who(), intent(), 0..=720i64).prop_map(|(who, intent, minutes_later)| Step {
        who,
        intent,
        minutes_later,
    });
    prop::collection::vec(step, 1..=30)
}

/// Mostly `alice`; sometimes a CAB/ECAB member (`bob`), a `dba` member
/// (`ivan`) or the change manager, so that "not counting the requester"
/// changes the numbers.
fn requester() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        6 => Just(ALICE),
        1 => Just("bob"),
        1 => Just("ivan"),
        1 => Just("max"),
    ]
}

/// The action an intent stands for given the change of the moment.
fn act_for(intent: Intent, change: &Change) -> Act {
    match (intent, change.state) {
        (Intent::Do(act), _) => act,
        (Intent::Progress, ChangeState::Assess | ChangeState::Authorize) => {
            Act::Vote(Decision::Approved)
        }
        (Intent::Progress, ChangeState::Scheduled) => Act::Implement,
        (Intent::Progress, ChangeState::Implement) => Act::Complete { pending: 0 },
        (Intent::Progress, ChangeState::Review) => {
            Act::Review(ObjectivesMet::Yes, CloseCode::Successful)
        }
        // In `new`, and to show that a final change refuses it.
        (Intent::Progress, _) => Act::Submit,
    }
}

/// The person who acts in a step given the change of the moment.
fn resolve(w: &World, who: Who, act: Act) -> Actor {
    let c = &w.change;
    let index = match who {
        Who::Anyone(i) => return actor(PEOPLE[i % PEOPLE.len()].0),
        Who::Plausible(i) => i,
    };
    let mut candidates: Vec<String> = match act {
        Act::Vote(_) => match open_stage(c) {
            Some(stage) => w.directory.members(&stage.group).to_vec(),
            None => PEOPLE.iter().map(|(p, _)| (*p).to_owned()).collect(),
        },
        Act::Edit(_) | Act::Submit | Act::Review(..) | Act::Cancel { .. } => {
            vec![c.requested_by.clone(), "max".into()]
        }
        Act::Implement | Act::Complete { .. } => {
            let mut people = vec![c.requested_by.clone(), "max".into()];
            people.extend(w.directory.members(DBA).iter().cloned());
            people.extend(c.assigned_to.clone());
            people
        }
    };
    candidates.sort();
    candidates.dedup();
    actor(&candidates[index % candidates.len()])
}

// --- The oracle, written from product.md ----------------------------------

/// A refusal as the rules name it: its HTTP class and rule (422s carry
/// field errors instead of a rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    Forbidden(&'static str),
    Conflict(&'static str),
    Invalid,
}

impl Refused {
    fn of(refusal: &Refusal) -> Self {
        match refusal {
            Refusal::Forbidden { rule, .. } => Refused::Forbidden(rule),
            Refusal::Conflict { rule, .. } => Refused::Conflict(rule),
            Refusal::Invalid(_) => Refused::Invalid,
        }
    }
}

/// What the rules say about one action: accepted into a state, or refused
/// for one of the rules it breaks (which one `decide` names first is its
/// business).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expected {
    Accept(ChangeState),
    Refuse(Vec<Refused>),
}

/// How many approvals settle a stage of the built-in policy.
#[derive(Debug, Clone, Copy)]
enum Needed {
    /// One approval approves, one rejection rejects.
    Any,
    /// More than half of the eligible approvers.
    Majority,
    /// This many distinct approvers.
    AtLeast(usize),
}

/// The approval stage open in a change's state, per the built-in policy:
/// a normal change's technical assessment by its assignment group in
/// `assess`, then the CAB by majority in `authorize`; an emergency change's
/// two distinct ECAB approvers in `authorize`.
struct OpenStage {
    index: usize,
    group: String,
    needed: Needed,
}

fn open_stage(c: &Change) -> Option<OpenStage> {
    let (index, group, needed) = match (c.change_type, c.state) {
        (ChangeType::Normal, ChangeState::Assess) => (0, c.assignment_group.clone()?, Needed::Any),
        (ChangeType::Normal, ChangeState::Authorize) => (1, CAB.to_owned(), Needed::Majority),
        (ChangeType::Emergency, ChangeState::Authorize) => (0, ECAB.to_owned(), Needed::AtLeast(2)),
        _ => return None,
    };
    Some(OpenStage {
        index,
        group,
        needed,
    })
}

/// Members of `group` who may vote on a change requested by `requester`.
fn eligible(directory: &Directory, group: &str, requester: &str) -> Vec<String> {
    directory
        .members(group)
        .iter()
        .filter(|m| *m != requester)
        .cloned()
        .collect()
}

impl Needed {
    fn count(self, eligible: usize) -> usize {
        match self {
            Needed::Any => 1,
            Needed::Majority => eligible / 2 + 1,
            Needed::AtLeast(n) => n,
        }
    }
}

/// Where a vote by `voter` leaves the change: the stage approves once enough
/// distinct eligible people approved, and rejects once a rejection makes
/// that impossible (for `any`, at the first rejection).
fn after_vote(w: &World, stage: &OpenStage, voter: &str, decision: Decision) -> ChangeState {
    let c = &w.change;
    let eligible = eligible(&w.directory, &stage.group, &c.requested_by);
    let mut approvals = BTreeSet::new();
    let mut rejections = BTreeSet::new();
    let earlier = w
        .votes
        .iter()
        .filter(|v| v.round == c.approval.round && v.stage == stage.index)
        .map(|v| (v.voter.as_str(), v.decision));
    for (who, decided) in earlier.chain([(voter, decision)]) {
        if eligible.iter().any(|e| e == who) {
            match decided {
                Decision::Approved => approvals.insert(who),
                Decision::Rejected => rejections.insert(who),
            };
        }
    }
    let needed = stage.needed.count(eligible.len());
    let undecided = eligible.len() - approvals.len() - rejections.len();
    if approvals.len() >= needed {
        match (c.change_type, stage.index) {
            (ChangeType::Normal, 0) => ChangeState::Authorize,
            _ => ChangeState::Scheduled,
        }
    } else if !rejections.is_empty()
        && (matches!(stage.needed, Needed::Any) || approvals.len() + undecided < needed)
    {
        ChangeState::New
    } else {
        c.state
    }
}

/// Whether an edit of this kind leaves a valid change: titles are required,
/// windows end after they start, and a standard change's plans are its
/// template's.
fn patch_is_valid(kind: PatchKind, change_type: ChangeType) -> bool {
    match kind {
        PatchKind::BlankTitle | PatchKind::InvertWindow => false,
        PatchKind::ClearPlan | PatchKind::RestorePlan => change_type != ChangeType::Standard,
        _ => true,
    }
}

/// What product.md says should happen when `actor` tries `act` now.
fn expected(w: &World, actor: &Actor, act: Act) -> Expected {
    use ChangeState::*;
    let c = &w.change;
    if c.state.is_terminal() {
        return Expected::Refuse(vec![Refused::Conflict("change_is_final")]);
    }
    if actor.role == Role::Viewer && !matches!(act, Act::Vote(_)) {
        return Expected::Refuse(vec![Refused::Forbidden("role_read_only")]);
    }
    let me = actor.username.as_str();
    let requester = c.requested_by.as_str();
    let owner = me == requester || actor.role == Role::ChangeManager;
    let implementer = owner
        || c.assigned_to.as_deref() == Some(me)
        || c.assignment_group
            .as_deref()
            .is_some_and(|g| w.directory.is_member(g, me));
    let mut broken = Vec::new();
    let mut need = |ok: bool, refused: Refused| {
        if !ok {
            broken.push(refused);
        }
    };
    let next = match act {
        Act::Edit(kind) => {
            need(c.state == New, Refused::Conflict("edit_only_in_new"));
            need(owner, Refused::Forbidden("edit_by_requester_or_manager"));
            need(patch_is_valid(kind, c.change_type), Refused::Invalid);
            New
        }
        Act::Submit => {
            need(c.state == New, Refused::Conflict("submit_only_when_new"));
            need(owner, Refused::Forbidden("submit_by_requester_or_manager"));
            let plans_missing =
                c.change_type != ChangeType::Standard && c.implementation_plan.trim().is_empty();
            need(
                c.assignment_group.is_some() && !plans_missing,
                Refused::Invalid,
            );
            let reachable = |group: &str, needed: Needed| {
                let n = eligible(&w.directory, group, requester).len();
                n > 0 && needed.count(n) <= n
            };
            match c.change_type {
                ChangeType::Standard => Scheduled,
                ChangeType::Normal => {
                    let group = c.assignment_group.as_deref().unwrap_or(DBA);
                    need(
                        reachable(group, Needed::Any) && reachable(CAB, Needed::Majority),
                        Refused::Conflict("approval_stage_unreachable"),
                    );
                    Assess
                }
                ChangeType::Emergency => {
                    need(
                        reachable(ECAB, Needed::AtLeast(2)),
                        Refused::Conflict("approval_stage_unreachable"),
                    );
                    Authorize
                }
            }
        }
        Act::Vote(decision) => {
            // Each check only makes sense once the previous one passed.
            let Some(stage) = open_stage(c) else {
                return Expected::Refuse(vec![Refused::Conflict("no_open_approval")]);
            };
            if me == requester {
                return Expected::Refuse(vec![Refused::Forbidden("segregation_of_duties")]);
            }
            if !eligible(&w.directory, &stage.group, requester)
                .iter()
                .any(|e| e == me)
            {
                return Expected::Refuse(vec![Refused::Forbidden("not_an_approver")]);
            }
            let voted = w
                .votes
                .iter()
                .any(|v| v.round == c.approval.round && v.stage == stage.index && v.voter == me);
            if voted {
                return Expected::Refuse(vec![Refused::Conflict("already_voted")]);
            }
            after_vote(w, &stage, me, decision)
        }
        Act::Implement => {
            need(
                c.state == Scheduled,
                Refused::Conflict("implement_only_when_scheduled"),
            );
            need(
                implementer,
                Refused::Forbidden("implementation_by_assignees"),
            );
            Implement
        }
        Act::Complete { pending } => {
            need(
                c.state == Implement,
                Refused::Conflict("complete_only_when_implementing"),
            );
            need(
                implementer,
                Refused::Forbidden("implementation_by_assignees"),
            );
            need(pending == 0, Refused::Conflict("tasks_open"));
            Review
        }
        Act::Review(_, close_code) => {
            need(
                c.state == Review,
                Refused::Conflict("review_only_after_implementation"),
            );
            need(owner, Refused::Forbidden("review_by_requester_or_manager"));
            need(close_code != CloseCode::Canceled, Refused::Invalid);
            Closed
        }
        Act::Cancel { with_reason } => {
            need(
                matches!(c.state, New | Assess | Authorize | Scheduled),
                Refused::Conflict("cancel_only_before_implementation"),
            );
            need(owner, Refused::Forbidden("cancel_by_requester_or_manager"));
            need(with_reason, Refused::Invalid);
            Canceled
        }
    };
    if broken.is_empty() {
        Expected::Accept(next)
    } else {
        Expected::Refuse(broken)
    }
}

// --- The invariants ---------------------------------------------------------

/// Whether a state lies on the path of a change type at all.
fn on_path(change_type: ChangeType, state: ChangeState) -> bool {
    match state {
        ChangeState::Assess => change_type == ChangeType::Normal,
        ChangeState::Authorize => change_type != ChangeType::Standard,
        _ => true,
    }
}

/// The lifecycle table of product.md as edges, each with the action that may
/// take it. Staying put is allowed only for an edit in `new` and for a vote
/// that does not settle its stage.
fn edge_allowed(change_type: ChangeType, from: ChangeState, to: ChangeState, act: Act) -> bool {
    use ChangeState::*;
    use ChangeType::*;
    if !on_path(change_type, from) || !on_path(change_type, to) {
        return false;
    }
    match (act, from, to) {
        (Act::Edit(_), New, New) => true,
        (Act::Vote(_), Assess, Assess) | (Act::Vote(_), Authorize, Authorize) => true,
        (Act::Submit, New, Scheduled) => change_type == Standard,
        (Act::Submit, New, Assess) => change_type == Normal,
        (Act::Submit, New, Authorize) => change_type == Emergency,
        (Act::Vote(Decision::Approved), Assess, Authorize) => true,
        (Act::Vote(Decision::Approved), Authorize, Scheduled) => true,
        (Act::Vote(Decision::Rejected), Assess | Authorize, New) => true,
        (Act::Implement, Scheduled, Implement) => true,
        (Act::Complete { .. }, Implement, Review) => true,
        (Act::Review(..), Review, Closed) => true,
        (Act::Cancel { .. }, New | Assess | Authorize | Scheduled, Canceled) => true,
        _ => false,
    }
}

/// Distinct people other than the requester, members of `group`, who
/// approved stage `stage` of the change's current round.
fn approvers<'v>(
    votes: &'v [Vote],
    change: &Change,
    directory: &Directory,
    stage: usize,
    group: &str,
) -> BTreeSet<&'v str> {
    votes
        .iter()
        .filter(|v| v.round == change.approval.round && v.stage == stage)
        .filter(|v| v.decision == Decision::Approved && v.voter != change.requested_by)
        .filter(|v| directory.is_member(group, &v.voter))
        .map(|v| v.voter.as_str())
        .collect()
}

/// What must hold when a change has just reached `scheduled`: its approvals
/// (or its template's pre-approval) and its review date.
fn check_just_scheduled(w: &World, after: &Change, votes: &[Vote]) -> Result<(), TestCaseError> {
    prop_assert_eq!(after.approval.status, ApprovalStatus::Approved);
    match after.change_type {
        ChangeType::Standard => {
            prop_assert!(after.template.is_some());
            prop_assert_eq!(&after.approval.pre_approved_by_template, &after.template);
        }
        ChangeType::Normal => {
            let group = after.assignment_group.as_deref().unwrap_or_default();
            let assessed = approvers(votes, after, &w.directory, 0, group);
            prop_assert!(!assessed.is_empty(), "scheduled without an assessment");
            let cab = eligible(&w.directory, CAB, &after.requested_by).len();
            let authorised = approvers(votes, after, &w.directory, 1, CAB);
            prop_assert!(
                authorised.len() > cab / 2,
                "scheduled with {:?} of {} eligible CAB members",
                authorised,
                cab
            );
        }
        ChangeType::Emergency => {
            let authorised = approvers(votes, after, &w.directory, 0, ECAB);
            prop_assert!(
                authorised.len() >= 2,
                "scheduled with ECAB approvers {:?}",
                authorised
            );
        }
    }
    let end = after.planned_end.expect("scheduled changes have a window");
    prop_assert_eq!(after.pir.due_at, Some(end + Duration::hours(48)));
    Ok(())
}

/// Checks an accepted action against the oracle and the invariants.
fn check_accepted(
    w: &World,
    actor: &Actor,
    act: Act,
    t: &Transition,
    expected: &Expected,
) -> Result<(), TestCaseError> {
    let (before, after) = (&w.change, &t.change);
    prop_assert_eq!(expected, &Expected::Accept(after.state));
    prop_assert!(
        edge_allowed(before.change_type, before.state, after.state, act),
        "{} moved {} → {}",
        before.change_type,
        before.state,
        after.state
    );
    // One audit event and one version per accepted action.
    prop_assert!(!t.audit_action.is_empty());
    prop_assert_eq!(t.audit_action, audit_name(act));
    prop_assert_eq!(after.version, before.version + 1);
    prop_assert_eq!(after.updated_at, w.now);
    // What no action may touch.
    prop_assert_eq!(after.number, before.number);
    prop_assert_eq!(after.change_type, before.change_type);
    prop_assert_eq!(&after.requested_by, &before.requested_by);
    prop_assert_eq!(after.created_at, before.created_at);

    let mut votes = w.votes.clone();
    match (act, &t.vote) {
        (Act::Vote(decision), Some(vote)) => {
            prop_assert_eq!(&vote.voter, &actor.username);
            prop_assert_ne!(&vote.voter, &before.requested_by, "the requester voted");
            prop_assert_eq!(vote.decision, decision);
            prop_assert_eq!(vote.round, before.approval.round);
            prop_assert_eq!(Some(vote.stage), before.approval.current_stage);
            prop_assert_eq!(vote.at, w.now);
            let twice = w
                .votes
                .iter()
                .any(|v| v.round == vote.round && v.stage == vote.stage && v.voter == vote.voter);
            prop_assert!(!twice, "{} voted twice in one stage", vote.voter);
            votes.push(vote.clone());
        }
        (Act::Vote(_), None) => prop_assert!(false, "an accepted vote records no vote"),
        (_, Some(vote)) => prop_assert!(false, "a non-vote recorded {:?}", vote),
        (_, None) => {}
    }

    if after.state == ChangeState::Scheduled && before.state != ChangeState::Scheduled {
        check_just_scheduled(w, after, &votes)?;
    }
    let rejected = after.state == ChangeState::New && before.state != ChangeState::New;
    if rejected {
        prop_assert_eq!(after.approval.status, ApprovalStatus::Rejected);
        prop_assert_eq!(after.rejections.len(), before.rejections.len() + 1);
        let last = after.rejections.last().expect("just pushed");
        prop_assert_eq!(last.round, before.approval.round);
        prop_assert_eq!(&last.by, &actor.username);
    } else {
        prop_assert_eq!(&after.rejections, &before.rejections);
    }
    match act {
        Act::Submit => {
            prop_assert_eq!(after.approval.round, before.approval.round + 1);
            let due = match after.change_type {
                ChangeType::Standard => None,
                ChangeType::Normal => Some(add_business_days(w.now, 5)),
                ChangeType::Emergency => Some(w.now + Duration::hours(2)),
            };
            prop_assert_eq!(after.approval.due_at, due);
        }
        Act::Complete { pending } => {
            prop_assert_eq!(pending, 0, "completed with open tasks");
            prop_assert_eq!(after.implementation_completed_at, Some(w.now));
            let due = after.pir.due_at.expect("a review date");
            if after.change_type == ChangeType::Emergency {
                prop_assert!(due <= w.now + Duration::hours(48));
            }
        }
        Act::Cancel { .. } => {
            prop_assert_eq!(after.close_code, Some(CloseCode::Canceled));
            prop_assert!(after.cancel_reason.is_some());
        }
        Act::Review(objectives, close_code) => {
            prop_assert_eq!(after.close_code, Some(close_code));
            let pir = after.pir.review.as_ref().expect("a recorded review");
            prop_assert_eq!(pir.objectives_met, objectives);
            prop_assert_eq!(&pir.reviewed_by, &actor.username);
        }
        _ => {}
    }
    Ok(())
}

/// Checks a refused action against the oracle and the refusals the brief
/// names outright.
fn check_refused(
    w: &World,
    actor: &Actor,
    act: Act,
    refusal: &Refusal,
    expected: &Expected,
) -> Result<(), TestCaseError> {
    let got = Refused::of(refusal);
    match expected {
        Expected::Accept(state) => {
            prop_assert!(
                false,
                "refused {:?}; the rules move it to {}",
                refusal,
                state
            )
        }
        Expected::Refuse(rules) => prop_assert!(
            rules.contains(&got),
            "refused {:?}; the rules break {:?}",
            refusal,
            rules
        ),
    }
    if let Refusal::Invalid(errors) = refusal {
        prop_assert!(!errors.is_empty(), "a 422 without field errors");
    }
    let c = &w.change;
    if c.state.is_terminal() {
        prop_assert_eq!(got, Refused::Conflict("change_is_final"));
    }
    let round_open = c.approval.status == ApprovalStatus::Requested && !c.state.is_terminal();
    if matches!(act, Act::Vote(_)) && actor.username == c.requested_by && round_open {
        prop_assert_eq!(got, Refused::Forbidden("segregation_of_duties"));
    }
    if let Act::Complete { pending } = act
        && pending > 0
        && c.state == ChangeState::Implement
        && expected == &Expected::Refuse(vec![Refused::Conflict("tasks_open")])
    {
        prop_assert_eq!(got, Refused::Conflict("tasks_open"));
    }
    Ok(())
}

/// Runs generated steps on a fresh change, checking every step, and returns
/// the states it went through.
fn run(
    change_type: ChangeType,
    requester: &str,
    steps: &[Step],
) -> Result<BTreeSet<ChangeState>, TestCaseError> {
    let mut w = World::new(change_type, requester);
    let mut visited = BTreeSet::from([w.change.state]);
    for (i, step) in steps.iter().enumerate() {
        w.advance(Duration::minutes(step.minutes_later));
        let act = act_for(step.intent, &w.change);
        let actor = resolve(&w, step.who, act);
        let action = action_for(act, &w.change);
        w.pending_tasks = match act {
            Act::Complete { pending } => pending,
            _ => 0,
        };
        let expected = expected(&w, &actor, act);
        let before = w.change.clone();
        check_unread_facts_ignored(&w, &actor, &action)?;
        let outcome = w.attempt_as(&actor, action);
        let checked = match &outcome {
            Ok(t) => check_accepted(&w, &actor, act, t, &expected),
            Err(refusal) => check_refused(&w, &actor, act, refusal, &expected),
        };
        checked.map_err(|e| {
            TestCaseError::fail(format!(
                "step {i}: {act:?} by {} on {change_type} {} (v{}): {e}",
                actor.username, before.state, before.version
            ))
        })?;
        if let Ok(t) = outcome {
            w.apply(t);
            visited.insert(w.change.state);
            if w.change.state.is_terminal() {
                check_final(&w)?;
            }
        }
        prop_assert_eq!(&w.change.requested_by, requester);
        prop_assert!(w.votes.iter().all(|v| v.voter != requester));
    }
    Ok(visited)
}

/// An action decides the same whatever the votes and the open tasks are
/// when it does not declare that it reads them (`Action::reads_votes`,
/// `Action::reads_pending_tasks`): the store leaves those facts out then.
fn check_unread_facts_ignored(
    w: &World,
    actor: &Actor,
    action: &Action,
) -> Result<(), TestCaseError> {
    let decided = |votes: &[Vote], pending_tasks: usize| {
        let ctx = Context {
            votes,
            pending_tasks,
            ..w.context()
        };
        format!("{:?}", decide(&w.change, action.clone(), actor, &ctx))
    };
    let as_given = decided(&w.votes, w.pending_tasks);
    if !action.reads_votes() {
        prop_assert_eq!(
            &decided(&[], w.pending_tasks),
            &as_given,
            "{:?} reads the votes without declaring it",
            action
        );
    }
    if !action.reads_pending_tasks() {
        prop_assert_eq!(
            &decided(&w.votes, w.pending_tasks + 3),
            &as_given,
            "{:?} reads the open tasks without declaring it",
            action
        );
    }
    Ok(())
}

/// A final change refuses every action by everyone with `change_is_final`.
fn check_final(w: &World) -> Result<(), TestCaseError> {
    for (person, _) in PEOPLE {
        for action in every_action() {
            let refusal = w.attempt(person, action).err();
            prop_assert!(
                matches!(
                    refusal,
                    Some(Refusal::Conflict {
                        rule: "change_is_final",
                        ..
                    })
                ),
                "{} {} accepted or refused wrongly: {:?}",
                w.change.state,
                person,
                refusal
            );
        }
    }
    Ok(())
}

fn config() -> Config {
    Config {
        cases: 256,
        // Only this file is ours: no proptest-regressions directory beside it.
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn standard_changes_follow_their_lifecycle(requester in requester(), steps in steps()) {
        run(ChangeType::Standard, requester, &steps)?;
    }

    #[test]
    fn normal_changes_follow_their_lifecycle(requester in requester(), steps in steps()) {
        run(ChangeType::Normal, requester, &steps)?;
    }

    #[test]
    fn emergency_changes_follow_their_lifecycle(requester in requester(), steps in steps()) {
        run(ChangeType::Emergency, requester, &steps)?;
    }
}

/// The property tests above are only as good as the states they reach: this
/// replays 256 sequences per type from a fixed seed and requires that,
/// together, they visit every state on the type's path, `closed` and
/// `canceled` included.
#[test]
fn generated_sequences_reach_every_state() {
    for change_type in ChangeType::ALL {
        let mut runner = TestRunner::deterministic();
        let strategy = (requester(), steps());
        let mut visited = BTreeSet::new();
        for _ in 0..256 {
            let (requester, steps) = strategy.new_tree(&mut runner).expect("a case").current();
            visited.extend(run(*change_type, requester, &steps).expect("invariants hold"));
        }
        let path: BTreeSet<_> = ChangeState::ALL
            .iter()
            .copied()
            .filter(|s| on_path(*change_type, *s))
            .collect();
        assert_eq!(visited, path, "{change_type}");
    }
}

// ---------------------------------------------------------------------------
// Example tests: whole lives and pinned dates
// ---------------------------------------------------------------------------

#[test]
fn a_standard_change_is_scheduled_on_submit_and_closed_by_its_review() {
    let mut w = World::new(ChangeType::Standard, ALICE);
    assert_eq!(w.change.approval.status, ApprovalStatus::NotRequired);
    // Its plans are the template's: an edit may not replace them.
    let refusal = w.refused(
        ALICE,
        edit(ChangePatch {
            backout_plan: Some("something else".into()),
            ..Default::default()
        }),
    );
    assert_invalid(&refusal, "backout_plan");
    // The assignee may implement, even from outside the assignment group.
    w.act(
        ALICE,
        edit(ChangePatch {
            assigned_to: Some(Some("olga".into())),
            ..Default::default()
        }),
    );

    w.advance(Duration::hours(1));
    let submitted = w.act(ALICE, Action::Submit);
    assert_eq!(submitted.audit_action, "change.submitted");
    let c = &w.change;
    assert_eq!(c.state, ChangeState::Scheduled);
    assert_eq!(c.approval.status, ApprovalStatus::Approved);
    assert_eq!(c.approval.round, 1);
    assert_eq!(
        c.approval.pre_approved_by_template.as_deref(),
        Some("db-index-rebuild")
    );
    assert_eq!(c.approval.due_at, None, "no approval SLA");
    assert_eq!(c.pir.due_at, Some(at("2026-12-03T02:00:00Z")));
    // Nothing to vote on.
    assert_conflict(&w.refused("bob", approve()), "no_open_approval");

    w.now = at("2026-11-30T22:00:00Z");
    assert_forbidden(
        &w.refused("erin", Action::Implement),
        "implementation_by_assignees",
    );
    w.act("olga", Action::Implement);
    assert_eq!(w.change.implementation_started_at, Some(w.now));
    w.advance(Duration::hours(3));
    w.act("ivan", Action::Complete);
    assert_eq!(w.change.state, ChangeState::Review);
    assert_eq!(
        w.change.pir.due_at,
        Some(at("2026-12-03T02:00:00Z")),
        "a standard change's review stays 48 h after the planned end"
    );
    w.advance(Duration::days(1));
    assert_forbidden(
        &w.refused("ivan", review()),
        "review_by_requester_or_manager",
    );
    w.act("max", review());
    let c = &w.change;
    assert_eq!(c.state, ChangeState::Closed);
    assert_eq!(c.close_code, Some(CloseCode::Successful));
    assert_eq!(
        c.pir.review.as_ref().map(|r| r.reviewed_by.as_str()),
        Some("max")
    );
    // created (1), edited, submitted, implemented, completed, reviewed.
    assert_eq!(c.version, 6);
    for action in every_action() {
        assert_conflict(&w.refused("max", action), "change_is_final");
    }
}

#[test]
fn a_normal_change_is_assessed_then_authorised_by_a_cab_majority() {
    let mut w = World::new(ChangeType::Normal, ALICE);
    let submitted = w.act(ALICE, Action::Submit);
    let c = &w.change;
    assert_eq!(c.state, ChangeState::Assess);
    assert_eq!(c.approval.status, ApprovalStatus::Requested);
    assert_eq!((c.approval.round, c.approval.current_stage), (1, Some(0)));
    assert_eq!(c.approval.requested_at, Some(t0()));
    // Wednesday 10:00 + 5 business days.
    assert_eq!(c.approval.due_at, Some(at("2026-12-02T10:00:00Z")));
    // The assessors are notified: the assignment group less the requester.
    let request = &submitted.notifications[0];
    assert_eq!(request.event, "change.approval_requested");
    assert_eq!(request.recipients, ["ivan"]);

    // alice sits in `dba`, but she requested the change.
    assert_forbidden(&w.refused(ALICE, approve()), "segregation_of_duties");
    // The CAB does not assess, and a manager is no approver either.
    assert_forbidden(&w.refused("bob", approve()), "not_an_approver");
    assert_forbidden(&w.refused("max", approve()), "not_an_approver");
    // Nobody edits a change under approval.
    assert_conflict(
        &w.refused(ALICE, edit(ChangePatch::default())),
        "edit_only_in_new",
    );

    w.advance(Duration::hours(2));
    let assessed = w.act("ivan", approve());
    assert_eq!(w.change.state, ChangeState::Authorize);
    assert_eq!(w.change.approval.current_stage, Some(1));
    assert_eq!(
        assessed.notifications[0].recipients,
        ["bob", "carol", "dave", "erin"]
    );
    // Two of four is not a majority.
    w.act("bob", approve());
    assert_conflict(&w.refused("bob", approve()), "already_voted");
    w.act("carol", approve());
    assert_eq!(w.change.state, ChangeState::Authorize);
    w.advance(Duration::days(1));
    w.act("dave", approve());
    let c = &w.change;
    assert_eq!(c.state, ChangeState::Scheduled);
    assert_eq!(c.approval.status, ApprovalStatus::Approved);
    assert_eq!(c.approval.decided_at, Some(w.now));
    // 48 hours after the planned end, Tuesday 02:00.
    assert_eq!(c.pir.due_at, Some(at("2026-12-03T02:00:00Z")));
    assert_conflict(&w.refused("erin", approve()), "no_open_approval");
    assert_eq!(w.votes.len(), 4);

    w.now = at("2026-11-30T22:00:00Z");
    assert_conflict(
        &w.refused("ivan", Action::Complete),
        "complete_only_when_implementing",
    );
    assert_forbidden(
        &w.refused("olga", Action::Implement),
        "implementation_by_assignees",
    );
    w.act("ivan", Action::Implement);
    w.pending_tasks = 2;
    w.advance(Duration::hours(2));
    assert_conflict(&w.refused("ivan", Action::Complete), "tasks_open");
    assert_conflict(&w.refused("max", Action::Complete), "tasks_open");
    w.pending_tasks = 0;
    w.act("ivan", Action::Complete);
    assert_eq!(w.change.implementation_completed_at, Some(w.now));
    assert_eq!(w.change.pir.due_at, Some(at("2026-12-03T02:00:00Z")));
    let refusal = w.refused(
        ALICE,
        Action::Review {
            objectives_met: ObjectivesMet::No,
            close_code: CloseCode::Canceled,
            lessons_learned: String::new(),
        },
    );
    assert_invalid(&refusal, "close_code");
    w.act(ALICE, review());
    assert_eq!(w.change.state, ChangeState::Closed);
    // created, submitted, 4 votes, implemented, completed, reviewed.
    assert_eq!(w.change.version, 9);
}

#[test]
fn an_emergency_change_needs_two_distinct_ecab_approvers() {
    let mut w = World::new(ChangeType::Emergency, ALICE);
    let submitted = w.act(ALICE, Action::Submit);
    assert_eq!(w.change.state, ChangeState::Authorize, "no assessment");
    assert_eq!(w.change.approval.due_at, Some(at("2026-11-25T12:00:00Z")));
    assert_eq!(submitted.notifications[0].recipients, ["bob", "carol"]);

    w.advance(Duration::minutes(10));
    w.act("bob", approve());
    assert_eq!(
        w.change.state,
        ChangeState::Authorize,
        "one approver is not enough"
    );
    assert_conflict(&w.refused("bob", approve()), "already_voted");
    // CAB members outside the ECAB do not count.
    assert_forbidden(&w.refused("dave", approve()), "not_an_approver");
    w.advance(Duration::minutes(10));
    w.act("carol", approve());
    assert_eq!(w.change.state, ChangeState::Scheduled);
    let approvers: BTreeSet<_> = w.votes.iter().map(|v| v.voter.as_str()).collect();
    assert_eq!(approvers, BTreeSet::from(["bob", "carol"]));
    assert_eq!(w.change.pir.due_at, Some(at("2026-11-27T14:00:00Z")));

    w.act("ivan", Action::Implement);
    w.advance(Duration::minutes(25));
    // Completed at 10:45, before the planned end: due within 48 h of the work.
    w.act("ivan", Action::Complete);
    assert_eq!(w.change.pir.due_at, Some(at("2026-11-27T10:45:00Z")));
    w.act(ALICE, review());
    assert_eq!(w.change.state, ChangeState::Closed);
}

#[test]
fn an_emergency_review_keeps_the_earlier_of_its_two_due_times() {
    let mut w = world_in(ChangeType::Emergency, ChangeState::Implement);
    // Completed after the planned end: planned end + 48 h is the earlier.
    w.now = at("2026-11-25T19:00:00Z");
    w.act("ivan", Action::Complete);
    assert_eq!(w.change.pir.due_at, Some(at("2026-11-27T14:00:00Z")));
    assert!(w.change.pir.due_at <= Some(w.now + Duration::hours(48)));
}

#[test]
fn one_ecab_rejection_rejects_as_two_approvers_can_no_longer_be_found() {
    let mut w = world_in(ChangeType::Emergency, ChangeState::Authorize);
    w.act("bob", approve());
    w.act("carol", reject("Wait for the vendor fix"));
    assert_eq!(w.change.state, ChangeState::New);
    assert_eq!(w.change.rejections[0].stage, "ECAB authorisation");
}

#[test]
fn a_rejected_change_is_revised_and_resubmitted_in_a_new_round() {
    let mut w = world_in(ChangeType::Normal, ChangeState::Authorize);
    assert_eq!(w.change.approval.round, 1);
    w.advance(Duration::hours(1));
    // One rejection of four: a majority can still approve.
    w.act("bob", reject("Backout plan is thin"));
    assert_eq!(w.change.state, ChangeState::Authorize);
    w.advance(Duration::hours(1));
    let rejected_at = w.now;
    let rejection = w.act("carol", reject("Agree, needs a real backout"));
    assert_eq!(rejection.notifications[0].event, "change.rejected");
    assert_eq!(rejection.notifications[0].recipients, [ALICE]);
    let c = &w.change;
    assert_eq!(c.state, ChangeState::New);
    assert_eq!(c.approval.status, ApprovalStatus::Rejected);
    assert_eq!(c.approval.current_stage, None);
    assert_eq!(c.rejections.len(), 1);
    let first = &c.rejections[0];
    assert_eq!(first.round, 1);
    assert_eq!(first.stage, "CAB authorisation");
    assert_eq!(first.by, "carol");
    assert_eq!(first.notes, "Agree, needs a real backout");
    assert_eq!(first.at, rejected_at);
    assert_conflict(&w.refused("dave", approve()), "no_open_approval");

    // Revise and resubmit on Friday afternoon.
    w.now = at("2026-11-27T16:00:00Z");
    w.act(
        ALICE,
        edit(ChangePatch {
            backout_plan: Some("Restore from the pre-change snapshot".into()),
            ..Default::default()
        }),
    );
    w.act(ALICE, Action::Submit);
    let c = &w.change;
    assert_eq!(
        c.state,
        ChangeState::Assess,
        "a new round starts from the top"
    );
    assert_eq!(c.approval.round, 2);
    assert_eq!(c.approval.status, ApprovalStatus::Requested);
    assert_eq!(c.approval.due_at, Some(at("2026-12-04T16:00:00Z")));
    assert_eq!(c.rejections.len(), 1, "the first rejection stays on record");
    // Round 1 votes neither block nor count in round 2.
    w.act("ivan", approve());
    w.act("bob", approve());
    w.act("carol", approve());
    assert_eq!(w.change.state, ChangeState::Authorize);
    w.act("erin", approve());
    assert_eq!(w.change.state, ChangeState::Scheduled);
    assert!(w.votes.iter().filter(|v| v.round == 2).count() == 4);
}

#[test]
fn a_rejection_in_assessment_returns_the_change_to_new() {
    let mut w = world_in(ChangeType::Normal, ChangeState::Assess);
    w.act("ivan", reject("Wrong replica order"));
    assert_eq!(w.change.state, ChangeState::New);
    assert_eq!(w.change.rejections[0].stage, "Technical assessment");
    // The requester may also give up instead of resubmitting.
    w.act(ALICE, cancel());
    assert_eq!(w.change.state, ChangeState::Canceled);
}

#[test]
fn cancel_is_allowed_before_implementation_and_refused_after() {
    let before = [
        (ChangeType::Standard, ChangeState::New),
        (ChangeType::Standard, ChangeState::Scheduled),
        (ChangeType::Normal, ChangeState::New),
        (ChangeType::Normal, ChangeState::Assess),
        (ChangeType::Normal, ChangeState::Authorize),
        (ChangeType::Normal, ChangeState::Scheduled),
        (ChangeType::Emergency, ChangeState::Authorize),
        (ChangeType::Emergency, ChangeState::Scheduled),
    ];
    for (change_type, state) in before {
        let mut w = world_in(change_type, state);
        assert_forbidden(
            &w.refused("olga", cancel()),
            "cancel_by_requester_or_manager",
        );
        let blank = Action::Cancel { reason: " ".into() };
        assert_invalid(&w.refused(ALICE, blank), "reason");
        w.act("max", cancel());
        let c = &w.change;
        assert_eq!(c.state, ChangeState::Canceled, "{change_type} from {state}");
        assert_eq!(c.close_code, Some(CloseCode::Canceled));
        assert_eq!(c.cancel_reason.as_deref(), Some("Superseded by CHG0000457"));
        assert_eq!(c.approval.current_stage, None);
        assert_conflict(&w.refused(ALICE, cancel()), "change_is_final");
    }
    for change_type in ChangeType::ALL {
        for state in [ChangeState::Implement, ChangeState::Review] {
            let w = world_in(*change_type, state);
            let refusal = w.refused(ALICE, cancel());
            assert_conflict(&refusal, "cancel_only_before_implementation");
            assert_conflict(
                &w.refused("max", cancel()),
                "cancel_only_before_implementation",
            );
        }
    }
}

#[test]
fn a_viewer_may_only_vote_and_only_as_a_group_member() {
    let w = world_in(ChangeType::Normal, ChangeState::New);
    for action in [edit(ChangePatch::default()), Action::Submit, cancel()] {
        assert_forbidden(&w.refused("vic", action), "role_read_only");
    }
    for (state, action) in [
        (ChangeState::Scheduled, Action::Implement),
        (ChangeState::Implement, Action::Complete),
        (ChangeState::Review, review()),
    ] {
        let w = world_in(ChangeType::Normal, state);
        assert_forbidden(&w.refused("vic", action), "role_read_only");
    }

    let mut w = world_in(ChangeType::Normal, ChangeState::Authorize);
    assert_forbidden(&w.refused("vic", approve()), "not_an_approver");
    // Approval rights come from the group, not the role: as a CAB member
    // the viewer votes, and counts (five eligible, three needed).
    w.directory.groups[0].members.push("vic".into());
    w.act("vic", approve());
    w.act("bob", approve());
    assert_eq!(w.change.state, ChangeState::Authorize);
    w.act("carol", approve());
    assert_eq!(w.change.state, ChangeState::Scheduled);
    assert_forbidden(&w.refused("vic", Action::Implement), "role_read_only");
}

#[test]
fn the_requester_never_counts_towards_a_majority() {
    // bob sits on the CAB: three others are eligible, so two approve.
    let mut w = World::new(ChangeType::Normal, "bob");
    w.act("bob", Action::Submit);
    // alice is an assessor for bob's change.
    w.act(ALICE, approve());
    assert_forbidden(&w.refused("bob", approve()), "segregation_of_duties");
    w.act("carol", approve());
    assert_eq!(w.change.state, ChangeState::Authorize);
    w.act("dave", approve());
    assert_eq!(w.change.state, ChangeState::Scheduled);

    // A manager who requests a change may not approve it either.
    let mut w = World::new(ChangeType::Normal, "max");
    w.directory.groups[2].members.push("max".into());
    w.act("max", Action::Submit);
    assert_forbidden(&w.refused("max", approve()), "segregation_of_duties");
}

#[test]
fn an_emergency_change_by_an_ecab_member_cannot_be_submitted() {
    // Only carol would be left to approve: two distinct approvers can never be found.
    let w = World::new(ChangeType::Emergency, "bob");
    assert_conflict(
        &w.refused("bob", Action::Submit),
        "approval_stage_unreachable",
    );
}

#[test]
fn approval_due_times_follow_the_business_calendar_or_the_wall_clock() {
    let cases = [
        // Wednesday → next Wednesday.
        ("2026-11-25T10:00:00Z", "2026-12-02T10:00:00Z"),
        // Friday → next Friday.
        ("2026-11-27T16:00:00Z", "2026-12-04T16:00:00Z"),
        // Saturday counts from Monday: Monday + 5 = the Monday after.
        ("2026-11-28T09:00:00Z", "2026-12-07T09:00:00Z"),
        // Monday just before midnight.
        ("2026-11-30T23:59:00Z", "2026-12-07T23:59:00Z"),
    ];
    for (submitted, due) in cases {
        let mut w = World::new(ChangeType::Normal, ALICE);
        w.now = at(submitted);
        w.act(ALICE, Action::Submit);
        assert_eq!(
            w.change.approval.due_at,
            Some(at(due)),
            "normal at {submitted}"
        );
        assert_eq!(
            w.change.approval.due_at,
            Some(add_business_days(at(submitted), 5))
        );
        assert!(!w.change.approval.sla_breached);

        // Emergency changes run on the wall clock, weekends included.
        let mut w = World::new(ChangeType::Emergency, ALICE);
        w.now = at(submitted);
        w.act(ALICE, Action::Submit);
        assert_eq!(
            w.change.approval.due_at,
            Some(at(submitted) + Duration::hours(2)),
            "emergency at {submitted}"
        );
    }
}

#[test]
fn outsiders_may_neither_drive_nor_implement_a_change() {
    let w = World::new(ChangeType::Normal, ALICE);
    assert_forbidden(
        &w.refused("olga", Action::Submit),
        "submit_by_requester_or_manager",
    );
    assert_forbidden(
        &w.refused("olga", edit(ChangePatch::default())),
        "edit_by_requester_or_manager",
    );
    // The change manager may act for the requester.
    let mut w = World::new(ChangeType::Normal, ALICE);
    w.act("max", Action::Submit);
    assert_eq!(w.change.state, ChangeState::Assess);
}

#[test]
fn submit_refuses_a_change_with_parts_missing() {
    let mut w = World::new(ChangeType::Normal, ALICE);
    w.act(
        ALICE,
        edit(ChangePatch {
            test_plan: Some(String::new()),
            assignment_group: Some(None),
            ..Default::default()
        }),
    );
    let refusal = w.refused(ALICE, Action::Submit);
    assert_invalid(&refusal, "test_plan");
    assert_invalid(&refusal, "assignment_group");
    assert_eq!(w.change.state, ChangeState::New);
}

/// A vote counts once per person even if the input holds a duplicate (say
/// the same approval by API and by email racing): the store's unique index
/// prevents it, and the evaluator does not rely on that alone.
#[test]
fn a_duplicated_vote_counts_once() {
    let mut w = world_in(ChangeType::Emergency, ChangeState::Authorize);
    let bob = w.act("bob", approve()).vote.expect("a vote");
    // The same vote, arrived again by email and stored by a racing request.
    w.votes.push(Vote {
        channel: Channel::Email,
        ..bob
    });
    w.act("carol", reject("Not without the vendor fix"));
    assert_eq!(
        w.change.state,
        ChangeState::New,
        "one approval and one rejection of two ECAB members must reject"
    );
}

// Escalations: the approval SLA and the overdue review fire once, only
// while they still apply.

#[test]
fn an_open_round_past_its_due_time_breaches_once() {
    let w = world_in(ChangeType::Normal, ChangeState::Assess);
    let due = w.change.approval.due_at.expect("due");
    let managers = vec!["mia".to_owned()];
    let round = w.change.approval.round;
    let early = escalation::breach_approval_sla(
        &w.change,
        round,
        managers.clone(),
        due - Duration::seconds(1),
    );
    assert!(early.is_none(), "not due yet");
    let breached =
        escalation::breach_approval_sla(&w.change, round, managers.clone(), due).expect("due now");
    assert!(breached.change.approval.sla_breached);
    assert_eq!(breached.change.version, w.change.version + 1);
    assert_eq!(breached.audit_action, "change.sla_breached");
    assert_eq!(breached.notifications[0].event, "change.sla_breached");
    assert_eq!(breached.notifications[0].recipients, managers);
    assert_eq!(
        breached.notifications[0].data["stage"],
        "Technical assessment"
    );
    // Fired again (a second timer, a retried job): nothing more.
    assert!(
        escalation::breach_approval_sla(&breached.change, round, managers.clone(), due).is_none()
    );
    // A timer of an earlier round does not touch this one.
    assert!(escalation::breach_approval_sla(&w.change, round - 1, managers, due).is_none());
}

#[test]
fn a_decided_round_does_not_breach() {
    let w = world_in(ChangeType::Emergency, ChangeState::Scheduled);
    let due = w.change.approval.due_at.expect("due");
    let later = due + Duration::days(3);
    let round = w.change.approval.round;
    assert!(escalation::breach_approval_sla(&w.change, round, vec![], later).is_none());
}

#[test]
fn an_overdue_review_is_escalated_once_and_a_recorded_one_never() {
    let w = world_in(ChangeType::Normal, ChangeState::Review);
    let due = w.change.pir.due_at.expect("review due");
    assert!(
        escalation::escalate_overdue_review(&w.change, vec![], due - Duration::seconds(1))
            .is_none()
    );
    let escalated =
        escalation::escalate_overdue_review(&w.change, vec!["mia".into()], due).expect("overdue");
    assert_eq!(escalated.change.pir.escalated_at, Some(due));
    assert_eq!(escalated.notifications[0].event, "change.review_overdue");
    assert!(escalation::escalate_overdue_review(&escalated.change, vec![], due).is_none());
    let closed = world_in(ChangeType::Normal, ChangeState::Closed);
    let due = closed.change.pir.due_at.expect("review due");
    assert!(
        escalation::escalate_overdue_review(&closed.change, vec![], due + Duration::days(1))
            .is_none()
    );
}
