//! What the benchmark's changes say: ordinary operational changes on 1–3
//! CIs, with plans of the length people write, drawn from a few kinds.

use rand::RngExt;
use rand_pcg::Pcg64Mcg;

/// Kinds of routine work: (title, what is done, how it is checked).
const KINDS: &[(&str, &str, &str)] = &[
    (
        "Apply the monthly security patches to",
        "install the vendor's cumulative update and restart the services",
        "service health checks green and the patch level reported by the agent",
    ),
    (
        "Rotate the TLS certificates of",
        "deploy the renewed certificate chain and reload the listeners",
        "the new expiry date served on every listener",
    ),
    (
        "Increase the memory of",
        "resize the allocation and rebalance the workload",
        "memory pressure alerts cleared for one business day",
    ),
    (
        "Upgrade the runtime on",
        "roll the new runtime version out node by node behind the load balancer",
        "smoke tests pass and the error rate stays at its baseline",
    ),
    (
        "Move to the new backup policy",
        "switch the backup schedule and retention to the new policy",
        "a test restore of last night's backup completes",
    ),
    (
        "Replace a failed disk in",
        "swap the disk and let the array rebuild",
        "the array reports optimal and the rebuild finished",
    ),
];

/// 1–3 distinct CIs drawn at random.
pub(super) fn pick_cis(rng: &mut Pcg64Mcg, cis: &[String]) -> Vec<String> {
    let count = rng.random_range(1..=3);
    let mut picked: Vec<String> = Vec::with_capacity(count);
    while picked.len() < count.min(cis.len()) {
        let ci = &cis[rng.random_range(0..cis.len())];
        if !picked.contains(ci) {
            picked.push(ci.clone());
        }
    }
    picked
}

/// The text fields of one change.
pub(super) struct ChangeText {
    pub title: String,
    pub description: String,
    pub justification: String,
    pub implementation_plan: String,
    pub backout_plan: String,
    pub test_plan: String,
}

impl ChangeText {
    /// Text for a change of a random kind on `cis`.
    pub fn new(rng: &mut Pcg64Mcg, cis: &[String]) -> ChangeText {
        let (title, work, check) = KINDS[rng.random_range(0..KINDS.len())];
        let names = cis.join(", ");
        let ticket = rng.random_range(10_000..100_000);
        ChangeText {
            title: format!("{title} {}", cis[0]),
            description: format!(
                "{title} {names}: {work}. Raised from problem record PRB{ticket} after the \
                 last review of the estate; the affected services are told through the usual \
                 channel before the window opens."
            ),
            justification: format!(
                "Keeps {names} within the supported baseline and closes the findings of \
                 PRB{ticket}."
            ),
            implementation_plan: format!(
                "1. Announce the start in the operations channel. 2. Drain {names}. 3. \
                 {work}. 4. Return the service to the pool and watch it for 15 minutes."
            ),
            backout_plan: format!(
                "Restore the snapshot taken before step 2 on {names} and return the service \
                 to the pool; expected within 20 minutes."
            ),
            test_plan: format!("Verify {check}."),
        }
    }
}
