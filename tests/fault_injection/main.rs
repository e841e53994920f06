//! The fault-injection suite: real `lgd train` processes under kills, full disks, bad data, bad
//! reloads, non-finite losses, stalled workers, a panicking device stage or student step, signal storms,
//! and libtorch's own warnings. Each test prints its figure
//! (`FAULTS …` lines, shown with `--nocapture`). `LGD_FAULT_KILLS` sets the number of kill runs
//! (CI samples 12; `make faults` runs the full 50).

#[path = "../support/mod.rs"]
mod support;

mod bad_data;
mod daemon;
mod device_stage;
mod full_disk;
mod kills;
mod libtorch_warnings;
mod nonfinite;
mod reloads;
mod signals;
mod stalls;
mod student_stage;
