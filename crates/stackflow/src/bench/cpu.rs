//! The process's CPU time and context switches, read from Linux's `/proc`,
//! so a benchmark can print what each iteration cost in CPU beside its
//! rate.
//!
//! Why: on a shared machine the rate of the same build moves by a tenth or
//! more from run to run with what the neighbours do, while the CPU time an
//! iteration takes moves far less. Comparing builds by CPU per iteration
//! shows a change the rate's noise hides. Elsewhere than Linux nothing is
//! read and nothing printed.

use std::collections::BTreeMap;
use std::time::Duration;

/// Clock ticks per second of `/proc/self/stat`'s times: `USER_HZ`, which
/// Linux fixes at 100 on every architecture it reports to user space.
const TICKS_PER_SECOND: u64 = 100;

/// What the process had used at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuSample {
    /// CPU time in user mode, all threads, the ended ones included.
    pub user: Duration,
    /// CPU time in the kernel on the process's behalf.
    pub system: Duration,
    /// The threads alive at the moment, by thread id.
    pub threads: BTreeMap<u32, ThreadSample>,
}

/// What one thread had used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadSample {
    /// Its name (`tokio-rt-worker`, `sqlx-sqlite-wor`…: Linux keeps 15
    /// bytes of it).
    pub name: String,
    /// User and kernel time.
    pub cpu: Duration,
    /// Context switches, voluntary (waiting for something) and not.
    pub switches: u64,
}

impl CpuSample {
    /// Reads the process's figures now; `None` where `/proc` does not
    /// hold them.
    pub fn now() -> Option<CpuSample> {
        let (user, system) = parse_times(&std::fs::read_to_string("/proc/self/stat").ok()?)?;
        let mut threads = BTreeMap::new();
        for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
            let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
                continue;
            };
            // A thread that ended since the listing is simply not counted.
            let read = |file: &str| std::fs::read_to_string(task.path().join(file)).ok();
            if let (Some(stat), Some(status), Some(name)) =
                (read("stat"), read("status"), read("comm"))
                && let Some((user, system)) = parse_times(&stat)
            {
                threads.insert(
                    tid,
                    ThreadSample {
                        name: name.trim().to_owned(),
                        cpu: user + system,
                        switches: parse_switches(&status),
                    },
                );
            }
        }
        Some(CpuSample {
            user,
            system,
            threads,
        })
    }
}

/// What a stretch of work used: the difference of two samples.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuUse {
    pub user: Duration,
    pub system: Duration,
    /// By thread name, over the threads alive at both ends: CPU time and
    /// context switches, busiest first.
    pub by_name: Vec<(String, Duration, u64)>,
}

impl CpuUse {
    pub fn between(start: &CpuSample, end: &CpuSample) -> CpuUse {
        let mut by_name: BTreeMap<&str, (Duration, u64)> = BTreeMap::new();
        for (tid, last) in &end.threads {
            if let Some(first) = start.threads.get(tid) {
                let entry = by_name.entry(last.name.as_str()).or_default();
                entry.0 += last.cpu.saturating_sub(first.cpu);
                entry.1 += last.switches.saturating_sub(first.switches);
            }
        }
        let mut by_name: Vec<(String, Duration, u64)> = by_name
            .into_iter()
            .map(|(name, (cpu, switches))| (name.to_owned(), cpu, switches))
            .collect();
        by_name.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        CpuUse {
            user: end.user.saturating_sub(start.user),
            system: end.system.saturating_sub(start.system),
            by_name,
        }
    }

    /// The lines a benchmark prints: CPU per iteration, split user and
    /// kernel, the cores used over `window`, then the same per iteration
    /// by thread name, with context switches.
    pub fn describe(&self, iterations: usize, window: Duration) -> String {
        let n = iterations.max(1) as f64;
        let per = |d: Duration| d.as_secs_f64() * 1000.0 / n;
        let total = self.user + self.system;
        let switches: u64 = self.by_name.iter().map(|(_, _, s)| s).sum();
        let mut text = format!(
            "CPU per create+submit iteration: {:.2} ms ({:.2} user, {:.2} kernel), {:.0} context \
             switches; {:.2} cores busy over the {:.1} s window",
            per(total),
            per(self.user),
            per(self.system),
            switches as f64 / n,
            total.as_secs_f64() / window.as_secs_f64().max(1e-9),
            window.as_secs_f64(),
        );
        // Threads that did nothing worth a figure (the process's main
        // thread, waiting for the run to end) are left out.
        let shown = (self.by_name.iter())
            .filter(|(_, cpu, switches)| per(*cpu) >= 0.005 || *switches as f64 / n >= 0.5);
        for (name, cpu, switches) in shown {
            text.push_str(&format!(
                "\n  {name:<18} {:>6.2} ms {:>6.0} switches",
                per(*cpu),
                *switches as f64 / n
            ));
        }
        text
    }
}

