//! `lgd-actors`: every actor of a training run, with its messages and its mailbox. The `lgd`
//! crate's topology (`lgd::daemon::topology`) makes every mailbox and channel and starts them.
//! Actors whose work needs tensors are generic over a trait that the `lgd`
//! crate implements (this crate links no libtorch).
//!
//! The data pipeline (threads on bounded crossbeam channels, [`data_pipeline::DataChannels`]):
//! - [`sampler`]: the seeded, resumable order of each epoch, and the actor that issues it.
//! - [`decode_worker`]: the decode/augment actor, a pool of workers; bad files replaced and reported.
//! - [`batch_assembly`]: decoded samples into their batches, handed on in order.
//! - [`data_pipeline`]: sampler → workers → assembler, each given only its channels' ends.
//! - [`source`], [`batch_memory`], [`batch_pixels`], [`pipeline_config`], [`pipeline_stats`]: where
//!   samples come from, where batches are assembled, their pixels, the sizing, the watchdog's view.
//!
//! The kameo actors, each on a thread of its own, on the process's one runtime:
//! - [`teacher_inference`]: the device stage (upload, photometric half, teacher).
//! - [`student_optimisation`]: owns the trainer; a step, or a call between steps, per message.
//! - [`bank_maintenance`]: owns the visual bank; targets before a step, the update after it.
//! - [`checkpoint_writer`], [`metrics_writer`]: the disk, off the loop's thread.
//! - [`stage_actor`]: the one-input-one-output actor the device stage and the writers run on.
//! - [`actor_runtime`], [`actor_error`]: the shared runtime; why an actor gave no answer.
//! - [`awake_wait`]: the watchdogs' waits, counting only time the process was running.
#![warn(missing_docs)]

pub mod actor_error;
pub mod actor_runtime;
pub mod awake_wait;
pub mod bank_maintenance;
pub mod batch_assembly;
pub mod batch_memory;
pub mod batch_pixels;
pub mod checkpoint_writer;
pub mod data_pipeline;
pub mod decode_worker;
pub mod metrics_writer;
pub mod pipeline_config;
pub mod pipeline_stats;
pub mod sampler;
pub mod source;
pub mod stage_actor;
pub mod stop_channel;
pub mod student_optimisation;
pub mod teacher_inference;
