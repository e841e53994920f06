//! Failures on purpose, for the tests that prove the daemon survives them: a NaN loss, a stalled
//! decode, a full disk, a panicking or stuck stage, libtorch's own out-of-memory error, a start-up
//! held for a signal. The production code asks this file at each such point; the answer is always
//! "no" unless lgd is built with the cargo feature `fault-injection` (`make test` builds with it),
//! so a production build does none of it, and refuses a config that sets any of these fields.

use std::sync::Arc;
use std::time::Duration;

use lgd_actors::source::SampleSource;
use serde::{Deserialize, Serialize};

use crate::config::problems::Problems;
use crate::daemon::StartupPhase;

/// Whether this build can inject faults at all (the cargo feature `fault-injection`).
const BUILT_IN: bool = cfg!(feature = "fault-injection");

/// `[fault_injection]`: which failures to cause, for the fault-injection tests; never set in a real run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultInjectionSection {
    /// Steps (as logged, from 1) whose loss is replaced by NaN.
    pub nonfinite_loss_steps: Vec<u64>,
    /// A dataset index whose decode blocks its worker for good.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stall_sample: Option<usize>,
    /// Steps whose checkpoint write fails as on a full disk.
    pub fail_checkpoint_steps: Vec<u64>,
    /// Milliseconds to hold a written checkpoint before renaming it into place (a wider window
    /// for kills "inside" a checkpoint write).
    pub checkpoint_write_delay_ms: u64,
    /// The device stage panics while preparing its n-th batch (from 1) since the process started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_stage_panic_batch: Option<u64>,
    /// The student step panics at this step (as logged, from 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub student_panic_step: Option<u64>,
    /// The student step blocks for good at this step (as logged, from 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub student_stall_step: Option<u64>,
    /// The student step fails with an error at this step (as logged, from 1), after the trainer
    /// has taken it: as a collective that fails in backward leaves a forward's batch-norm
    /// statistics behind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub student_error_step: Option<u64>,
    /// The student step fails at this step (as logged, from 1), after the trainer has taken it,
    /// with libtorch's own out-of-memory error (an allocation of 2^50 floats).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub student_oom_step: Option<u64>,
    /// libtorch writes a warning from the student's thread at this step (as logged, from 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub libtorch_warning_step: Option<u64>,
    /// Start-up waits in this phase until a signal arrives (at its start; inside it for
    /// `loading_teacher`, once the weights are read, and `computing_text_bank`, after the first
    /// batch of prompts): a window a test can signal into without racing the phase.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold_startup: Option<StartupPhase>,
}

impl FaultInjectionSection {
    /// Whether any fault is switched on (the daemon says so loudly at start).
    pub fn any(&self) -> bool {
        *self != Self::default()
    }

    /// Left out of the written config when nothing is switched on.
    pub(crate) fn any_is_off(&self) -> bool {
        !self.any()
    }

    /// A build without the feature refuses the section rather than ignore it.
    pub(crate) fn validate(&self, problems: &mut Problems) {
        problems.require(
            BUILT_IN || !self.any(),
            "fault_injection",
            "this build of lgd has no fault injection (the cargo feature `fault-injection`, which `make test` enables)",
        );
    }

    /// At start: says loudly that this run fails on purpose, and widens every atomic write's window.
    pub fn announce(&self) {
        if BUILT_IN && self.any() {
            tracing::warn!(faults = ?self, "fault injection is ON: this run fails on purpose");
            crate::atomic_file::inject_delay_before_rename(Duration::from_millis(self.checkpoint_write_delay_ms));
        }
    }

    /// On the student's thread before step `step` (from 1): libtorch's warning, a panic, a stall.
    /// The panic is located at the caller, as a panic of the step itself would be.
    #[track_caller]
    pub fn before_student_step(&self, step: u64) {
        if !BUILT_IN {
            return;
        }
        if self.libtorch_warning_step == Some(step) {
            crate::torch_ext::provoke_libtorch_warning();
        }
        if self.student_panic_step == Some(step) {
            panic!("fault injection: student_panic_step = {step}");
        }
        while self.student_stall_step == Some(step) {
            std::thread::park(); // blocked for good: the stall watchdog's case
        }
    }

