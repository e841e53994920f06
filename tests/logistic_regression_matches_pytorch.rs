//! The L-BFGS linear probe reaches the optimum PyTorch's own L-BFGS finds for the same objective
//! (mean cross-entropy + λ/2·‖W‖² on standardised features), at a strong and a weak penalty, on
//! overlapping classes where the optimum is interior; and again with copies of features and a
//! constant one added, which the probe solves as one feature each while PyTorch solves them all.

mod support;

use lgd::eval::lbfgs::LbfgsConfig;
use lgd::eval::logistic_regression::LogisticRegression;
use lgd::tensor_io::{read_safetensors, write_safetensors};
use tch::{Device, Kind, Tensor};

#[test]
fn fit_matches_pytorch_lbfgs() {
    let dir = support::scratch("logistic-regression");
    tch::manual_seed(3);
    let classes = 5;
    let labels = Tensor::randint(classes, [400], (Kind::Int64, Device::Cpu));
    let centres = Tensor::randn([classes, 12], (Kind::Float, Device::Cpu));
    let features = centres.index_select(0, &labels) + Tensor::randn([400, 12], (Kind::Float, Device::Cpu)) * 1.5 + 4.0;
    // A repeat, a copy ×4 (equal once standardised, bit for bit) and a constant feature.
    let constant = Tensor::full([400, 1], 7.0, (Kind::Float, Device::Cpu));
    let with_copies =
        Tensor::cat(&[features.shallow_clone(), features.narrow(1, 0, 5), constant, features.narrow(1, 3, 6) * 4.0], 1);
    for (features, solved_on, penalty) in
        [(&features, 12, 1e-1), (&features, 12, 1e-4), (&with_copies, 12, 1e-1), (&with_copies, 12, 1e-4)]
    {
        let inputs = [
            ("features", features),
            ("labels", &labels),
            ("penalty", &Tensor::from_slice(&[penalty])),
            ("classes", &Tensor::from_slice(&[classes])),
        ];
        write_safetensors(&dir.join("inputs.safetensors"), &inputs, &Default::default()).unwrap();
        support::run_oracle("logistic_regression_oracle.py", &[&dir]);
        let expected = read_safetensors(&dir.join("expected.safetensors")).unwrap().tensors;
        let model = LogisticRegression::fit(features, &labels, classes, penalty, None, LbfgsConfig::default());
        assert_eq!((model.features_in, model.solved_on), (features.size()[1], solved_on), "features solved on");
        let objective = expected["objective"].double_value(&[0]);
        let weight_diff = (&model.weight - &expected["weight"]).abs().max().double_value(&[]);
        let bias_diff = (&model.bias - &expected["bias"]).abs().max().double_value(&[]);
        println!(
            "{} features, λ {penalty:.0e}: objective lgd {:.12} PyTorch {objective:.12}; max |ΔW| {weight_diff:.1e}, |Δb| {bias_diff:.1e}; {} iterations",
            features.size()[1],
            model.objective,
            model.iterations
        );
        assert!((model.objective - objective).abs() <= 1e-9 * objective.abs().max(1.0), "objective");
        assert!(weight_diff <= 1e-4 && bias_diff <= 1e-4, "parameters");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
