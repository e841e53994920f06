//! Bank maintenance as a stage of its own (a kameo actor on its thread, DESIGN §2): it owns the
//! visual bank V and reads the text bank T. For each step it turns the teacher's keys into the
//! objective's targets against the banks as they stand, and after the step it applies the LGKA
//! update with the keys of every replica. The step asks for the targets before the student's
//! forward and takes them after it, and hands over the update without waiting, so both run while
//! the student does. Jobs run in the order sent: the targets of step k+1 see the update of step k,
//! which keeps a run bit for bit what it was when the step did all of this itself.

use std::time::Duration;

use crossbeam_channel::{bounded, Receiver};
use lgd_actors::stage_actor::{self, StageHandle, StageOutput, StageWork};
use tch::Tensor;

use crate::objective::{LgdLoss, LgdTargets, TextBank, VisualBank};

/// What the bank stage is asked to do.
#[derive(Debug)]
pub enum BankJob {
    /// The targets of one step's teacher keys `[B, D]`.
    Targets(Tensor),
    /// The LGKA update with a finished step's keys `[N, D]` (all replicas', in rank order),
    /// applied only where `applied` (a bool scalar on the device) holds: a step whose loss was
    /// not finite moves nothing.
    Update {
        /// The keys.
        keys: Tensor,
        /// Whether the step was applied.
        applied: Tensor,
    },
    /// Deep copies of V and its seen flags (checkpoints, the final digest).
    Snapshot,
    /// New reloadable settings: the temperatures (only τt matters here) and V's momentum.
    Configure(LgdLoss, f64),
    /// A bank from elsewhere: a checkpoint, or rank 0's copy.
    Replace(VisualBank),
}

/// The bank stage's answer to one job, in the order of the jobs.
#[derive(Debug)]
pub enum BankReply {
    /// Answer to [`BankJob::Targets`].
    Targets(LgdTargets),
    /// Answer to [`BankJob::Snapshot`].
    Snapshot(VisualBank),
    /// The job changed the bank or its settings.
    Done,
}

/// The stage's work: the banks and the objective's settings.
struct BankWork {
    visual: VisualBank,
    text: TextBank,
    loss: LgdLoss,
}

impl StageWork for BankWork {
    type Input = BankJob;
    type Output = BankReply;

    fn run(&mut self, job: BankJob) -> Result<BankReply, String> {
        Ok(match job {
            BankJob::Targets(keys) => BankReply::Targets(self.loss.targets(&keys, &self.text, self.visual.tensor())),
            BankJob::Update { keys, applied } => {
                self.visual.update_if(&keys, &self.text, &applied).map_err(|e| e.to_string())?;
                BankReply::Done
            }
            BankJob::Snapshot => {
                let (columns, seen) = (self.visual.tensor().copy(), self.visual.seen().copy());
                BankReply::Snapshot(
                    VisualBank::from_parts(columns, seen, self.visual.momentum()).map_err(|e| e.to_string())?,
                )
            }
            BankJob::Configure(loss, momentum) => {
                self.loss = loss;
                self.visual.set_momentum(momentum);
                BankReply::Done
            }
            BankJob::Replace(visual) => {
                self.visual = visual;
                BankReply::Done
            }
        })
    }
}

/// Why the bank stage gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum BankStageError {
    /// The OS refused the stage a thread.
    #[error("starting bank maintenance: {0}")]
    Start(#[source] std::io::Error),
    /// The stage failed a job or stopped (its panic's message, where it panicked).
    #[error("bank maintenance: {0}")]
    Failed(String),
}

/// Jobs the stage may hold before a sender waits; a step sends at most three.
const MAILBOX: usize = 4;
/// Answers it may hold before it waits for the step to read them.
const ANSWERS: usize = 8;

/// The running bank stage and the receiving end of its answers.
#[derive(Debug)]
pub struct BankStage {
    stage: Option<StageHandle<BankWork>>,
    answers: Receiver<StageOutput<BankWork>>,
}

impl BankStage {
    /// Starts the stage with its two channels (created here: the stage serves one trainer).
    pub fn start(visual: VisualBank, text: &TextBank, loss: LgdLoss) -> Result<Self, BankStageError> {
        let text = TextBank::new(text.tensor().shallow_clone()).map_err(|e| BankStageError::Failed(e.to_string()))?;
        let work = BankWork { visual, text, loss };
        let (outputs, answers) = bounded::<StageOutput<BankWork>>(ANSWERS);
        let mailbox = stage_actor::mailbox::<BankWork>(MAILBOX);
        let stage = StageHandle::start(("bank maintenance", "lgd-bank"), work, mailbox, outputs)
            .map_err(BankStageError::Start)?;
        Ok(Self { stage: Some(stage), answers })
    }

    /// Queues `job` without waiting for its answer (take it with [`BankStage::answer`]).
    pub fn send(&self, job: BankJob) -> Result<(), BankStageError> {
        let stage = self.stage.as_ref().expect("the stage runs until dropped");
        stage.submit(job).map_err(|e| BankStageError::Failed(e.to_string()))
    }

