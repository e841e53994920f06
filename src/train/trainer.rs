//! One LGD training step on one device, and the state it carries between steps: student, frozen
//! teacher, SGD, schedule, scaler and position, with the visual bank kept by its own stage
//! ([`BankStage`]). The pipeline around it (data actors, checkpoint writer, signals) calls `step`
//! and `state`; everything random in a step is seeded from (run seed, step), so a resumed run
//! repeats the uninterrupted one bit for bit on the CPU.

use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use super::bank_stage::{BankStage, TensorBanks};
use super::{GradScaler, LrSchedule, Position, Sgd, SgdConfig, TrainerError};
use crate::checkpoint::TrainingState;
use crate::config::{Autocast, BatchNormMode, Config, FaultInjectionSection};
use crate::distributed::{DataParallel, DistributedError};
use crate::models::state_dict::{load_state_dict, state_dict};
use crate::models::student::{Student, StudentOptions};
use crate::models::teacher::Teacher;
use crate::objective::{normalize_rows, LgdLoss, VisualBank};
use crate::torch_ext::{module_to_channels_last, to_channels_last, AutocastGuard, TorchExtError};

/// What one step did; tensors stay on the device until someone reads them (no sync per step).
#[derive(Debug)]
pub struct StepReport {
    /// The loss (detached).
    pub loss: Tensor,
    /// H over the image bank (detached).
    pub image_loss: Tensor,
    /// H over the text bank (detached).
    pub text_loss: Tensor,
    /// The learning rate used.
    pub lr: f64,
    /// Whether the optimiser step was skipped (non-finite loss, or fp16 gradient overflow): a
    /// bool scalar on the device.
    pub skipped: Tensor,
    /// Whether the loss itself was NaN/inf, so nothing was updated (weights, momentum, banks,
    /// scaler): a bool scalar on the device.
    pub nonfinite: Tensor,
}

impl StepReport {
    /// Reads `flag` (one of the report's bool scalars) back: a wait for the device.
    pub fn read(flag: &Tensor) -> bool {
        flag.int64_value(&[]) != 0
    }
}

/// The training state of one replica.
#[derive(Debug)]
pub struct Trainer<T: Teacher> {
    vars: VarStore,
    student: Student,
    teacher: T,
    /// Owns V: targets before each step, the LGKA update after it.
    bank: BankStage,
    loss: LgdLoss,
    sgd: Sgd,
    schedule: LrSchedule,
    scaler: Option<GradScaler>,
    seed: u64,
    /// The low-precision dtype of the forward passes (None: fp32).
    autocast: Option<Kind>,
    channels_last: bool,
    /// False under `student.batch_norm = "frozen"`: the student's forward runs in inference mode.
    train_forward: bool,
    config_toml: String,
    steps_per_epoch: u64,
    /// Failures on purpose (none outside the fault-injection tests).
    faults: FaultInjectionSection,
    /// Set when this is one replica of several (`lgd launch`, torchrun).
    data_parallel: Option<DataParallel>,
    /// Steps taken.
    pub step: u64,
    /// Epoch in progress.
    pub epoch: u64,
    /// Steps done in that epoch.
    pub step_in_epoch: u64,
}

/// The teacher's keys of `images` (`[B, D]`, unit rows, f32) under `autocast` (`None`: fp32) and
/// in channels_last when asked: exactly what a step computes when it is given no keys. Free of
/// the trainer so that the device stage can run it on its own thread.
pub fn teacher_keys<T: Teacher>(
    teacher: &T,
    images: &Tensor,
    autocast: Option<Kind>,
    channels_last: bool,
) -> Result<Tensor, TorchExtError> {
    let images = if channels_last { to_channels_last(images)? } else { images.shallow_clone() };
    let _autocast = match autocast {
        Some(kind) => Some(AutocastGuard::new(images.device(), kind)?),
        None => None,
    };
    Ok(teacher.embed(&images).to_kind(Kind::Float))
}

