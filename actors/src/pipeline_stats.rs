//! What the data pipeline's workers are doing, readable from outside without locks: total busy time
//! (for the per-stage utilisation report) and, per worker, the sample in hand and since when (for
//! the stall watchdog, which must name the stuck worker and file, not just say "no batch").

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Shared by the decode workers (writers) and the trainer (reader).
#[derive(Debug)]
pub struct PipelineStats {
    epoch: Instant,
    busy_nanos: AtomicU64,
    workers: Vec<WorkerSlot>,
}

/// One worker's current job: the dataset index and when it started (0 = idle).
#[derive(Debug, Default)]
struct WorkerSlot {
    started_nanos: AtomicU64,
    index: AtomicU64,
}

/// A worker that has been on one sample for a while.
#[derive(Debug, Clone, PartialEq)]
pub struct BusyWorker {
    /// Worker number (thread `lgd-decode-N`).
    pub worker: usize,
    /// Dataset index of the sample it is producing.
    pub index: usize,
    /// How long it has been on it.
    pub for_time: Duration,
}

impl PipelineStats {
    /// Stats for `workers` decode threads.
    pub fn new(workers: usize) -> Self {
        Self {
            epoch: Instant::now(),
            busy_nanos: AtomicU64::new(0),
            workers: (0..workers).map(|_| WorkerSlot::default()).collect(),
        }
    }

    fn now_nanos(&self) -> u64 {
        // +1 so that a job started at the very first nanosecond is not taken for "idle".
        self.epoch.elapsed().as_nanos() as u64 + 1
    }

    /// Worker `worker` starts producing dataset sample `index`.
    pub fn begin(&self, worker: usize, index: usize) {
        let slot = &self.workers[worker];
        slot.index.store(index as u64, Ordering::Relaxed);
        slot.started_nanos.store(self.now_nanos(), Ordering::Release);
    }

    /// Worker `worker` finished its sample.
    pub fn end(&self, worker: usize) {
        let started = self.workers[worker].started_nanos.swap(0, Ordering::AcqRel);
        if started != 0 {
            self.busy_nanos.fetch_add(self.now_nanos().saturating_sub(started), Ordering::Relaxed);
        }
    }

    /// Number of decode workers.
    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    /// Total time workers spent producing samples (finished samples only).
    pub fn busy(&self) -> Duration {
        Duration::from_nanos(self.busy_nanos.load(Ordering::Relaxed))
    }

    /// The worker that has been longest on its current sample, if any is busy.
    pub fn longest_busy(&self) -> Option<BusyWorker> {
        let now = self.now_nanos();
        self.workers
            .iter()
            .enumerate()
            .filter_map(|(worker, slot)| {
                let started = slot.started_nanos.load(Ordering::Acquire);
                (started != 0).then(|| BusyWorker {
                    worker,
                    index: slot.index.load(Ordering::Relaxed) as usize,
                    for_time: Duration::from_nanos(now.saturating_sub(started)),
                })
            })
            .max_by_key(|busy| busy.for_time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_time_and_the_longest_job_are_tracked() {
        let stats = PipelineStats::new(2);
        assert_eq!(stats.longest_busy(), None);
        stats.begin(1, 42);
        std::thread::sleep(Duration::from_millis(20));
        stats.begin(0, 7);
        let longest = stats.longest_busy().unwrap();
        assert_eq!((longest.worker, longest.index), (1, 42));
        assert!(longest.for_time >= Duration::from_millis(20));
        stats.end(1);
        stats.end(0);
        assert_eq!(stats.longest_busy(), None);
        assert!(stats.busy() >= Duration::from_millis(20));
    }
}