    /// The next answer that carries something, after the `Done`s of the jobs before it; the
    /// first failure among them is the error.
    pub fn answer(&self) -> Result<BankReply, BankStageError> {
        loop {
            match self.answers.recv() {
                Ok(Ok(BankReply::Done)) => continue,
                Ok(Ok(reply)) => return Ok(reply),
                Ok(Err(message)) => return Err(BankStageError::Failed(message)),
                Err(_) => return Err(BankStageError::Failed("the stage stopped".into())),
            }
        }
    }

    /// The targets of `keys`, once the jobs before them are done.
    pub fn targets(&self) -> Result<LgdTargets, BankStageError> {
        match self.answer()? {
            BankReply::Targets(targets) => Ok(targets),
            other => Err(BankStageError::Failed(format!("expected targets, got {other:?}"))),
        }
    }

    /// A deep copy of V and its seen flags after every job sent so far.
    pub fn snapshot(&self) -> Result<VisualBank, BankStageError> {
        self.send(BankJob::Snapshot)?;
        match self.answer()? {
            BankReply::Snapshot(bank) => Ok(bank),
            other => Err(BankStageError::Failed(format!("expected a snapshot, got {other:?}"))),
        }
    }

    /// Time the stage spent working.
    pub fn busy(&self) -> Duration {
        self.stage.as_ref().map_or(Duration::ZERO, StageHandle::busy)
    }
}

impl Drop for BankStage {
    /// The job in hand finishes, queued ones are dropped: nobody will read them.
    fn drop(&mut self) {
        if let Some(stage) = self.stage.take() {
            stage.shutdown_within(Duration::from_secs(10));
        }
    }
}

#[cfg(test)]
mod tests {
    use tch::{Device, Kind};

    use super::*;
    use crate::objective::normalize_rows;

    fn banks() -> (TextBank, VisualBank) {
        tch::manual_seed(3);
        let text = TextBank::random(8, 5, Device::Cpu);
        let visual = VisualBank::random(8, 5, 0.5, Device::Cpu);
        (text, visual)
    }

    fn keys(seed: i64) -> Tensor {
        tch::manual_seed(seed);
        normalize_rows(&Tensor::randn([6, 8], (Kind::Float, Device::Cpu)))
    }

    #[test]
    fn targets_and_updates_match_the_banks_used_in_place() {
        let (text, mut visual) = banks();
        let (_, copy) = banks();
        let stage = BankStage::start(copy, &text, LgdLoss::default()).unwrap();
        for seed in 0..4 {
            let keys = keys(seed);
            stage.send(BankJob::Targets(keys.shallow_clone())).unwrap();
            let expected = LgdLoss::default().targets(&keys, &text, visual.tensor());
            let got = stage.targets().unwrap();
            assert!(
                got.visual.equal(&expected.visual)
                    && got.image.equal(&expected.image)
                    && got.text.equal(&expected.text)
            );
            visual.update(&keys, &text).unwrap();
            stage.send(BankJob::Update { keys: keys.shallow_clone(), applied: Tensor::from(true) }).unwrap();
            // A step that was not applied (its keys may be NaN) moves nothing.
            stage.send(BankJob::Update { keys: &keys * f64::NAN, applied: Tensor::from(false) }).unwrap();
        }
        let snapshot = stage.snapshot().unwrap();
        assert!(snapshot.tensor().equal(visual.tensor()) && snapshot.seen().equal(visual.seen()));
    }

    #[test]
    fn a_failed_update_is_the_next_answer_and_names_the_stage() {
        let (text, visual) = banks();
        let stage = BankStage::start(visual, &text, LgdLoss::default()).unwrap();
        let keys = Tensor::zeros([2, 3], (Kind::Float, Device::Cpu));
        stage.send(BankJob::Update { keys, applied: Tensor::from(true) }).unwrap();
        let error = stage.snapshot().unwrap_err().to_string();
        assert!(error.starts_with("bank maintenance: ") && error.contains("[N, 8] keys"), "{error}");
    }

    #[test]
    fn configure_moves_the_momentum_and_replace_swaps_the_bank() {
        let (text, visual) = banks();
        let stage = BankStage::start(visual, &text, LgdLoss::default()).unwrap();
        stage.send(BankJob::Configure(LgdLoss::default(), 0.25)).unwrap();
        assert_eq!(stage.snapshot().unwrap().momentum(), 0.25);
        let replacement = VisualBank::random(8, 5, 0.75, Device::Cpu);
        let expected = replacement.tensor().copy();
        stage.send(BankJob::Replace(replacement)).unwrap();
        let snapshot = stage.snapshot().unwrap();
        assert!(snapshot.tensor().equal(&expected));
        assert_eq!(snapshot.momentum(), 0.75);
    }
}
