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
use lgd_datasets::augment::{AugmentationConfig, PhotometricPlace, VIEWS_REVISION};

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
        let path = run_dir.join("teacher_cache.bin");
        let cache = TeacherCache::open(&path, samples, views, dim as usize, fingerprint(config))?;
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

/// What the stored keys depend on: the teacher, the views (their recipe and seed, the data, and
/// the build's [`VIEWS_REVISION`]). Where the photometric half runs is left out: host and device
/// give the same pixels, so switching it (or `auto` choosing) keeps the cache.
fn fingerprint(config: &Config) -> [u8; 32] {
    let views = AugmentationConfig { photometric: PhotometricPlace::Host, ..config.augmentation.clone() };
    let mut hash = Sha256::new();
    let parts = [
        format!("{:?}", config.teacher),
        format!("{views:?}"),
        format!("{:?}", config.data.train),
        format!("{:?}", config.run.seed),
        format!("views revision {VIEWS_REVISION}"),
    ];
    for part in parts {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hash.finalize().into()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const CONFIG: &str = "[data]\ntrain = \"t\"\nbatch_size = 8\n[student]\narch = \"resnet18\"\n[teacher]\nkind = \"supervised\"\nweights = \"w\"\ncache_views = 2\n[banks]\ntext = \"teacher_classifier\"\n";

    fn with(extra: &str) -> Config {
        Config::parse(&format!("{CONFIG}{extra}"), Path::new("run.toml")).unwrap()
    }

    #[test]
    fn where_the_photometric_half_runs_keeps_the_keys_and_what_changes_pixels_does_not() {
        let base = fingerprint(&with(""));
        for place in ["host", "device", "auto"] {
            let config = with(&format!("[augmentation]\nphotometric = \"{place}\"\n"));
            assert_eq!(fingerprint(&config), base, "photometric = {place}");
        }
        assert_ne!(fingerprint(&with("[augmentation]\nrecipe = \"simclr\"\n")), base);
        assert_ne!(fingerprint(&with("[run]\nseed = 7\n")), base);
    }
}
