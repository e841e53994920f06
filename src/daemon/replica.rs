//! This process's place in data-parallel training. Started by `lgd launch` or torchrun (RANK,
//! WORLD_SIZE, … in the environment), `lgd train` becomes one replica: rank 0 leads (it writes
//! checkpoints, validates and serves the status page, in the run folder as usual); every other
//! rank keeps its own log files in RUN/rank-N, resumes from the run folder's checkpoints and
//! takes its slice of every global batch.

use std::path::{Path, PathBuf};

use lgd_actors::pipeline_config::PipelineConfig;
use lgd_actors::sampler::Shard;
use tch::Tensor;

use super::{AnyTeacher, DaemonError, StartupError};
use crate::config::{BackendChoice, Config, DeviceSpec};
use crate::distributed::{Backend, DataParallel, ProcessGroup, Rendezvous};
use crate::train::{StepReport, Trainer};

/// A lone process, or one rank of a group.
#[derive(Debug, Clone)]
pub(super) struct Replica {
    rendezvous: Option<Rendezvous>,
}

impl Replica {
    /// From the launcher's (or Slurm's) environment; a lone process when neither sets a group.
    pub(super) fn from_env() -> Result<Self, DaemonError> {
        let rendezvous = Rendezvous::from_env().map_err(StartupError::Rendezvous)?;
        if let Some(r) = &rendezvous {
            tracing::info!(rank = r.rank, world_size = r.world_size, "rendezvous from {}", r.source);
        }
        Ok(Self { rendezvous })
    }

    /// Rank 0, or a lone process: the one that writes checkpoints and validates.
    pub(super) fn leads(&self) -> bool {
        self.rendezvous.as_ref().is_none_or(|r| r.rank == 0)
    }

    fn world_size(&self) -> usize {
        self.rendezvous.as_ref().map_or(1, |r| r.world_size)
    }

    /// Where this process keeps its lock, logs, metrics and status: the run folder for the leader.
    pub(super) fn own_dir(&self, run_dir: &Path) -> PathBuf {
        match &self.rendezvous {
            Some(r) if r.rank > 0 => run_dir.join(format!("rank-{}", r.rank)),
            _ => run_dir.to_owned(),
        }
    }

    /// This replica's device: with several ranks on a machine, `cuda` means cuda:LOCAL_RANK.
    pub(super) fn device(&self, configured: DeviceSpec) -> DeviceSpec {
        match (&self.rendezvous, configured) {
            (Some(r), DeviceSpec::Cuda(_)) => DeviceSpec::Cuda(r.local_rank),
            _ => configured,
        }
    }

    /// The pipeline sizing of this replica: with `pipeline.decode_workers = 0` (one per core), the
    /// ranks on a machine share its cores instead of each starting one worker per core.
    pub(super) fn pipeline(&self, config: &Config) -> PipelineConfig {
        let mut sizing = config.pipeline.clone();
        if let (Some(r), 0) = (&self.rendezvous, sizing.decode_workers) {
            sizing.decode_workers = (sizing.resolved_decode_workers() / r.local_world_size).max(1);
        }
        sizing
    }

    /// This replica's slice of every global batch.
    pub(super) fn shard(&self) -> Shard {
        self.rendezvous.as_ref().map_or(Shard::WHOLE, |r| Shard { rank: r.rank, count: r.world_size })
    }

    /// The samples per batch this replica trains on (`data.batch_size` is the global batch).
    pub(super) fn batch(&self, config: &Config) -> Result<usize, DaemonError> {
        let (global, world) = (config.data.batch_size, self.world_size());
        if global % world != 0 {
            return Err(StartupError::BatchOverRanks { global, world }.into());
        }
        if world > 1 && config.teacher.cache_views > 0 {
            return Err(StartupError::CacheWithRanks.into());
        }
        Ok(global / world)
    }

    /// Meets the other ranks and makes `trainer` a replica (rank 0's weights, banks and momentum).
    pub(super) fn join(&self, trainer: &mut Trainer<AnyTeacher>, config: &Config) -> Result<(), DaemonError> {
        let Some(rendezvous) = &self.rendezvous else { return Ok(()) };
        let timeout = config.distributed.timeout();
        let device = self.device(config.run.device);
        let backend = match (config.distributed.backend, device) {
            (BackendChoice::Gloo, _) | (BackendChoice::Auto, DeviceSpec::Cpu) => Backend::Gloo,
            (BackendChoice::Nccl, _) | (BackendChoice::Auto, DeviceSpec::Cuda(_)) => Backend::Nccl,
        };
        let master = format!("{}:{}", rendezvous.master_addr, rendezvous.master_port);
        tracing::info!(rank = rendezvous.rank, world_size = rendezvous.world_size, %master, ?backend, "joining the process group");
        let group = ProcessGroup::connect(rendezvous, backend, timeout).map_err(StartupError::Group)?;
        let replica = DataParallel::new(group, config.distributed.bucket_bytes(), device.to_tch());
        trainer.join(replica).map_err(StartupError::JoinGroup)?;
        tracing::info!(
            rank = rendezvous.rank,
            world_size = rendezvous.world_size,
            step = trainer.step,
            "replica in step with rank 0"
        );
        Ok(())
    }
}

/// With several ranks, the step's losses and the log interval's mean loss averaged over them (the
/// global batch's, what one process with the global batch would log); called at log intervals
/// only, by every rank alike.
pub(super) fn global_losses(
    trainer: &Trainer<AnyTeacher>,
    report: StepReport,
    mean_loss: Tensor,
) -> Result<(StepReport, Tensor), DaemonError> {
    let Some(group) = trainer.data_parallel() else { return Ok((report, mean_loss)) };
    let parts = Tensor::stack(
        &[&report.loss, &report.image_loss, &report.text_loss, &mean_loss.to_kind(report.loss.kind())],
        0,
    );
    let mean = group.mean_over_ranks(&parts)?;
    Ok((StepReport { loss: mean.get(0), image_loss: mean.get(1), text_loss: mean.get(2), ..report }, mean.get(3)))
}
