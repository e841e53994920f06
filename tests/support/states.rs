//! Comparing two training states bit for bit (a resumed run against one left alone).

use lgd::checkpoint::TrainingState;

/// Position, every parameter and momentum buffer, the visual bank and its seen flags: equal to the bit.
pub fn assert_identical(a: &TrainingState, b: &TrainingState) {
    assert_eq!((a.step, a.epoch, a.step_in_epoch), (b.step, b.epoch, b.step_in_epoch));
    for (name, tensor) in &a.model {
        assert!(tensor.equal(&b.model[name]), "parameter {name} differs");
    }
    for (name, tensor) in &a.momentum {
        assert!(tensor.equal(&b.momentum[name]), "momentum {name} differs");
    }
    assert!(a.visual_bank.equal(&b.visual_bank), "visual bank differs");
    assert!(a.seen.equal(&b.seen), "seen flags differ");
}
