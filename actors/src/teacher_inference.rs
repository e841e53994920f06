//! Teacher inference, the "device stage": an actor on a thread of its own that takes each host
//! batch from its mailbox (`pipeline.device_batches`), uploads it, finishes its views where the
//! photometric half runs on the device, and runs the frozen teacher (or replays its keys). The
//! prepared batch goes out, in order, on a channel of `pipeline.teacher_outputs`: the teacher
//! works on batch k+1 while the student steps on batch k. Generic over [`TeacherInference`],
//! which the daemon implements with tensors (`src/daemon/device_work.rs`).

use crossbeam_channel::Sender;

use crate::data_pipeline::HostBatch;
use crate::stage_actor::{Mailbox, StageHandle, StageOutput, StageWork};

/// The actor's name in messages and its thread's name.
pub const NAME: (&str, &str) = ("device stage", "lgd-device-stage");

/// What the actor does to each host batch.
pub trait TeacherInference: Send + 'static {
    /// A batch ready for the student: views and the teacher's keys, on the device.
    type Prepared: Send + 'static;
    /// Why a batch could not be prepared.
    type Error: std::error::Error + Send + Sync + 'static;
    /// Uploads `batch`, finishes its views and computes (or replays) its keys.
    fn prepare(&mut self, batch: HostBatch) -> Result<Self::Prepared, Self::Error>;
}

/// The work of the actor's stage (its message: one `HostBatch`).
pub struct Inference<T>(T);

impl<T: TeacherInference> StageWork for Inference<T> {
    type Input = HostBatch;
    type Output = T::Prepared;
    type Error = T::Error;

    fn run(&mut self, batch: HostBatch) -> Result<T::Prepared, T::Error> {
        self.0.prepare(batch)
    }
}

/// The running actor.
pub type TeacherInferenceRef<T> = StageHandle<Inference<T>>;

/// Starts the actor on `work` with the ends the topology made. Fails only if the OS refuses a
/// thread.
pub fn start<T: TeacherInference>(
    work: T,
    mailbox: Mailbox<Inference<T>>,
    outputs: Sender<StageOutput<Inference<T>>>,
) -> std::io::Result<TeacherInferenceRef<T>> {
    StageHandle::start(NAME, Inference(work), mailbox, outputs)
}
