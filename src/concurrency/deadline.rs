//! The per-domain deadline (`--deadline`): one bound on the DNS reads done
//! for one domain — every query, resend, TCP fallback and resolver step —
//! and, when it passes, the step the domain was on.
//!
//! `--timeout` bounds one attempt and `DnsOptions::attempts` how many, but
//! a domain is many exchanges, some after others: one `check` with every
//! answer just inside its limit took 17.7 s, a `replication` 39 s (issue
//! 17). [`within`] cuts the domain's work off at its deadline. The DNS
//! transport records each exchange it is in with [`step`] as it goes, so
//! the finding can say where the time went without any command passing a
//! tracker around. What is not under it (UPDATEs sent and the reads after
//! them, `probe`'s KMS connections, the waits for convergence) has its own
//! bound: docs/timeouts.md.

use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::report::{Finding, FindingId, Severity};

tokio::task_local! {
    static STEPS: Arc<Steps>;
}

/// What one domain's work is doing: the steps in progress, in the order
/// they started, and the last one started.
#[derive(Default)]
struct Steps {
    inner: Mutex<StepsInner>,
}

#[derive(Default)]
struct StepsInner {
    next_id: u64,
    running: Vec<(u64, String)>,
    last: Option<String>,
}

impl Steps {
    fn lock(&self) -> std::sync::MutexGuard<'_, StepsInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The steps in progress, or else the last one that finished.
    fn describe(&self) -> Option<String> {
        let inner = self.lock();
        if inner.running.is_empty() {
            return inner.last.clone();
        }
        let running: Vec<&str> = inner.running.iter().map(|(_, s)| s.as_str()).collect();
        Some(running.join(" and "))
    }
}

/// A step in progress; it ends when this is dropped.
#[must_use = "the step ends when this is dropped"]
pub struct Step {
    held: Option<(Arc<Steps>, u64)>,
}

impl Drop for Step {
    fn drop(&mut self) {
        if let Some((steps, id)) = self.held.take() {
            steps.lock().running.retain(|(running, _)| *running != id);
        }
    }
}

/// Records that the work under a deadline is now doing what `describe`
/// says ("reading _vlmcs._tcp.corp.example. SRV from 127.0.0.1:53 over
/// UDP"), until the returned [`Step`] is dropped. Outside [`within`] it
/// records nothing and `describe` is not called.
pub fn step(describe: impl FnOnce() -> String) -> Step {
    let held = STEPS
        .try_with(|steps| {
            let text = describe();
            let mut inner = steps.lock();
            let id = inner.next_id;
            inner.next_id += 1;
            inner.running.push((id, text.clone()));
            inner.last = Some(text);
            (Arc::clone(steps), id)
        })
        .ok();
    Step { held }
}

/// Work that did not finish within its deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overrun {
    /// The deadline that passed.
    pub limit: Duration,
    /// What the work was doing when it passed, if it said ([`step`]).
    pub step: Option<String>,
}

impl fmt::Display for Overrun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let limit = humantime::format_duration(self.limit);
        let step = match &self.step {
            Some(step) => format!("while {step}"),
            None => "before its first step".to_owned(),
        };
        write!(
            f,
            "stopped after {limit} (--deadline) {step}; nothing after that step was read or judged"
        )
    }
}

impl Overrun {
    /// The `deadline-exceeded` finding for a domain (or a zone) cut off by
    /// its deadline: nothing after the step it was on was read or judged,
    /// so it is reported at `severity`, as a failed read would be there.
    pub fn finding(&self, severity: Severity) -> Finding {
        Finding::new(FindingId::DeadlineExceeded, severity, self.to_string())
            .hint("a server on the way is slow or silent: fix it or the path to it, or raise --deadline (see Timeouts in the README)")
    }
}

/// Far enough ahead to be "never" for a run: a hundred years.
const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The instant `duration` from now; one a hundred years ahead when the
/// clock cannot hold it, never a panic on a long duration.
pub fn instant_after(duration: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(duration)
        .or_else(|| now.checked_add(FAR_FUTURE))
        .unwrap_or(now)
}

/// Runs `work` for at most `limit`; past it, the work is dropped (every
/// socket it held closed) and the step it was on comes back.
pub async fn within<F: Future>(limit: Duration, work: F) -> Result<F::Output, Overrun> {
    let steps = Arc::new(Steps::default());
    let mut work = pin!(STEPS.scope(Arc::clone(&steps), work));
    tokio::select! {
        biased;
        done = &mut work => Ok(done),
        () = tokio::time::sleep(limit) => Err(Overrun {
            limit,
            // Read before the work is dropped, while its steps still run.
            step: steps.describe(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instant_past_what_the_clock_holds_is_far_ahead_not_a_panic() {
        let far = instant_after(Duration::MAX);
        assert!(far > Instant::now() + Duration::from_secs(3600 * 24 * 365));
        let soon = instant_after(Duration::from_secs(1));
        assert!(soon <= Instant::now() + Duration::from_secs(1));
    }

    async fn slow_read(name: &str, seconds: u64) -> &str {
        let _step = step(|| format!("reading {name}"));
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        name
    }

    #[tokio::test(start_paused = true)]
    async fn work_within_its_deadline_is_untouched() {
        let done = within(Duration::from_secs(5), slow_read("a", 4)).await;
        assert_eq!(done, Ok("a"));
    }

    #[tokio::test(start_paused = true)]
    async fn past_its_deadline_the_work_stops_and_names_its_step() {
        let started = tokio::time::Instant::now();
        let work = async {
            slow_read("the SOA", 2).await;
            slow_read("the SRV RRset", 60).await
        };
        let overrun = within(Duration::from_secs(5), work).await.unwrap_err();
        assert_eq!(started.elapsed(), Duration::from_secs(5));
        assert_eq!(overrun.step.as_deref(), Some("reading the SRV RRset"));
        let finding = overrun.finding(Severity::Critical);
        assert_eq!(finding.id, FindingId::DeadlineExceeded);
        assert!(
            finding
                .message
                .contains("5s (--deadline) while reading the SRV RRset"),
            "{}",
            finding.message
        );
    }

    #[tokio::test(start_paused = true)]
    async fn steps_in_parallel_are_all_named() {
        let work = async { tokio::join!(slow_read("one", 60), slow_read("two", 60)) };
        let overrun = within(Duration::from_secs(1), work).await.unwrap_err();
        assert_eq!(overrun.step.as_deref(), Some("reading one and reading two"));
    }

    #[tokio::test(start_paused = true)]
    async fn between_steps_the_last_one_is_named() {
        let work = async {
            slow_read("the SOA", 1).await;
            tokio::time::sleep(Duration::from_secs(60)).await;
        };
        let overrun = within(Duration::from_secs(5), work).await.unwrap_err();
        assert_eq!(overrun.step.as_deref(), Some("reading the SOA"));
    }

    #[test]
    fn outside_a_deadline_a_step_records_nothing() {
        let _step = step(|| unreachable!("not described outside a deadline"));
    }
}
