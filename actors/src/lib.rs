//! `lgd-actors`: the stages of a training step on bounded channels.
//!
//! Module map:
//! - [`pipeline_config`]: worker count and channel capacities — the numbers that bound memory.
//! - [`sampler`]: the seeded, resumable order of each epoch.
//! - [`source`]: where encoded samples come from (image folders; packed shards plug in).
//! - [`batch_memory`]: where batches are assembled (the heap, or tensors' page-locked memory).
//! - [`batch_pixels`]: a sample's and a batch's pixels: normalised floats, or u8 views + parameters.
//! - [`decode_worker`]: decode + augment one sample, replacing bad files and reporting them.
//! - [`data_pipeline`]: sampler → workers → assembler, every channel created in one place.
//! - [`stage_actor`]: a stage as a kameo actor on its own thread (device stage, checkpoint and metrics writers).
//! - [`pipeline_stats`]: worker busy time and the sample each worker holds (utilisation, stall watchdog).
//! - [`awake_wait`]: the watchdogs' waits, counting only time the process was running.
#![warn(missing_docs)]

pub mod awake_wait;
pub mod batch_memory;
pub mod batch_pixels;
pub mod data_pipeline;
pub mod decode_worker;
pub mod pipeline_config;
pub mod pipeline_stats;
pub mod sampler;
pub mod source;
pub mod stage_actor;
