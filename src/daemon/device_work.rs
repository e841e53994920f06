//! What the device stage of `lgd train` does to each host batch, on its own thread while the step
//! of the batch before runs: the upload (from page-locked memory to a GPU), the photometric half
//! of the views when it runs on the device, and the teacher's keys — replayed from the run's
//! teacher-output cache when it holds them. The step then only runs the student. With
//! `teacher.own_stream` on a GPU all of it goes to a CUDA stream of this thread's own, and each
//! batch carries an event its consumer's stream waits for.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use lgd_actors::data_pipeline::HostBatch;
use lgd_actors::teacher_inference::TeacherInference;
use tch::{Device, Kind, Tensor};

use super::AnyTeacher;
use crate::config::FaultInjectionSection;
use crate::photometric::DevicePhotometric;
use crate::teacher_cache::replay::TeacherReplay;
use crate::torch_ext::{use_own_stream, ReadyEvent, TorchExtError};
use crate::train::teacher_keys;

/// A batch ready for the student step.
pub(super) struct DeviceBatch {
    /// The epoch the batch belongs to.
    pub epoch: u64,
    /// Files replaced by other samples in this batch, with the reason.
    pub bad: Vec<(PathBuf, String)>,
    /// Normalised `[B, 3, S, S]` views on the training device.
    pub images: Tensor,
    /// The teacher's keys of those views (`[B, D]`, unit rows, f32).
    pub keys: Tensor,
    /// With a teacher-output cache: whether the keys were replayed (else computed and stored).
    pub replayed: Option<bool>,
    /// With `teacher.own_stream` on a GPU: completes when `images` and `keys` are written.
    pub ready: Option<ReadyEvent>,
}

/// The device stage's work in a training run.
pub(super) struct TeacherWork {
    pub photometric: DevicePhotometric,
    pub teacher: AnyTeacher,
    /// Side of the square views.
    pub side: i64,
    pub device: Device,
    /// The forward passes' autocast dtype and layout, as the step has them.
    pub autocast: Option<Kind>,
    pub channels_last: bool,
    /// `teacher.cache_views > 0`: shared with the loop, which flushes it with each checkpoint.
    pub replay: Option<Arc<Mutex<TeacherReplay>>>,
    /// Failures on purpose (none outside the fault-injection tests).
    pub faults: FaultInjectionSection,
    /// Batches this stage has started preparing.
    pub prepared: u64,
    /// `teacher.own_stream`: this thread queues its device work on a stream of its own.
    pub own_stream: bool,
}

/// Why the device stage could not prepare a batch.
#[derive(Debug, thiserror::Error)]
pub(super) enum DeviceStageError {
    /// Its CUDA stream or the batch's ready event could not be made.
    #[error("{0}")]
    Stream(#[source] TorchExtError),
    /// The teacher's forward failed.
    #[error("teacher: {0}")]
    Teacher(#[source] TorchExtError),
    /// A panic elsewhere left the shared teacher-output cache unusable.
    #[error("the teacher-output cache was poisoned by a panic")]
    ReplayPoisoned,
}

impl TeacherInference for TeacherWork {
    type Prepared = DeviceBatch;
    type Error = DeviceStageError;

    fn prepare(&mut self, host: HostBatch) -> Result<DeviceBatch, DeviceStageError> {
        self.prepared += 1;
        self.faults.before_device_batch(self.prepared);
        if self.own_stream && self.prepared == 1 {
            // The stage's thread keeps the stream for its life; a restarted stage makes a new one.
            use_own_stream(self.device).map_err(DeviceStageError::Stream)?;
        }
        let images = self.photometric.batch(&host.pixels, self.side);
        let compute = || {
            teacher_keys(&self.teacher, &images, self.autocast, self.channels_last).map_err(DeviceStageError::Teacher)
        };
        let (keys, replayed) = match &self.replay {
            Some(replay) => {
                let mut replay = replay.lock().map_err(|_| DeviceStageError::ReplayPoisoned)?;
                let (keys, replayed) = replay.keys(&host, self.device, compute)?;
                (keys, Some(replayed))
            }
            None => (compute()?, None),
        };
        let ready = match self.own_stream {
            true => ReadyEvent::record(self.device).map_err(DeviceStageError::Stream)?,
            false => None,
        };
        Ok(DeviceBatch { epoch: host.epoch, bad: host.bad, images, keys, replayed, ready })
    }
}