/// The objective's temperatures and weights from `config`.
fn lgd_loss(config: &Config) -> LgdLoss {
    LgdLoss {
        student_temperature: config.loss.student_temperature,
        teacher_temperature: config.loss.teacher_temperature,
        image_weight: config.loss.image_weight,
        text_weight: config.loss.text_weight,
    }
}

/// A step's seed: the run seed and the step, mixed (splitmix64) so neighbouring steps differ widely.
fn step_seed(seed: u64, step: u64) -> i64 {
    let mut z = seed.wrapping_add(step.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    ((z ^ (z >> 31)) >> 1) as i64
}

impl<T: Teacher> Trainer<T> {
    /// A fresh run: student and visual bank initialised from the run seed, bank maintenance
    /// started by `start_bank` (the topology's `bank_maintenance`; the trainer keeps its address).
    pub fn new(
        config: &Config,
        teacher: T,
        steps_per_epoch: u64,
        device: Device,
        start_bank: impl FnOnce(TensorBanks) -> std::io::Result<BankStage>,
    ) -> Result<Self, TrainerError> {
        tch::manual_seed(config.run.seed as i64);
        let vars = VarStore::new(device);
        let embed_dim = teacher.embed_dim();
        let student = Student::new(&vars.root(), config.student.arch, embed_dim, StudentOptions::default());
        let classes = teacher.bank().classes();
        let visual = VisualBank::random(embed_dim, classes, config.banks.visual_momentum, device);
        let optimizer = &config.optimizer;
        let sgd = Sgd::new(
            &vars,
            SgdConfig {
                momentum: optimizer.momentum,
                dampening: 0.0,
                weight_decay: optimizer.weight_decay,
                nesterov: optimizer.nesterov,
            },
        );
        let loss = lgd_loss(config);
        let bank = start_bank(TensorBanks::new(visual, teacher.bank(), loss)?).map_err(TrainerError::BankStart)?;
        let scaler = (config.precision.autocast == Autocast::Fp16)
            .then(|| GradScaler::new(config.precision.grad_scaler.clone(), device));
        let autocast = match config.precision.autocast {
            Autocast::Fp32 => None,
            Autocast::Fp16 => Some(Kind::Half),
            Autocast::Bf16 => Some(Kind::BFloat16),
        };
        let channels_last = config.precision.channels_last;
        if channels_last {
            module_to_channels_last(&vars)?;
        }
        Ok(Self {
            vars,
            student,
            teacher,
            bank,
            loss,
            sgd,
            schedule: LrSchedule::from_config(config),
            scaler,
            seed: config.run.seed,
            autocast,
            channels_last,
            train_forward: config.student.batch_norm == BatchNormMode::Batch,
            config_toml: config.to_toml(),
            steps_per_epoch,
            faults: config.fault_injection.clone(),
            data_parallel: None,
            step: 0,
            epoch: 0,
            step_in_epoch: 0,
        })
    }

    /// One optimisation step on a batch of normalised images `[B, 3, H, W]`.
    pub fn step(&mut self, images: &Tensor) -> Result<StepReport, TrainerError> {
        self.step_with_keys(images, None)
    }

    /// The forward passes' precision (autocast dtype, `None` for fp32) and whether they run
    /// channels_last: what another thread needs to compute the teacher's keys as a step would.
    pub fn forward_precision(&self) -> (Option<Kind>, bool) {
        (self.autocast, self.channels_last)
    }

    /// [`Trainer::step`] with the teacher's keys given (`keys`: from a teacher-output cache, unit
    /// rows) instead of computed; `None` computes them.
    pub fn step_with_keys(&mut self, images: &Tensor, keys: Option<&Tensor>) -> Result<StepReport, TrainerError> {
        tch::manual_seed(step_seed(self.seed, self.step));
        let lr = self.schedule.lr(self.epoch, self.step_in_epoch, self.steps_per_epoch);
        let images = if self.channels_last { to_channels_last(images)? } else { images.shallow_clone() };
        let teacher = match keys {
            Some(keys) => keys.shallow_clone(),
            None => teacher_keys(&self.teacher, &images, self.autocast, false)?, // [B, D], unit rows, no grad
        };
        // Bank maintenance computes the targets while the student's forward runs.
        let targets = self.bank.targets(teacher.shallow_clone())?;
        let student = {
            // Forward passes in the configured precision; the objective itself runs in fp32.
            let _autocast = match self.autocast {
                Some(kind) => Some(AutocastGuard::new(images.device(), kind)?),
                None => None,
            };
            normalize_rows(&self.student.forward_t(&images, self.train_forward).to_kind(Kind::Float))
            // [B, D]
        };
        let targets = targets.wait()?;
        let mut terms = self.loss.against(&student, &teacher, self.teacher.bank(), &targets);
        if self.faults.nonfinite_loss(self.step + 1) {
            terms.loss = &terms.loss * f64::NAN;
        }
        // A NaN/inf loss must not reach the weights, the momentum, the scaler or the bank (the
        // teacher keys of a batch that produced it are suspect too). The verdict stays on the
        // device and every update below is conditional on it there: no read-back inside a step.
        let loss_finite = terms.loss.detach().isfinite();
        let loss_finite = match &self.data_parallel {
            Some(group) => group.all_on_device(&loss_finite)?, // all replicas skip together
            None => loss_finite,
        };
        self.sgd.zero_grad()?;
        if let Some(group) = &self.data_parallel {
            // Backward then averages the (scaled) gradients over the replicas before unscaling:
            // every replica sees the same gradients, so the scaler's decision and the step agree.
            group.before_backward()?;
        }
        let backward = match &self.scaler {
            Some(scaler) => scaler.scale_loss(&terms.loss).f_backward(),
            None => terms.loss.f_backward(),
        };
        if let Err(error) = backward {
            return Err(self.backward_failed(error));
        }
        let found_inf = match &mut self.scaler {
            Some(scaler) => scaler.unscale_and_update(&self.sgd.gradients(), &loss_finite)?,
            None => loss_finite.logical_not().to_kind(Kind::Float).reshape([1]),
        };
        self.sgd.step_unless(lr, &found_inf)?;
        // The bank moves after the step: this step's loss used the bank as it was before.
        // With several replicas, every replica's keys in rank order: each holds the same V. The
        // gather stays on this thread, between this step's collectives and the next one's.
        let keys = match &self.data_parallel {
            Some(group) => group.gather_rows(&teacher)?,
            None => teacher,
        };
        self.bank.update(keys, loss_finite.shallow_clone())?; // runs while the loop goes on
        self.advance();
        Ok(StepReport {
            loss: terms.loss.detach(),
            image_loss: terms.image_loss.detach(),
            text_loss: terms.text_loss.detach(),
            lr,
            skipped: found_inf.view([]).ne(0.0),
            nonfinite: loss_finite.logical_not(),
        })
    }

    /// Why backward failed, without libtorch's C++ backtrace. With several replicas backward runs
    /// the gradient all-reduces, so a peer that died or hangs surfaces here as a failed collective.
    fn backward_failed(&self, error: tch::TchError) -> TrainerError {
        let text = error.to_string();
        let message = text.split("\nException raised from").next().unwrap_or(&text).trim().to_owned();
        match &self.data_parallel {
            Some(_) => DistributedError::Collective(TorchExtError::Libtorch {
                operation: "backward (gradient all-reduce)",
                message,
            })
            .into(),
            None => TrainerError::Backward(message),
        }
    }

    /// Moves the position past the batch just used.
    fn advance(&mut self) {
        self.step += 1;
        self.step_in_epoch += 1;
        if self.step_in_epoch == self.steps_per_epoch {
            self.epoch += 1;
            self.step_in_epoch = 0;
        }
    }

    /// Where training stands, e.g. to remember where a bad streak began.
    pub fn position(&self) -> Position {
        Position { step: self.step, epoch: self.epoch, step_in_epoch: self.step_in_epoch }
    }

    /// Everything needed to continue exactly (CPU copies are made when saved); waits for the
    /// bank stage to finish the jobs sent so far.
    pub fn state(&self) -> Result<TrainingState, TrainerError> {
        let visual = self.bank.snapshot()?;
        Ok(TrainingState {
            step: self.step,
            epoch: self.epoch,
            step_in_epoch: self.step_in_epoch,
            model: state_dict(&self.vars),
            momentum: self.sgd.state().iter().map(|(k, v)| (k.clone(), v.shallow_clone())).collect(),
            visual_bank: visual.tensor().shallow_clone(),
            seen: visual.seen().shallow_clone(),
            scaler: self.scaler.as_ref().map(GradScaler::state),
            config: self.config_toml.clone(),
            data: None,
        })
    }

    /// Continues from a saved state.
    pub fn restore(&mut self, state: TrainingState) -> Result<(), TrainerError> {
        load_state_dict(&self.vars, &state.model, "checkpoint", "student", |_| false)?;
        self.sgd.load_state(state.momentum).map_err(TrainerError::Optimizer)?;
        let device = self.vars.device();
        let momentum = self.bank.snapshot()?.momentum();
        self.bank.replace(VisualBank::from_parts(state.visual_bank.to_device(device), state.seen, momentum)?)?;
        if let (Some(scaler), Some((scale, tracker))) = (&mut self.scaler, state.scaler) {
            scaler.restore(scale, tracker);
        }
        (self.step, self.epoch, self.step_in_epoch) = (state.step, state.epoch, state.step_in_epoch);
        Ok(())
    }

    /// Becomes one replica of a data-parallel group: checks that every replica stands at the same
    /// step, then takes rank 0's weights, buffers, momentum and visual bank.
    pub fn join(&mut self, mut group: DataParallel) -> Result<(), TrainerError> {
        group.check_same("the step (resumed from another checkpoint?)", self.step as i64)?;
        group.check_same("the number of momentum buffers", self.sgd.state().len() as i64)?;
        // By name: every replica must pack the same tensors into the same buckets.
        let variables: std::collections::BTreeMap<String, Tensor> = self.vars.variables().into_iter().collect();
        let mut tensors: Vec<Tensor> = variables.into_values().collect();
        tensors.extend(self.sgd.state().values().map(Tensor::shallow_clone));
        let visual = self.bank.snapshot()?; // a copy: rank 0's values land in it, then go back
        tensors.push(visual.tensor().shallow_clone());
        tensors.push(visual.seen().shallow_clone());
        group.broadcast_from_first(&tensors)?;
        self.bank.replace(visual)?;
        let trainable: Vec<(String, Tensor)> =
            self.vars.variables().into_iter().filter(|(_, t)| t.requires_grad()).collect();
        let trainable: std::collections::BTreeMap<String, Tensor> = trainable.into_iter().collect();
        group.reduce_gradients_of(&trainable.into_iter().collect::<Vec<_>>())?;
        self.data_parallel = Some(group);
        Ok(())
    }

    /// The data-parallel group this trainer is a replica of, if any.
    pub fn data_parallel(&self) -> Option<&DataParallel> {
        self.data_parallel.as_ref()
    }

    /// Applies reloadable settings from a new config (loss, schedule, bank momentum) from the
    /// next step on.
    pub fn apply_reloadable(&mut self, config: &Config) -> Result<(), TrainerError> {
        self.loss = lgd_loss(config);
        self.bank.configure((self.loss, config.banks.visual_momentum))?;
        self.schedule = LrSchedule::from_config(config);
        self.config_toml = config.to_toml();
        Ok(())
    }

    /// The student (for evaluation and export).
    pub fn student(&self) -> &Student {
        &self.student
    }

    /// The student's variables.
    pub fn vars(&self) -> &VarStore {
        &self.vars
    }

    /// The teacher.
    pub fn teacher(&self) -> &T {
        &self.teacher
    }

    /// A copy of the visual bank after every step so far.
    pub fn visual_bank(&self) -> Result<VisualBank, TrainerError> {
        Ok(self.bank.snapshot()?)
    }

    /// Bank maintenance, as this trainer talks to it (its address, for links).
    pub fn bank_maintenance(&self) -> &BankStage {
        &self.bank
    }

    /// Time the bank stage spent on targets and updates.
    pub fn bank_busy(&self) -> std::time::Duration {
        self.bank.busy()
    }
}
