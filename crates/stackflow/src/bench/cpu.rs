//! The process's CPU time and context switches, read from Linux's `/proc`,
//! so a benchmark can print what each iteration cost in CPU beside its
//! rate, and which threads spent it.
//!
//! Why: a rate alone does not say where the time went. The split by thread
//! (the async runtime's workers, SQLite's connection threads, the writer)
//! and the context switches per iteration show what a change of build
//! moved. Elsewhere than Linux nothing is read and nothing printed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Clock ticks per second of `/proc/self/stat`'s times: `USER_HZ`, 100 on
/// x86 and ARM Linux, the machines this runs on (Alpha's 1,024 would
/// scale every figure).
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
    /// When it was read.
    pub at: Instant,
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
            at: Instant::now(),
        })
    }
}

/// What a stretch of work used: the difference of two samples.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuUse {
    /// User-mode CPU time of the whole process, ended threads included.
    pub user: Duration,
    /// Kernel CPU time of the whole process.
    pub system: Duration,
    /// By thread name, over the threads alive at the end (one started
    /// since the first sample counts from zero; one that ended takes its
    /// figures with it): CPU time and context switches, busiest first.
    pub by_name: Vec<(String, Duration, u64)>,
    /// The time between the samples.
    pub span: Duration,
}

impl CpuUse {
    /// What was used from `start` to `end`.
    pub fn between(start: &CpuSample, end: &CpuSample) -> CpuUse {
        let mut by_name: BTreeMap<&str, (Duration, u64)> = BTreeMap::new();
        for (tid, last) in &end.threads {
            // A thread id of another name was reused by a new thread.
            let (cpu, switches) = (start.threads.get(tid))
                .filter(|first| first.name == last.name)
                .map_or((Duration::ZERO, 0), |first| (first.cpu, first.switches));
            let entry = by_name.entry(last.name.as_str()).or_default();
            entry.0 += last.cpu.saturating_sub(cpu);
            entry.1 += last.switches.saturating_sub(switches);
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
            span: end.at.saturating_duration_since(start.at),
        }
    }

    /// The lines a benchmark prints: CPU per `iteration` (what one is, in
    /// words), split user and kernel, the cores used between the samples,
    /// then the same per iteration by thread name, with context switches
    /// (of the threads alive at the end).
    pub fn describe(&self, iteration: &str, iterations: usize) -> String {
        let n = iterations.max(1) as f64;
        let per = |d: Duration| d.as_secs_f64() * 1000.0 / n;
        let total = self.user + self.system;
        let switches: u64 = self.by_name.iter().map(|(_, _, s)| s).sum();
        let mut text = format!(
            "CPU per iteration ({iteration}): {:.2} ms ({:.2} user, {:.2} kernel), {:.0} context \
             switches; {:.2} cores busy over {:.1} s",
            per(total),
            per(self.user),
            per(self.system),
            switches as f64 / n,
            total.as_secs_f64() / self.span.as_secs_f64().max(1e-9),
            self.span.as_secs_f64(),
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
        let t0 = Instant::now();
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
            at: t0,
        };
        let end = CpuSample {
            user: Duration::from_millis(3_000),
            system: Duration::from_millis(1_500),
            threads: BTreeMap::from([
                (1, thread("worker", 600, 2_010)),
                (2, thread("worker", 1_200, 3_020)),
                (3, thread("sqlite", 1_050, 35_005)),
                (5, thread("sqlite", 400, 2_000)),
                (6, thread("idle", 1, 0)),
                (4, thread("worker", 30, 3)),
            ]),
            at: t0 + Duration::from_secs(2),
        };
        let used = CpuUse::between(&start, &end);
        assert_eq!(used.user, Duration::from_millis(2_000));
        assert_eq!(used.system, Duration::from_millis(1_000));
        assert_eq!(used.span, Duration::from_secs(2));
        assert_eq!(
            used.by_name,
            vec![
                ("worker".to_owned(), Duration::from_millis(1_530), 5_003),
                ("sqlite".to_owned(), Duration::from_millis(1_400), 37_000),
                ("idle".to_owned(), Duration::ZERO, 0),
            ],
            "a thread started since the first sample (or on a reused id) counts from zero; \
             busiest first"
        );
        let text = used.describe("create, submit, list, risk", 1_000);
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some(
                "CPU per iteration (create, submit, list, risk): 3.00 ms (2.00 user, 1.00 kernel), \
                 42 context switches; 1.50 cores busy over 2.0 s"
            )
        );
        assert_eq!(
            lines.next(),
            Some("  worker               1.53 ms      5 switches")
        );
        assert_eq!(
            lines.next(),
            Some("  sqlite               1.40 ms     37 switches")
        );
        assert_eq!(lines.next(), None, "a thread that did nothing is not shown");
    }

    #[test]
    fn this_process_can_be_read_on_linux() {
        if cfg!(target_os = "linux") {
            // This thread's id: `/proc/thread-self` links to `<pid>/task/<tid>`.
            let link = std::fs::read_link("/proc/thread-self").expect("a Linux /proc");
            let tid: u32 = (link.file_name().and_then(|t| t.to_str()))
                .and_then(|t| t.parse().ok())
                .expect("a thread id");
            let start = CpuSample::now().expect("/proc/self is readable");
            let this = |sample: &CpuSample| sample.threads.get(&tid).map(|t| t.cpu);
            let before = this(&start).expect("this thread is listed");
            // Spin on this thread until its reading shows 50 ms of CPU more
            // (however busy the machine), or give up after 10 s of wall time.
            let give_up = Instant::now() + Duration::from_secs(10);
            let mut spins = 0u64;
            let (end, used) = loop {
                for _ in 0..1_000_000 {
                    spins = std::hint::black_box(spins + 1);
                }
                let end = CpuSample::now().expect("/proc/self is readable");
                let used = this(&end).unwrap_or_default().saturating_sub(before);
                if used >= Duration::from_millis(50) || Instant::now() > give_up {
                    break (end, used);
                }
            };
            assert!(
                used >= Duration::from_millis(50),
                "this thread used {used:?}"
            );
            let process = CpuUse::between(&start, &end);
            // Two ticks of slack: times count in 10 ms ticks, and the
            // process's line is read just before the threads'.
            let slack = Duration::from_millis(2 * 1000 / TICKS_PER_SECOND);
            assert!(process.user + process.system + slack >= used, "{process:?}");
            assert!(process.span + slack >= used, "{process:?}");
        }
    }
}
