//! The stages between the training files and the step, with every channel between them created
//! here from `[pipeline]`: the data pipeline (sampler → `decode_workers` → assembler, channels of
//! `decoded_samples` and `host_batches`) and the device stage (a kameo actor that uploads the
//! batch, finishes its views and runs the teacher; a mailbox of `device_batches` host batches and
//! an output channel of `teacher_outputs` prepared ones). The loop keeps the device stage fed so
//! that the teacher works on batch k+1 while the student step of batch k runs.
//!
//! A reload that changes `[pipeline]` restarts both at the trainer's position: every view is
//! drawn from its (seed, epoch, sample) stream, so the new stages deliver the batches the old
//! ones would have, and the run goes on bit for bit as before.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use lgd_actors::actor_error::ActorError;
use lgd_actors::awake_wait::recv_within_running_time;
use lgd_actors::data_pipeline::{DataPipeline, DataPlan, Next};
use lgd_actors::decode_worker::WorkerContext;
use lgd_actors::pipeline_stats::PipelineStats;
use lgd_actors::source::SampleSource;
use lgd_actors::stage_actor::StageOutput;
use lgd_actors::teacher_inference::{self, Inference, TeacherInferenceRef};
use lgd_datasets::augment::pipeline::Augmenter;
use lgd_datasets::augment::PhotometricPlace;
use lgd_datasets::decode::DecodeOptions;
use tch::{Device, Kind};

use super::device_work::{DeviceBatch, TeacherWork};
use super::replica::Replica;
use super::stage_clock::{OtherStagesBusy, StageClock};
use super::status::QueueStatus;
use super::{AnyTeacher, DaemonError};
use crate::config::Config;
use crate::photometric::DevicePhotometric;
use crate::teacher_cache::replay::TeacherReplay;
use crate::torch_ext::TensorMemory;

/// What waiting for the next prepared batch gave.
pub(super) enum Prepared {
    Batch(DeviceBatch),
    /// Every planned batch was delivered.
    Done,
    /// The data pipeline delivered nothing within the stall timeout.
    Stalled,
    /// A stage died; why.
    Failed(DaemonError),
}

