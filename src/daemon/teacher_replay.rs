//! `teacher.cache_views = V`: each batch's teacher keys come from the run's teacher-output cache
//! when all of its images' view (epoch mod V) is stored, else from the teacher, then stored.
//! The data pipeline shows epoch e the views of epoch e mod V (`WorkerContext::view_epochs`), so
//! a stored key always belongs to the pixels the student sees.

use std::path::Path;

use lgd_actors::data_pipeline::HostBatch;
use sha2::{Digest, Sha256};
use tch::Tensor;

use super::DaemonError;
use crate::config::Config;
use crate::models::teacher::Teacher;
use crate::teacher_cache::TeacherCache;
use crate::train::{Trainer, TrainerError};

/// The cache of a run and how often it answered.
#[derive(Debug)]
pub(super) struct TeacherReplay {
    cache: TeacherCache,
    /// Batches whose keys were replayed.
    pub hits: u64,
    /// Batches whose keys the teacher computed (and the cache stored).
    pub misses: u64,
}

impl TeacherReplay {
    /// The run's cache (`run_dir/teacher_cache.bin`) when `teacher.cache_views > 0`. What the keys
    /// depend on — teacher, recipe, seed, dataset — is fingerprinted: change any and the file starts
    /// afresh instead of replaying keys of other views.
    pub fn open(run_dir: &Path, config: &Config, samples: usize, dim: i64) -> Result<Option<Self>, DaemonError> {
        let views = config.teacher.cache_views as usize;
        if views == 0 {
            return Ok(None);
        }
        let mut hash = Sha256::new();
        let parts = [
            format!("{:?}", config.teacher),
            format!("{:?}", config.augmentation),
            format!("{:?}", config.data.train),
            format!("{:?}", config.run.seed),
        ];
        for part in parts {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        let path = run_dir.join("teacher_cache.bin");
        let cache = TeacherCache::open(&path, samples, views, dim as usize, hash.finalize().into())
            .map_err(|e| DaemonError::Startup(e.to_string()))?;
        let bytes = samples * views * (dim as usize * 2 + 1);
        tracing::info!(path = %path.display(), views, samples, mebibytes = bytes >> 20, "teacher-output cache");
        Ok(Some(Self { cache, hits: 0, misses: 0 }))
    }

    /// The keys of `host`'s batch (`images` on the device): replayed, or computed and stored.
    pub fn keys<T: Teacher>(&mut self, trainer: &Trainer<T>, host: &HostBatch, images: &Tensor) -> Result<Tensor, TrainerError> {
        let view = (host.epoch % self.cache.views() as u64) as usize;
        if let Some(keys) = self.cache.lookup(&host.indices, view, images.device()) {
            self.hits += 1;
            return Ok(keys);
        }
        self.misses += 1;
        let keys = trainer.teacher_keys(images)?;
        Ok(self.cache.store(&host.indices, view, &keys))
    }

    /// Writes the stored keys to disk (with each checkpoint).
    pub fn flush(&self) -> Result<(), DaemonError> {
        self.cache.flush().map_err(|e| DaemonError::Training(e.to_string()))
    }
}
