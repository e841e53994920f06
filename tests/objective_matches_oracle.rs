//! The LGD objective and the vectorised LGKA update agree with a PyTorch oracle written from the
//! spec (tests/oracle/objective_oracle.py, which updates the bank with the original's per-class loop)
//! within 1e-6 in float32, step after step, on the published sizes and on an edge case.

mod support;

use std::collections::BTreeMap;

use lgd::objective::{normalize_rows, LgdLoss, TextBank, VisualBank};
use lgd::tensor_io::read_safetensors;
use tch::{Kind, Tensor};

const TOLERANCE: f64 = 1e-6;

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size(), "shapes differ");
    (a.to_kind(Kind::Double) - b.to_kind(Kind::Double)).abs().max().double_value(&[])
}

/// Replays one scenario; returns the worst difference seen per quantity.
fn replay(tensors: &BTreeMap<String, Tensor>, steps: usize) -> BTreeMap<&'static str, f64> {
    let text = TextBank::new(tensors["T"].shallow_clone()).unwrap();
    let momentum = tensors["momentum"].double_value(&[0]);
    let classes = text.classes();
    let mut visual = VisualBank::from_parts(
        tensors["V0"].copy(),
        Tensor::zeros([classes], (Kind::Bool, tch::Device::Cpu)),
        momentum,
    )
    .unwrap();
    let objective = LgdLoss::default();
    let mut worst: BTreeMap<&'static str, f64> = BTreeMap::new();
    for k in 0..steps {
        let get = |key: &str| &tensors[&format!("step{k}.{key}")];
        let teacher = normalize_rows(get("teacher_raw"));
        let student_raw = get("student_raw").copy().set_requires_grad(true);
        let terms = objective.compute(&normalize_rows(&student_raw), &teacher, &text, &visual);
        terms.loss.backward();
        visual.update(&teacher, &text).unwrap();

        assert!(text.assign(&teacher).equal(get("labels")), "step {k}: class assignments differ");
        assert!(visual.seen().equal(get("seen")), "step {k}: seen flags differ");
        let comparisons = [
            ("loss", max_abs_diff(&terms.loss.reshape([1]), get("loss"))),
            ("image_loss", max_abs_diff(&terms.image_loss.reshape([1]), get("image_loss"))),
            ("text_loss", max_abs_diff(&terms.text_loss.reshape([1]), get("text_loss"))),
            ("image_logits", max_abs_diff(&terms.image_logits, get("image_logits"))),
            ("image_targets", max_abs_diff(&terms.image_targets, get("image_targets"))),
            ("text_logits", max_abs_diff(&terms.text_logits, get("text_logits"))),
            ("text_targets", max_abs_diff(&terms.text_targets, get("text_targets"))),
            ("grad_student", max_abs_diff(&student_raw.grad(), get("grad_student_raw"))),
            ("visual_bank", max_abs_diff(visual.tensor(), get("V"))),
        ];
        for (name, diff) in comparisons {
            assert!(diff <= TOLERANCE, "step {k}: {name} differs by {diff:e} (> {TOLERANCE:e})");
            let entry = worst.entry(name).or_insert(0.0);
            *entry = entry.max(diff);
        }
    }
    worst
}

#[test]
fn objective_and_bank_update_match_the_pytorch_oracle() {
    let dir = support::scratch("objective-oracle");
    support::run_oracle("objective_oracle.py", &[&dir]);
    for (scenario, expected_steps) in [("main", 10), ("edge", 2)] {
        let file = read_safetensors(&dir.join(format!("{scenario}.safetensors"))).unwrap();
        let steps: usize = file.metadata["steps"].parse().unwrap();
        assert_eq!(steps, expected_steps);
        let worst = replay(&file.tensors, steps);
        let report: Vec<String> = worst.iter().map(|(name, diff)| format!("{name} {diff:.1e}")).collect();
        println!("{scenario} ({steps} steps) max |lgd - oracle|: {}", report.join(", "));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
