//! The API benchmark's figures: per operation, against the targets of the
//! issue, and beside the iTop reference.

use super::client::{Op, Outcome};
use crate::bench::stats::Percentiles;
use hyper::StatusCode;
use stackflow_store::WriterUse;
use std::time::Duration;

/// iTop, the open-source peer, on this kind of machine with 4 clients:
/// changes created per second…
pub(super) const ITOP_CHANGES_PER_S: f64 = 14.8;
/// …and its p99 in milliseconds.
pub(super) const ITOP_P99_MS: f64 = 458.0;

/// The figures of one operation.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Row {
    /// What was measured.
    pub label: &'static str,
    /// Requests (pairs, for create+submit).
    pub count: usize,
    /// Per second over the measured window.
    pub per_second: f64,
    /// Latency.
    pub latency: Percentiles,
}

/// Everything one run measured.
pub(super) struct Summary {
    /// create, submit, create+submit, list (and its two kinds), risk.
    pub rows: Vec<Row>,
    /// Every non-2xx response.
    pub errors: Vec<(Op, StatusCode, String)>,
    /// The measured window.
    pub window: Duration,
}

/// The operations reported, in order, and which samples each takes.
const REPORTED: &[(&str, &[Op])] = &[
    ("create", &[Op::Create]),
    ("submit", &[Op::Submit]),
    ("create+submit", &[Op::CreateSubmit]),
    ("list", &[Op::ListAll, Op::ListAssess]),
    ("  list, all", &[Op::ListAll]),
    ("  list, state=assess", &[Op::ListAssess]),
    ("risk read", &[Op::Risk]),
];

impl Summary {
    /// Gathers the clients' samples over the measured `window`.
    pub fn of(outcomes: &mut [Outcome], window: Duration) -> Summary {
        let seconds = window.as_secs_f64().max(1e-9);
        let rows = (REPORTED.iter())
            .map(|(label, ops)| {
                let mut times: Vec<Duration> = (outcomes.iter())
                    .flat_map(|o| o.samples.iter())
                    .filter(|(op, _)| ops.contains(op))
                    .map(|(_, time)| *time)
                    .collect();
                Row {
                    label,
                    count: times.len(),
                    per_second: times.len() as f64 / seconds,
                    latency: Percentiles::of(&mut times),
                }
            })
            .collect();
        let errors = outcomes
            .iter_mut()
            .flat_map(|o| std::mem::take(&mut o.errors))
            .collect();
        Summary {
            rows,
            errors,
            window,
        }
    }

    fn row(&self, label: &str) -> Option<&Row> {
        self.rows.iter().find(|row| row.label == label)
    }

    /// How many create+submit pairs were measured.
    pub fn pairs(&self) -> Option<usize> {
        self.row("create+submit").map(|row| row.count)
    }

    /// Prints the table per operation, the targets and the iTop ratio.
    pub fn print(&self) {
        println!(
            "\nmeasured for {:.1} s; non-2xx responses: {}",
            self.window.as_secs_f64(),
            self.errors.len()
        );
        for (op, status, body) in self.errors.iter().take(5) {
            println!("  {op:?}: {status}: {body}");
        }
        println!(
            "\n{:<22} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "operation", "count", "per s", "p50 ms", "p95 ms", "p99 ms", "max ms"
        );
        for row in &self.rows {
            let p = row.latency;
            println!(
                "{:<22} {:>9} {:>9.1} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                row.label, row.count, row.per_second, p.p50, p.p95, p.p99, p.max
            );
        }
        println!("\n{:<44} {:>12}  verdict", "target", "measured");
        for target in self.targets() {
            println!(
                "{:<44} {:>12}  {}",
                target.name,
                target.measured,
                if target.met { "met" } else { "NOT MET" }
            );
        }
        if let Some(pair) = self.row("create+submit") {
            println!(
                "\niTop (4 clients, same kind of machine): {ITOP_CHANGES_PER_S} changes/s, p99 \
                 {ITOP_P99_MS} ms. Here: {:.1} changes/s created and submitted ({:.0}x iTop's \
                 rate), p99 {:.2} ms ({:.0}x lower).",
                pair.per_second,
                pair.per_second / ITOP_CHANGES_PER_S,
                pair.latency.p99,
                ITOP_P99_MS / pair.latency.p99.max(1e-9),
            );
        }
    }

