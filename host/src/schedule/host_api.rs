//! The schedules' part of [`Host`]: add, list, pause, resume, delete, and
//! what a scheduler (`cairn serve`'s) calls to start or skip a due run.

use tokio::sync::oneshot;

use super::cron::CronExpr;
use super::{CatchUp, LATE_AFTER_US, ScheduleError, ScheduleSpec, ScheduleView};
use crate::background::{Started, started};
use crate::component::Component;
use crate::error::{JournalError, RunError};
use crate::host::Host;
use crate::journal::record::ScheduleRecord;
use crate::journal::{Entry, ScheduleWrite, Sync};
use crate::names;

/// The most missed due times counted when a run passes over them.
const COUNT_CAP: u64 = 1_000_000;

/// What a scheduler does with a schedule now (see [`Host::due`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Due {
    /// Nothing until this time (µs since the Unix epoch); `u64::MAX` when
    /// paused or never due again.
    At(u64),
    /// Start the run due at this time ([`Host::start_scheduled`]).
    Run(u64),
    /// The run due at this time was missed and the policy skips it
    /// ([`Host::skip_missed`]).
    Skip(u64),
}

fn bad_cron(cron: &str, reason: String) -> ScheduleError {
    ScheduleError::BadCron {
        cron: names::shown(cron),
        reason,
    }
}

/// A stored schedule's expression (checked when it was added).
fn expr_of(name: &str, record: &ScheduleRecord, now_us: u64) -> Result<CronExpr, JournalError> {
    CronExpr::parse(&record.cron, now_us).map_err(|reason| JournalError::Corrupt {
        what: format!("schedules/{name}"),
        reason: format!("its cron expression does not parse any more: {reason}"),
    })
}

impl Host {
    /// Adds schedule `spec.name`, which starts `spec.flow` of `component`
    /// with `spec.input` each time `spec.cron` (UTC) is due, from now on.
    /// The flow and the input are checked as a run checks them, and the
    /// component is stored in the journal; the runs start in `cairn serve`.
    pub async fn add_schedule(
        &self,
        component: &Component,
        spec: &ScheduleSpec,
    ) -> Result<ScheduleView, ScheduleError> {
        names::check("schedule", &spec.name).map_err(ScheduleError::BadName)?;
        let now = self.runner().clock.now_us();
        let cron = CronExpr::parse(&spec.cron, now).map_err(|r| bad_cron(&spec.cron, r))?;
        let input = (self.runner())
            .check_scheduled(component, &spec.flow, &spec.input)
            .map_err(ScheduleError::Run)?;
        let journal = &self.runner().journal;
        let entry = Entry::Component {
            hash: component.hash(),
            bytes: component.bytes(),
        };
        journal.write(&[entry], Sync::Durable).await?;
        let record = ScheduleRecord {
            component: component.hash(),
            flow: spec.flow.clone(),
            input,
            cron: spec.cron.trim().to_owned(),
            catch_up: spec.catch_up,
            paused: false,
            // Parsed above, so it is due at some time after now.
            next_due_us: cron.next_after(now).unwrap_or(u64::MAX),
            created_at_us: now,
            runs: 0,
            skipped: 0,
            last_run: None,
        };
        let put = record.clone();
        let before = journal
            .change_schedule(
                &spec.name,
                Box::new(move |before| match before {
                    Some(_) => ScheduleWrite::Keep,
                    None => ScheduleWrite::Put(put),
                }),
            )
            .await?;
        if before.is_some() {
            return Err(ScheduleError::Exists(names::shown(&spec.name)));
        }
        Ok(ScheduleView::of(spec.name.clone(), record))
    }

    /// Every schedule, by name.
    pub async fn schedules(&self) -> Result<Vec<ScheduleView>, JournalError> {
        let all = self.runner().journal.schedules().await?;
        Ok(all
            .into_iter()
            .map(|(name, record)| ScheduleView::of(name, record))
            .collect())
    }

    /// One schedule.
    pub async fn schedule(&self, name: &str) -> Result<ScheduleView, ScheduleError> {
        self.schedules()
            .await?
            .into_iter()
            .find(|s| s.name == name)
            .ok_or_else(|| ScheduleError::Unknown(names::shown(name)))
    }

    /// Pauses schedule `name`: no run starts until it is resumed.
    pub async fn pause_schedule(&self, name: &str) -> Result<ScheduleView, ScheduleError> {
        self.set_paused(name, true).await
    }

    /// Resumes schedule `name`: its next run is its next due time from now
    /// (what came due while it was paused is not run).
    pub async fn resume_schedule(&self, name: &str) -> Result<ScheduleView, ScheduleError> {
        self.set_paused(name, false).await
    }

