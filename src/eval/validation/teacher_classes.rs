//! The teacher's nearest bank class for each validation image, kept from the last complete pass:
//! the teacher is frozen and an image's evaluation view is fixed, so later validations need only
//! the student. For a CLIP RN50 teacher and a ResNet-18 student the teacher is about two thirds of
//! a validation's forward compute.

use tch::{Device, Tensor};

/// Teacher classes chunk by chunk, each with the samples it holds, so that a chunk whose samples
/// changed (a file that stopped decoding shifts its block) is computed again.
#[derive(Default)]
pub(super) struct TeacherClasses {
    /// The bank the classes were taken against: another bank (another teacher) starts afresh.
    bank: Option<Tensor>,
    kept: Vec<(Vec<usize>, Tensor)>,
    /// This pass's chunks, kept when it finishes.
    current: Vec<(Vec<usize>, Tensor)>,
}

impl TeacherClasses {
    /// Starts a pass against `bank`.
    pub(super) fn begin(&mut self, bank: &Tensor) {
        let same = self
            .bank
            .as_ref()
            .is_some_and(|kept| kept.size() == bank.size() && kept.to_device(bank.device()).equal(bank));
        if !same {
            self.bank = Some(bank.to_device(Device::Cpu));
            self.kept.clear();
        }
        self.current.clear();
    }

    /// The classes `[n]` (on `device`) of the pass's next chunk, which holds `samples`: those of
    /// the last complete pass when it held the same samples there, else `compute()`'s.
    pub(super) fn next(&mut self, samples: &[usize], device: Device, compute: impl FnOnce() -> Tensor) -> Tensor {
        let ordinal = self.current.len();
        let classes = match self.kept.get(ordinal) {
            Some((kept_samples, classes)) if kept_samples == samples => classes.shallow_clone(),
            _ => compute().to_device(Device::Cpu),
        };
        self.current.push((samples.to_vec(), classes.shallow_clone()));
        classes.to_device(device)
    }

    /// Keeps this pass's classes for the next: called only when the pass saw every chunk.
    pub(super) fn finish(&mut self) {
        self.kept = std::mem::take(&mut self.current);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_computed_once_per_chunk_and_again_where_the_samples_or_the_bank_changed() {
        let bank = Tensor::from_slice(&[1.0f32, 0.0, 0.0, 1.0]).reshape([2, 2]);
        let mut cache = TeacherClasses::default();
        let computed = std::cell::Cell::new(0);
        let run = |cache: &mut TeacherClasses, chunks: &[&[usize]], bank: &Tensor, finish: bool| {
            cache.begin(bank);
            let out: Vec<Vec<i64>> = chunks
                .iter()
                .map(|samples| {
                    let classes = cache.next(samples, Device::Cpu, || {
                        computed.set(computed.get() + 1);
                        Tensor::from_slice(&samples.iter().map(|&s| s as i64 * 10).collect::<Vec<_>>())
                    });
                    Vec::try_from(&classes).unwrap()
                })
                .collect();
            if finish {
                cache.finish();
            }
            out
        };
        let first = run(&mut cache, &[&[0, 1], &[2, 3]], &bank, true);
        assert_eq!(first, [vec![0, 10], vec![20, 30]]);
        assert_eq!(run(&mut cache, &[&[0, 1], &[2, 3]], &bank, true), first);
        assert_eq!(computed.get(), 2, "the second pass ran no teacher");
        // Sample 2 stopped decoding: only its chunk is computed again.
        assert_eq!(run(&mut cache, &[&[0, 1], &[3]], &bank, false), [vec![0, 10], vec![30]]);
        assert_eq!(computed.get(), 3);
        // That pass was abandoned, so the complete one before it is still what is kept.
        run(&mut cache, &[&[0, 1], &[2, 3]], &bank, true);
        assert_eq!(computed.get(), 3);
        // Another bank: everything again.
        run(&mut cache, &[&[0, 1], &[2, 3]], &(&bank * 2.0), true);
        assert_eq!(computed.get(), 5);
    }
}
