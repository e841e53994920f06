//! Pipeline sizing: worker count and the capacity of every channel between stages.
//!
//! Memory held by the pipeline is bounded by these capacities (samples and batches in flight),
//! which is why they are configuration and not constants. A reload that changes one (or the worker
//! count) restarts the data pipeline and the device stage at the next step boundary, at the
//! trainer's position; only `checkpoint_requests` is fixed at start.

use serde::{Deserialize, Serialize};

/// `[pipeline]` in the run config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// CPU decode/augment workers; 0 means one per available core.
    pub decode_workers: usize,
    /// Decoded, augmented u8 samples waiting for batch assembly.
    pub decoded_samples: usize,
    /// Assembled host batches waiting for the device.
    pub host_batches: usize,
    /// Host batches queued in the device stage's mailbox (upload, photometric half, teacher).
    pub device_batches: usize,
    /// Prepared batches (device views and the teacher's keys) waiting for the student step: how
    /// far the teacher may run ahead, in batches held on the training device.
    pub teacher_outputs: usize,
    /// Checkpoints waiting for the checkpoint writer, each a host copy of weights, momentum and banks
    /// (a slow disk must not stall training; a full queue makes the next checkpoint wait). Read at
    /// start: a reload does not resize it.
    pub checkpoint_requests: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            decode_workers: 0,
            decoded_samples: 1024,
            host_batches: 4,
            device_batches: 2,
            teacher_outputs: 2,
            checkpoint_requests: 2,
        }
    }
}

impl PipelineConfig {
    /// Problems as (field, message) pairs; empty when valid. Every channel needs room for one item.
    pub fn validate(&self) -> Vec<(String, String)> {
        let capacities = [
            ("decoded_samples", self.decoded_samples),
            ("host_batches", self.host_batches),
            ("device_batches", self.device_batches),
            ("teacher_outputs", self.teacher_outputs),
            ("checkpoint_requests", self.checkpoint_requests),
        ];
        capacities
            .into_iter()
            .filter(|(_, capacity)| *capacity == 0)
            .map(|(field, _)| (field.to_owned(), "must be >= 1 (a channel needs room for one item)".to_owned()))
            .collect()
    }

    /// The number of decode workers to start: the configured count, or one per available core.
    pub fn resolved_decode_workers(&self) -> usize {
        match self.decode_workers {
            0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            n => n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_capacity_is_named() {
        let config = PipelineConfig { host_batches: 0, ..Default::default() };
        assert_eq!(
            config.validate(),
            vec![("host_batches".to_owned(), "must be >= 1 (a channel needs room for one item)".to_owned())]
        );
        assert!(PipelineConfig::default().validate().is_empty());
    }

    #[test]
    fn zero_workers_means_every_core() {
        assert!(PipelineConfig::default().resolved_decode_workers() >= 1);
        assert_eq!(PipelineConfig { decode_workers: 3, ..Default::default() }.resolved_decode_workers(), 3);
    }
}