    /// After the trainer has taken step `step`: a failure as a collective's in backward, or
    /// libtorch's own out-of-memory error (an allocation of 2^50 floats).
    pub fn after_student_step(&self, step: u64) -> Result<(), InjectedFailure> {
        if !BUILT_IN {
            return Ok(());
        }
        if self.student_error_step == Some(step) {
            return Err(InjectedFailure::StudentError(step));
        }
        if self.student_oom_step == Some(step) {
            let _never = tch::Tensor::f_empty([1 << 50], (tch::Kind::Float, tch::Device::Cpu))
                .map_err(InjectedFailure::Libtorch)?;
        }
        Ok(())
    }

    /// Whether step `step`'s loss is replaced by NaN.
    pub fn nonfinite_loss(&self, step: u64) -> bool {
        BUILT_IN && self.nonfinite_loss_steps.contains(&step)
    }

    /// Whether the checkpoint of step `step` fails as on a full disk.
    pub fn checkpoint_write_fails(&self, step: u64) -> bool {
        BUILT_IN && self.fail_checkpoint_steps.contains(&step)
    }

    /// The dataset index whose decode blocks its worker for good.
    pub fn stalled_sample(&self) -> Option<usize> {
        self.stall_sample.filter(|_| BUILT_IN)
    }

    /// `source`, or with `stall_sample` set, a source whose read of that sample never returns.
    pub fn stalling(&self, source: Arc<dyn SampleSource>) -> Arc<dyn SampleSource> {
        match self.stalled_sample() {
            Some(stalled) => Arc::new(StallingSource { inner: source, stalled }),
            None => source,
        }
    }

    /// Before the device stage prepares its batch `batch` (from 1, since the process started):
    /// a panic there, located at the caller.
    #[track_caller]
    pub fn before_device_batch(&self, batch: u64) {
        if BUILT_IN && self.device_stage_panic_batch == Some(batch) {
            panic!("fault injection: device_stage_panic_batch = {batch}");
        }
    }

    /// The start-up phase held until a signal arrives.
    pub fn startup_hold(&self) -> Option<StartupPhase> {
        self.hold_startup.filter(|_| BUILT_IN)
    }
}

/// A source whose read of one sample blocks its worker for good (the stall watchdog's case).
struct StallingSource {
    inner: Arc<dyn SampleSource>,
    stalled: usize,
}

impl SampleSource for StallingSource {
    fn len(&self) -> usize {
        self.inner.len()
    }

    fn read(&self, index: usize) -> std::io::Result<(Vec<u8>, u32)> {
        if index == self.stalled {
            loop {
                std::thread::park();
            }
        }
        self.inner.read(index)
    }

    fn describe(&self, index: usize) -> std::path::PathBuf {
        self.inner.describe(index)
    }

    fn classes(&self) -> &[String] {
        self.inner.classes()
    }
}

/// A failure injected after a student step.
#[derive(Debug, thiserror::Error)]
pub enum InjectedFailure {
    /// `student_error_step`: as a failed collective would.
    #[error("fault injection: student_error_step = {0}")]
    StudentError(u64),
    /// `student_oom_step`: libtorch's own allocation failure.
    #[error("{0}")]
    Libtorch(#[source] tch::TchError),
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::Config;

    const CONFIG: &str = "[data]\ntrain = \"t\"\nbatch_size = 8\n[student]\narch = \"resnet18\"\n[teacher]\nkind = \"supervised\"\nweights = \"w\"\n[banks]\ntext = \"teacher_classifier\"\n[fault_injection]\nnonfinite_loss_steps = [3]\nstall_sample = 7\n";

    #[test]
    #[cfg(feature = "fault-injection")]
    fn a_build_with_the_feature_takes_the_section_and_acts_on_it() {
        let faults = Config::parse(CONFIG, Path::new("run.toml")).unwrap().fault_injection;
        assert!(faults.nonfinite_loss(3) && !faults.nonfinite_loss(4));
        assert_eq!(faults.stalled_sample(), Some(7));
    }

    #[test]
    #[cfg(not(feature = "fault-injection"))]
    fn a_build_without_the_feature_refuses_the_section_naming_it() {
        let error = Config::parse(CONFIG, Path::new("run.toml")).unwrap_err().to_string();
        assert!(error.contains("fault_injection: this build of lgd has no fault injection"), "{error}");
    }
}
