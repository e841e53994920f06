//! `lgd`'s SGD (state owned, for exact resume) follows torch.optim.SGD step for step: momentum,
//! weight decay, Nesterov, a learning rate changing every step, with a skipped step after each
//! (oracle: tests/oracle/sgd_oracle.py).

mod support;

use lgd::tensor_io::read_safetensors;
use lgd::train::{Sgd, SgdConfig};
use tch::nn::{Init, VarStore};
use tch::{Device, Kind, Tensor};

#[test]
fn sgd_follows_torch_optim_sgd() {
    let dir = support::scratch("sgd");
    support::run_oracle("sgd_oracle.py", &[&dir]);
    let t = read_safetensors(&dir.join("sgd.safetensors")).unwrap().tensors;
    let lrs: Vec<f64> = Vec::try_from(&t["lrs"]).unwrap();
    for (variant, nesterov) in [("plain", false), ("nesterov", true)] {
        let vs = VarStore::new(Device::Cpu);
        let a = vs.root().var("a", &[8, 3], Init::Const(0.0));
        let b = vs.root().var("b", &[5], Init::Const(0.0));
        tch::no_grad(|| {
            a.shallow_clone().copy_(&t["init.a"]);
            b.shallow_clone().copy_(&t["init.b"]);
        });
        let mut sgd = Sgd::new(&vs, SgdConfig { momentum: 0.9, dampening: 0.0, weight_decay: 1e-4, nesterov });
        for (step, lr) in lrs.iter().enumerate() {
            sgd.zero_grad().unwrap();
            let loss = (&a * &t[&format!("grad{step}.a")]).sum(Kind::Float)
                + (&b * &t[&format!("grad{step}.b")]).sum(Kind::Float);
            loss.backward();
            sgd.step(*lr).unwrap();
            // A step flagged on the device as not to be applied (NaN gradients here) changes
            // nothing: torch never saw it, and the next steps still agree.
            sgd.zero_grad().unwrap();
            ((&a * f64::NAN).sum(Kind::Float) + (&b * f64::NAN).sum(Kind::Float)).backward();
            sgd.step_unless(*lr, &Tensor::ones([1], (Kind::Float, Device::Cpu))).unwrap();
        }
        let mut worst: f64 = 0.0;
        for (name, param) in [("a", &a), ("b", &b)] {
            let diff = |x: &Tensor, y: &Tensor| (x - y).abs().max().double_value(&[]);
            worst = worst.max(diff(param, &t[&format!("final.{variant}.{name}")]));
            worst = worst.max(diff(&sgd.state()[name], &t[&format!("momentum.{variant}.{name}")]));
        }
        println!(
            "sgd {variant}: max |lgd - torch| over parameters and momentum after {} steps: {worst:.1e}",
            lrs.len()
        );
        assert!(worst <= 1e-6, "{variant}: {worst}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
