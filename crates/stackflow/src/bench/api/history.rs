//! The change history the API benchmark runs on: changes made by the
//! lifecycle core itself (`ChangeDraft::into_change`, then `decide` for
//! each action of their path), as the API would have made them, so the
//! documents in the list are the real shape and size. Oldest first: most
//! of the history is closed (a few canceled); the newest changes are
//! scheduled or still in assessment.

use super::text;
use anyhow::{Context as _, anyhow};
use chrono::{DateTime, Duration, Utc};
use rand::RngExt;
use rand_pcg::Pcg64Mcg;
use stackflow_core::{
    Action, Actor, Change, ChangeDraft, ChangeNumber, ChangeState, ChangeType, Channel, CloseCode,
    Context, Decision, Directory, GroupKind, ObjectivesMet, Role, Vote, decide,
};

/// How far back the history reaches.
const HISTORY_DAYS: f64 = 730.0;

/// Who acts in the generated history, and on what.
pub(super) struct History<'a> {
    /// Groups and members as the store has them (the approvers).
    pub directory: Directory,
    /// The requester of every change.
    pub requester: Actor,
    /// The assignment group (also the technical assessors).
    pub group: String,
    /// Names of the CIs changes are drawn on.
    pub cis: &'a [String],
    /// The end of the history.
    pub now: DateTime<Utc>,
    /// The newest share of the history that is still open (scheduled or
    /// in assessment); older changes are closed or canceled.
    pub open_share: f64,
}

/// One action after another through the core, with the round's votes.
struct Path<'a> {
    directory: &'a Directory,
    change: Change,
    votes: Vec<Vote>,
}

impl Path<'_> {
    fn act(&mut self, action: Action, actor: &Actor, now: DateTime<Utc>) -> anyhow::Result<()> {
        let context = Context {
            directory: self.directory,
            votes: &self.votes,
            pending_tasks: 0,
            channel: Channel::Api,
            now,
            workflow: None,
            calendar: None,
            cab_schedule: None,
        };
        let transition = decide(&self.change, action, actor, &context)
            .map_err(|refusal| anyhow!("the core refused a seeded change: {refusal:?}"))?;
        self.votes.extend(transition.vote);
        self.change = transition.change;
        Ok(())
    }

    fn approve(&mut self, voter: &str, now: DateTime<Utc>) -> anyhow::Result<()> {
        let action = Action::Vote {
            decision: Decision::Approved,
            notes: "Reviewed the plans; approved.".to_owned(),
        };
        self.act(action, &Actor::new(voter, Role::Implementer), now)
    }
}

impl History<'_> {
    /// The change at `position` (0 = oldest, 1 = newest) of the history.
    pub fn change(&self, rng: &mut Pcg64Mcg, position: f64) -> anyhow::Result<Change> {
        let minutes = ((1.0 - position) * HISTORY_DAYS * 24.0 * 60.0) as i64;
        let created = self.now - Duration::minutes(minutes + rng.random_range(0..60));
        let open = position >= 1.0 - self.open_share;
        let start = if open {
            self.now + Duration::hours(rng.random_range(24..24 * 60))
        } else {
            created + Duration::hours(rng.random_range(48..24 * 14))
        };
        let end = start + Duration::minutes(rng.random_range(1..=8) * 30);
        let cis = text::pick_cis(rng, self.cis);
        let body = text::ChangeText::new(rng, &cis);
        let draft = ChangeDraft {
            change_type: Some(ChangeType::Normal),
            title: Some(body.title),
            description: Some(body.description),
            justification: Some(body.justification),
            implementation_plan: Some(body.implementation_plan),
            backout_plan: Some(body.backout_plan),
            test_plan: Some(body.test_plan),
            assignment_group: Some(self.group.clone()),
            affected_cis: cis,
            planned_start: Some(start),
            planned_end: Some(end),
            ..ChangeDraft::default()
        };
        let change = draft
            .into_change(
                ChangeNumber::new(1),
                &self.requester.username,
                None,
                created,
            )
            .map_err(|refusal| anyhow!("the core refused a seeded draft: {refusal:?}"))?;
        let mut path = Path {
            directory: &self.directory,
            change,
            votes: Vec::new(),
        };
        path.act(
            Action::Submit,
            &self.requester,
            created + Duration::minutes(5),
        )?;
        let roll = rng.random_range(0..100);
        if open && roll < 40 {
            return Ok(path.change); // still in technical assessment
        }
        if !open && roll < 3 {
            let reason = "Superseded by a later change.".to_owned();
            path.act(
                Action::Cancel { reason },
                &self.requester,
                created + Duration::hours(20),
            )?;
            return Ok(path.change);
        }
        let assessors = self.directory.members(&self.group);
        let assessor = assessors
            .iter()
            .find(|m| **m != self.requester.username)
            .context("the assignment group has no assessor")?;
        path.approve(assessor, created + Duration::hours(4))?;
        let cab = self
            .directory
            .group_of_kind(GroupKind::Cab)
            .context("no CAB group")?;
        for (i, member) in cab.members.iter().enumerate() {
            if path.change.state != ChangeState::Authorize {
                break;
            }
            if *member != self.requester.username {
                path.approve(member, created + Duration::hours(24 + i as i64))?;
            }
        }
        if open {
            return Ok(path.change); // scheduled
        }
        let implementer = Actor::new(assessor.clone(), Role::Implementer);
        path.act(Action::Implement, &implementer, start)?;
        path.act(Action::Complete, &implementer, end)?;
        let (objectives_met, close_code) = if roll < 95 {
            (ObjectivesMet::Yes, CloseCode::Successful)
        } else {
            (ObjectivesMet::Partially, CloseCode::SuccessfulWithIssues)
        };
        let review = Action::Review {
            objectives_met,
            close_code,
            lessons_learned: "Went to plan; the runbook was accurate.".to_owned(),
        };
        path.act(review, &self.requester, end + Duration::hours(20))?;
        Ok(path.change)
    }
}