/// Why the data stages did not (re)start.
#[derive(Debug, thiserror::Error)]
pub enum DataStagesError {
    /// The batch does not divide over the replicas.
    #[error(transparent)]
    Batch(Box<DaemonError>),
    /// The position lies past the end of an epoch of this data.
    #[error("cannot start the data at batch {step_in_epoch} of epoch {epoch}: its epochs have {per_epoch} batches")]
    PastEpochEnd {
        /// The epoch.
        epoch: u64,
        /// The batch of that epoch.
        step_in_epoch: u64,
        /// Batches in an epoch.
        per_epoch: u64,
    },
    /// The augmentation recipe is invalid.
    #[error(transparent)]
    Augmentation(#[from] lgd_datasets::augment::pipeline::InvalidConfig),
    /// The OS refused the device stage its thread.
    #[error("starting the device stage: {0}")]
    Thread(#[source] std::io::Error),
}

/// What (re)starting the stages needs besides the config and the position.
pub(super) struct StageParts {
    pub source: Arc<dyn SampleSource>,
    pub replica: Replica,
    pub teacher: AnyTeacher,
    pub device: Device,
    /// The step's autocast dtype and layout (`Trainer::forward_precision`).
    pub precision: (Option<Kind>, bool),
    pub replay: Option<Arc<Mutex<TeacherReplay>>>,
}

/// The running stages.
pub(super) struct DataStages {
    parts: StageParts,
    pipeline: DataPipeline,
    stage: TeacherInferenceRef<TeacherWork>,
    prepared: Receiver<StageOutput<Inference<TeacherWork>>>,
    /// (device_batches, teacher_outputs): the two device-stage channels' capacities.
    capacities: (usize, usize),
    /// Host batches handed to the device stage and not yet taken back out.
    in_flight: usize,
    /// The data pipeline has delivered its last planned batch.
    exhausted: bool,
    /// The data pipeline died while batches were in flight: reported once they are used.
    failed: Option<DaemonError>,
    /// Busy time of device stages replaced by a restart.
    earlier_busy: Duration,
}

/// The workers' context for `config`'s data and recipe on `device`: `photometric = "auto"` is
/// resolved here, where the training device is known (the device stage finishes u8 views
/// whatever the config says, so the workers' choice is the only one to make).
fn worker_context(
    config: &Config,
    source: &Arc<dyn SampleSource>,
    device: Device,
) -> Result<WorkerContext, DataStagesError> {
    let mut augmentation = config.augmentation.clone();
    augmentation.photometric = augmentation.photometric.resolve(device.is_cuda());
    if config.augmentation.photometric == PhotometricPlace::Auto {
        tracing::info!(
            device = ?device,
            resolved = augmentation.photometric.name(),
            "augmentation.photometric = \"auto\": jitter, grayscale, blur and normalisation run on the {}",
            if augmentation.photometric == PhotometricPlace::Device { "training device" } else { "decode workers" }
        );
    }
    Ok(WorkerContext {
        source: config.fault_injection.stalling(source.clone()),
        augmenter: Augmenter::new(augmentation)?,
        decode: DecodeOptions { max_pixels: config.data.max_pixels },
        seed: config.run.seed,
        view_epochs: (config.teacher.cache_views > 0).then_some(u64::from(config.teacher.cache_views)),
    })
}

/// The device stage and the receiving end of its output channel.
type DeviceStage = (TeacherInferenceRef<TeacherWork>, Receiver<StageOutput<Inference<TeacherWork>>>);

/// Starts the data pipeline at (epoch, step in epoch) and the device stage behind it, both
/// through the topology.
fn start_stages(
    parts: &StageParts,
    config: &Config,
    (epoch, step_in_epoch): (u64, u64),
) -> Result<(DataPipeline, DeviceStage), DataStagesError> {
    let batch = parts.replica.batch(config).map_err(|e| DataStagesError::Batch(Box::new(e)))?;
    let per_epoch = lgd_actors::sampler::steps_per_epoch(parts.source.len(), config.data.batch_size);
    if step_in_epoch >= per_epoch {
        return Err(DataStagesError::PastEpochEnd { epoch, step_in_epoch, per_epoch });
    }
    let plan = DataPlan {
        batch,
        image_size: config.augmentation.output_size,
        start_epoch: epoch,
        start_step: step_in_epoch,
        epochs: config.schedule.epochs as u64,
        seed: config.run.seed,
        shard: parts.replica.shard(),
        // Assembled in tensors (page-locked for a GPU) that the device stage uploads as they are.
        memory: Arc::new(TensorMemory::for_device(parts.device)),
    };
    let sizing = parts.replica.pipeline(config);
    let pipeline = super::topology::data_pipeline(worker_context(config, &parts.source, parts.device)?, plan, &sizing);
    let work = TeacherWork {
        photometric: DevicePhotometric::new(&config.augmentation, parts.device),
        teacher: parts.teacher.clone(),
        side: config.augmentation.output_size as i64,
        device: parts.device,
        autocast: parts.precision.0,
        channels_last: parts.precision.1,
        replay: parts.replay.clone(),
        faults: config.fault_injection.clone(),
        prepared: 0,
        own_stream: config.teacher.own_stream,
    };
    let stage = super::topology::teacher_inference(work, &sizing).map_err(DataStagesError::Thread)?;
    Ok((pipeline, stage))
}

impl DataStages {
    /// The stages of a run standing at (epoch, step in epoch).
    pub(super) fn start(parts: StageParts, config: &Config, position: (u64, u64)) -> Result<Self, DataStagesError> {
        let (pipeline, (stage, prepared)) = start_stages(&parts, config, position)?;
        let capacities = (config.pipeline.device_batches, config.pipeline.teacher_outputs);
        Ok(Self {
            parts,
            pipeline,
            stage,
            prepared,
            capacities,
            in_flight: 0,
            exhausted: false,
            failed: None,
            earlier_busy: Duration::ZERO,
        })
    }

    /// The next prepared batch. Waits for the data pipeline (at most `stall`) only when the device
    /// stage has nothing in hand; after taking a batch out, hands the stage whatever the pipeline
    /// has ready, so it works while the step runs.
    pub(super) fn next(&mut self, stall: Duration, clock: &mut StageClock) -> Prepared {
        if self.in_flight == 0 {
            if let Some(error) = self.failed.take() {
                return Prepared::Failed(error);
            }
            if self.exhausted {
                return Prepared::Done;
            }
            let start = Instant::now();
            let next = self.pipeline.next_within(Some(stall));
            clock.waiting += start.elapsed();
            match next {
                Next::Done => {
                    self.exhausted = true;
                    return Prepared::Done;
                }
                Next::TimedOut => return Prepared::Stalled,
                Next::Batch(Err(error)) => return Prepared::Failed(error.into()),
                Next::Batch(Ok(host)) => {
                    if let Err(error) = self.stage.submit(host) {
                        return Prepared::Failed(error.into());
                    }
                    self.in_flight += 1;
                }
            }
        }
        let start = Instant::now();
        let received = recv_within_running_time(&self.prepared, stall);
        clock.teacher_wait += start.elapsed();
        let batch = match received {
            Ok(Ok(batch)) => batch,
            Ok(Err(error)) => return Prepared::Failed(error.into()),
            Err(RecvTimeoutError::Timeout) => {
                return Prepared::Failed(DaemonError::DeviceStageStalled { waited: stall })
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Prepared::Failed(ActorError::Stopped { actor: teacher_inference::NAME.0 }.into())
            }
        };
        self.in_flight -= 1;
        self.top_up();
        Prepared::Batch(batch)
    }

    /// Hands the device stage the host batches that are ready, without waiting, up to what its
    /// two channels hold (so handing one over never blocks).
    fn top_up(&mut self) {
        let room = self.capacities.0 + self.capacities.1;
        while !self.exhausted && self.failed.is_none() && self.in_flight < room {
            match self.pipeline.next_within(Some(Duration::ZERO)) {
                Next::TimedOut => return,
                Next::Done => self.exhausted = true,
                Next::Batch(Err(error)) => self.failed = Some(error.into()),
                Next::Batch(Ok(host)) => match self.stage.submit(host) {
                    Ok(()) => self.in_flight += 1,
                    Err(error) => self.failed = Some(error.into()),
                },
            }
        }
    }

    /// Replaces both stages with ones sized by `config`, starting at (epoch, step in epoch): what
    /// the old ones had prepared is dropped and prepared again.
    pub(super) fn restart(
        &mut self,
        config: &Config,
        position: (u64, u64),
        grace: Duration,
    ) -> Result<(), DataStagesError> {
        let (pipeline, (stage, prepared)) = start_stages(&self.parts, config, position)?;
        let old_pipeline = std::mem::replace(&mut self.pipeline, pipeline);
        let old_stage = std::mem::replace(&mut self.stage, stage);
        drop(std::mem::replace(&mut self.prepared, prepared)); // unblocks the old stage's send
        self.earlier_busy += old_stage.busy();
        if !old_stage.shutdown_within(grace) {
            tracing::warn!("the replaced device stage was still busy after the grace period and was left behind");
        }
        let left_behind = old_pipeline.shutdown_within(grace);
        if left_behind > 0 {
            tracing::warn!(threads = left_behind, "replaced pipeline threads still blocked were left behind");
        }
        self.capacities = (config.pipeline.device_batches, config.pipeline.teacher_outputs);
        (self.in_flight, self.exhausted, self.failed) = (0, false, None);
        let p = &config.pipeline;
        tracing::info!(
            epoch = position.0,
            step_in_epoch = position.1,
            decode_workers = p.decode_workers,
            decoded_samples = p.decoded_samples,
            host_batches = p.host_batches,
            device_batches = p.device_batches,
            teacher_outputs = p.teacher_outputs,
            "data stages restarted with the new [pipeline]"
        );
        Ok(())
    }

    /// Decode workers' utilisation and the samples they hold.
    pub(super) fn stats(&self) -> &PipelineStats {
        self.pipeline.stats()
    }

    /// Time the device stage spent preparing batches since the run (or resume) started.
    pub(super) fn device_busy(&self) -> Duration {
        self.earlier_busy + self.stage.busy()
    }

    /// The decode pool's and the device stage's busy time, with bank maintenance's (`bank`).
    pub(super) fn busy(&self, bank: Duration) -> OtherStagesBusy {
        let stats = self.stats();
        OtherStagesBusy { decode: stats.busy(), decode_workers: stats.workers(), device: self.device_busy(), bank }
    }

    /// Fill levels of every channel, in pipeline order.
    pub(super) fn queues(&self) -> Vec<QueueStatus> {
        let (decoded, batches) = self.pipeline.capacities();
        vec![
            QueueStatus { name: "decoded samples".into(), depth: self.pipeline.decoded_waiting(), capacity: decoded },
            QueueStatus { name: "host batches".into(), depth: self.pipeline.ready(), capacity: batches },
            QueueStatus {
                name: "device stage".into(),
                depth: self.in_flight.saturating_sub(self.prepared.len()),
                capacity: self.capacities.0 + 1,
            },
            QueueStatus { name: "teacher outputs".into(), depth: self.prepared.len(), capacity: self.capacities.1 },
        ]
    }

    /// Host batches ready and waiting (a metric).
    pub(super) fn ready(&self) -> usize {
        self.pipeline.ready()
    }

    /// Stops the device stage, then the pipeline; returns how many threads were left behind.
    pub(super) fn shutdown_within(self, grace: Duration) -> usize {
        let Self { pipeline, stage, prepared, .. } = self;
        drop(prepared);
        let stage_stuck = usize::from(!stage.shutdown_within(grace));
        stage_stuck + pipeline.shutdown_within(grace)
    }
}