    async fn set_paused(&self, name: &str, paused: bool) -> Result<ScheduleView, ScheduleError> {
        let now = self.runner().clock.now_us();
        let changed = std::sync::Arc::new(std::sync::Mutex::new(None));
        let keep = changed.clone();
        let before = (self.runner().journal)
            .change_schedule(
                name,
                Box::new(move |before| {
                    let Some(record) = before else {
                        return ScheduleWrite::Keep;
                    };
                    let mut record = record.clone();
                    if !paused && record.paused {
                        record.next_due_us = CronExpr::parse(&record.cron, now)
                            .ok()
                            .and_then(|cron| cron.next_after(now))
                            .unwrap_or(u64::MAX);
                    }
                    record.paused = paused;
                    *keep
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(record.clone());
                    ScheduleWrite::Put(record)
                }),
            )
            .await?;
        if before.is_none() {
            return Err(ScheduleError::Unknown(names::shown(name)));
        }
        let record = changed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        record
            .map(|r| ScheduleView::of(name.to_owned(), r))
            .ok_or_else(|| ScheduleError::Unknown(names::shown(name)))
    }

    /// Deletes schedule `name` (the executions it started stay); returns
    /// it as it was.
    pub async fn delete_schedule(&self, name: &str) -> Result<ScheduleView, ScheduleError> {
        let before = (self.runner().journal)
            .change_schedule(
                name,
                Box::new(|before| match before {
                    Some(_) => ScheduleWrite::Delete,
                    None => ScheduleWrite::Keep,
                }),
            )
            .await?;
        match before {
            Some(record) => Ok(ScheduleView::of(name.to_owned(), record)),
            None => Err(ScheduleError::Unknown(names::shown(name))),
        }
    }

    /// What a scheduler does with `schedule` at `now_us`: wait, start its
    /// due run, or skip its missed runs (see the schedule module).
    pub fn due(&self, schedule: &ScheduleView, now_us: u64) -> Due {
        if schedule.paused || schedule.next_due_us == u64::MAX {
            return Due::At(u64::MAX);
        }
        let due = schedule.next_due_us;
        if due > now_us {
            return Due::At(due);
        }
        let later_passed = CronExpr::parse(&schedule.cron, now_us)
            .ok()
            .and_then(|cron| cron.next_after(due))
            .is_some_and(|next| next <= now_us);
        let missed = later_passed || now_us - due > LATE_AFTER_US;
        match (missed, schedule.catch_up) {
            (true, CatchUp::Skip) => Due::Skip(due),
            _ => Due::Run(due),
        }
    }

    /// Starts the run of schedule `name` due at `due_us` as a new
    /// execution, in the same journal transaction that moves the schedule
    /// on to its next due time after now, and returns once it is written;
    /// [`RunError::NotDue`] when the schedule no longer holds that due time
    /// (another worker started the run, or it was paused or changed).
    pub async fn start_scheduled(
        &self,
        name: &str,
        due_us: u64,
    ) -> Result<Started<RunError>, RunError> {
        let not_due = || RunError::NotDue {
            schedule: names::shown(name),
        };
        let runner = self.runner().clone();
        let schedule = (runner.journal.schedules().await?)
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, record)| record)
            .ok_or_else(not_due)?;
        let now = self.runner().clock.now_us();
        let cron = expr_of(name, &schedule, now)?;
        let advance = Box::new(
            move |record: &ScheduleRecord, id: crate::model::ExecutionId| {
                if record.paused || record.next_due_us != due_us {
                    return None;
                }
                let mut next = record.clone();
                next.next_due_us = cron.next_after(now.max(due_us)).unwrap_or(u64::MAX);
                next.skipped += cron.count_between(due_us, now, COUNT_CAP);
                next.runs += 1;
                next.last_run = Some((due_us, id.0));
                Some(next)
            },
        );
        let name = name.to_owned();
        let (announce, announced) = oneshot::channel();
        let task = tokio::spawn(async move {
            runner
                .start_scheduled(&name, &schedule, advance, Some(announce))
                .await
        });
        started(announced, task, |exec, reason| RunError::Host {
            exec,
            reason,
        })
        .await
    }

    /// Passes over the missed run of schedule `name` due at `due_us` (and
    /// every later one up to now) without starting it; `false` when the
    /// schedule no longer holds that due time.
    pub async fn skip_missed(&self, name: &str, due_us: u64) -> Result<bool, JournalError> {
        let now = self.runner().clock.now_us();
        let moved = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = moved.clone();
        (self.runner().journal)
            .change_schedule(
                name,
                Box::new(move |before| {
                    let Some(record) = before else {
                        return ScheduleWrite::Keep;
                    };
                    if record.paused || record.next_due_us != due_us {
                        return ScheduleWrite::Keep;
                    }
                    let Ok(cron) = CronExpr::parse(&record.cron, now) else {
                        return ScheduleWrite::Keep;
                    };
                    let mut record = record.clone();
                    record.next_due_us = cron.next_after(now).unwrap_or(u64::MAX);
                    record.skipped += 1 + cron.count_between(due_us, now, COUNT_CAP);
                    flag.store(true, std::sync::atomic::Ordering::Relaxed);
                    ScheduleWrite::Put(record)
                }),
            )
            .await?;
        Ok(moved.load(std::sync::atomic::Ordering::Relaxed))
    }
}
