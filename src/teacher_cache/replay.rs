//! The run's use of the cache (`teacher.cache_views = V`): each batch's teacher keys come from the run's teacher-output cache
//! when all of its images' view (epoch mod V) is stored, else from the teacher, then stored.
//! The data pipeline shows epoch e the views of epoch e mod V (`WorkerContext::view_epochs`), so
//! a stored key always belongs to the pixels the student sees.

use std::path::Path;

use lgd_actors::data_pipeline::HostBatch;
use sha2::{Digest, Sha256};
use tch::{Device, Tensor};

use super::{TeacherCache, TeacherCacheError};
use crate::config::Config;

/// The cache of a run.
#[derive(Debug)]
pub struct TeacherReplay {
    cache: TeacherCache,
}

impl TeacherReplay {
    /// The run's cache (`run_dir/teacher_cache.bin`) when `teacher.cache_views > 0`. What the keys
    /// depend on — teacher, recipe, seed, dataset — is fingerprinted: change any and the file starts
    /// afresh instead of replaying keys of other views.
    pub fn open(run_dir: &Path, config: &Config, samples: usize, dim: i64) -> Result<Option<Self>, TeacherCacheError> {
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
        let cache = TeacherCache::open(&path, samples, views, dim as usize, hash.finalize().into())?;
        tracing::info!(path = %path.display(), views, samples, mebibytes = cache.bytes() >> 20, "teacher-output cache");
        Ok(Some(Self { cache }))
    }

    /// The keys of `host`'s batch: replayed (`true`), or computed by `teacher` from its images
    /// and stored (`false`) — as they will be replayed, so both give the same keys.
    pub fn keys<E>(
        &mut self,
        host: &HostBatch,
        device: Device,
        teacher: impl FnOnce() -> Result<Tensor, E>,
    ) -> Result<(Tensor, bool), E> {
        let view = (host.epoch % self.cache.views() as u64) as usize;
        if let Some(keys) = self.cache.lookup(&host.indices, view, device) {
            return Ok((keys, true));
        }
        let keys = teacher()?;
        Ok((self.cache.store(&host.indices, view, &keys), false))
    }

    /// Writes the stored keys to disk (with each checkpoint).
    pub fn flush(&self) -> Result<(), TeacherCacheError> {
        self.cache.flush()
    }
}