    /// The targets, each with what was measured.
    pub fn targets(&self) -> Vec<Target> {
        // (target, row, a rate (at least) or a p99 (at most), bound)
        const TARGETS: [(&str, &str, bool, f64); 4] = [
            ("create+submit >= 1,500/s", "create+submit", true, 1500.0),
            ("create+submit p99 <= 20 ms", "create+submit", false, 20.0),
            ("risk read p99 <= 5 ms", "risk read", false, 5.0),
            ("list p99 <= 10 ms", "list", false, 10.0),
        ];
        (TARGETS.iter())
            .filter_map(|&(name, label, rate, bound)| {
                let row = self.row(label)?;
                let (value, unit, met) = if rate {
                    (row.per_second, "/s", row.per_second >= bound)
                } else {
                    (row.latency.p99, "ms", row.latency.p99 <= bound)
                };
                Some(Target {
                    name: name.to_owned(),
                    measured: format!("{value:.2} {unit}"),
                    met: met && row.count > 0,
                })
            })
            .collect()
    }
}

/// One target of the issue.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Target {
    /// The target as the issue states it.
    pub name: String,
    /// The measured figure with its unit.
    pub measured: String,
    /// Whether it is met.
    pub met: bool,
}

/// Prints the row counts the run was made at.
pub(super) fn print_counts(title: &str, counts: &[(&'static str, i64)]) {
    let line: Vec<String> = (counts.iter())
        .map(|(table, rows)| format!("{table} {rows}"))
        .collect();
    println!("{title}: {}", line.join(", "));
}

/// What SQLite's one writer connection did over the measured window, per
/// create+submit pair: every write transaction runs on it in turn, so the
/// time each pair holds it bounds the rate.
pub(super) fn describe_writer(used: &WriterUse, pairs: usize) -> String {
    let pairs = pairs.max(1) as f64;
    let per_pair = used.busy.as_secs_f64() / pairs;
    format!(
        "SQLite's writer connection: {} write transactions ({:.2} per create+submit), held {:.0}% \
         of the window, {:.2} ms each: {:.2} ms per create+submit, a ceiling of {:.0} \
         create+submit a second were the writer the only limit",
        used.transactions,
        used.transactions as f64 / pairs,
        used.busy_share() * 100.0,
        used.held_per_transaction().as_secs_f64() * 1000.0,
        per_pair * 1000.0,
        1.0 / per_pair.max(1e-9),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(samples: &[(Op, u64)]) -> Outcome {
        Outcome {
            samples: (samples.iter())
                .map(|(op, ms)| (*op, Duration::from_millis(*ms)))
                .collect(),
            ..Outcome::default()
        }
    }

    #[test]
    fn rows_merge_the_clients_and_targets_judge_them() {
        let mut outcomes = vec![
            outcome(&[(Op::CreateSubmit, 10), (Op::ListAll, 4), (Op::Risk, 1)]),
            outcome(&[(Op::CreateSubmit, 30), (Op::ListAssess, 12), (Op::Risk, 2)]),
        ];
        let summary = Summary::of(&mut outcomes, Duration::from_secs(2));
        let pair = summary.row("create+submit").expect("a create+submit row");
        assert_eq!(
            (pair.count, pair.per_second, pair.latency.p99),
            (2, 1.0, 30.0)
        );
        assert_eq!(summary.row("list").map(|r| r.count), Some(2));
        assert_eq!(summary.row("  list, all").map(|r| r.count), Some(1));
        let verdicts: Vec<bool> = summary.targets().iter().map(|t| t.met).collect();
        // 1 pair/s is far below 1,500/s; p99 30 ms > 20 ms; risk 2 ms <= 5 ms;
        // list p99 12 ms > 10 ms.
        assert_eq!(verdicts, [false, false, true, false]);
    }

    #[test]
    fn the_writer_line_bounds_the_rate_by_its_time_per_pair() {
        let used = WriterUse {
            transactions: 2_000,
            busy: Duration::from_millis(3_600),
            window: Duration::from_secs(4),
        };
        assert_eq!(
            describe_writer(&used, 1_000),
            "SQLite's writer connection: 2000 write transactions (2.00 per create+submit), held 90% \
             of the window, 1.80 ms each: 3.60 ms per create+submit, a ceiling of 278 \
             create+submit a second were the writer the only limit"
        );
    }
}