/// User and system time from the text of `/proc/<pid>/stat`. The second
/// field, the command, is in parentheses and may hold spaces and
/// parentheses itself, so the fields are counted after its last `)`:
/// `utime` and `stime` are the 14th and 15th fields of the line.
fn parse_times(stat: &str) -> Option<(Duration, Duration)> {
    let after_command = &stat[stat.rfind(')')? + 1..];
    // Fields from the 3rd (state) on.
    let fields: Vec<&str> = after_command.split_whitespace().collect();
    let ticks = |field: usize| -> Option<Duration> {
        let value: u64 = fields.get(field - 3)?.parse().ok()?;
        Some(Duration::from_millis(value * 1000 / TICKS_PER_SECOND))
    };
    Some((ticks(14)?, ticks(15)?))
}

/// Voluntary plus involuntary context switches from the text of
/// `/proc/<pid>/task/<tid>/status`.
fn parse_switches(status: &str) -> u64 {
    status
        .lines()
        .filter_map(|line| {
            let (key, value) = line.split_once(':')?;
            matches!(
                key,
                "voluntary_ctxt_switches" | "nonvoluntary_ctxt_switches"
            )
            .then(|| value.trim().parse::<u64>().ok())?
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_read_after_the_command_even_when_it_holds_spaces() {
        let stat = "4242 (sf (bench) x) S 1 4242 4242 0 -1 4194560 9137 0 0 0 1234 567 0 0 20 0 \
                    18 0 1000 2000000 3000 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1";
        assert_eq!(
            parse_times(stat),
            Some((Duration::from_millis(12_340), Duration::from_millis(5_670)))
        );
    }

    #[test]
    fn a_short_or_garbled_stat_gives_nothing() {
        assert_eq!(parse_times("4242 (x) S 1 2 3"), None);
        assert_eq!(parse_times("no parenthesis here"), None);
        assert_eq!(
            parse_times("1 (x) S 1 1 1 0 -1 0 0 0 0 0 abc 5 0"),
            None,
            "a field that is not a number"
        );
    }

    #[test]
    fn both_kinds_of_switch_are_counted() {
        let status = "Name:\tstackflow\nState:\tS (sleeping)\nvoluntary_ctxt_switches:\t150\n\
                      nonvoluntary_ctxt_switches:\t7\n";
        assert_eq!(parse_switches(status), 157);
        assert_eq!(parse_switches("Name:\tx\n"), 0);
    }

    fn thread(name: &str, cpu_ms: u64, switches: u64) -> ThreadSample {
        ThreadSample {
            name: name.to_owned(),
            cpu: Duration::from_millis(cpu_ms),
            switches,
        }
    }

    #[test]
    fn use_is_the_difference_shared_by_the_iterations_and_grouped_by_thread_name() {
        let start = CpuSample {
            user: Duration::from_millis(1_000),
            system: Duration::from_millis(500),
            threads: BTreeMap::from([
                (1, thread("worker", 100, 10)),
                (2, thread("worker", 200, 20)),
                (3, thread("sqlite", 50, 5)),
                (4, thread("gone", 10, 1)),
                (6, thread("idle", 1, 0)),
            ]),
        };
        let end = CpuSample {
            user: Duration::from_millis(3_000),
            system: Duration::from_millis(1_500),
            threads: BTreeMap::from([
                (1, thread("worker", 600, 2_010)),
                (2, thread("worker", 1_200, 3_020)),
                (3, thread("sqlite", 1_050, 35_005)),
                (5, thread("new", 999, 999)),
                (6, thread("idle", 1, 0)),
            ]),
        };
        let used = CpuUse::between(&start, &end);
        assert_eq!(used.user, Duration::from_millis(2_000));
        assert_eq!(used.system, Duration::from_millis(1_000));
        assert_eq!(
            used.by_name,
            vec![
                ("worker".to_owned(), Duration::from_millis(1_500), 5_000),
                ("sqlite".to_owned(), Duration::from_millis(1_000), 35_000),
                ("idle".to_owned(), Duration::ZERO, 0),
            ],
            "threads alive at both ends only, busiest first"
        );
        let text = used.describe(1_000, Duration::from_secs(2));
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some(
                "CPU per create+submit iteration: 3.00 ms (2.00 user, 1.00 kernel), 40 context \
                 switches; 1.50 cores busy over the 2.0 s window"
            )
        );
        assert_eq!(
            lines.next(),
            Some("  worker               1.50 ms      5 switches")
        );
        assert_eq!(
            lines.next(),
            Some("  sqlite               1.00 ms     35 switches")
        );
        assert_eq!(lines.next(), None, "a thread that did nothing is not shown");
    }

    #[test]
    fn this_process_can_be_read_on_linux() {
        if cfg!(target_os = "linux") {
            let sample = CpuSample::now().expect("/proc/self is readable");
            assert!(!sample.threads.is_empty(), "{sample:?}");
            assert!(
                sample.threads.values().any(|t| t.switches > 0),
                "{sample:?}"
            );
        }
    }
}
