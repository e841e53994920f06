use tch::nn::{self, Module, ModuleT};
use tch::{Device, Kind, Tensor};

use super::*;

fn small_conv_net(vs: &nn::Path) -> impl ModuleT {
    let conv = nn::ConvConfig { padding: 1, ..Default::default() };
    nn::seq_t()
        .add(nn::conv2d(vs / "c1", 3, 8, 3, conv))
        .add(nn::batch_norm2d(vs / "bn1", 8, Default::default()))
        .add_fn(|x| x.relu())
        .add(nn::conv2d(vs / "c2", 8, 4, 3, nn::ConvConfig { stride: 2, ..conv }))
}

#[test]
fn channels_last_copy_has_nhwc_strides() {
    let x = Tensor::randn([2, 3, 5, 7], (Kind::Float, Device::Cpu));
    assert!(!is_channels_last(&x).unwrap());
    let y = to_channels_last(&x).unwrap();
    assert_eq!(y.stride(), vec![105, 1, 21, 3]);
    assert!(is_channels_last(&y).unwrap());
    assert_eq!(y.size(), x.size());
    assert!(y.equal(&x), "same values in another layout");
}

#[test]
fn channels_last_refuses_other_ranks() {
    let x = Tensor::zeros([3, 4], (Kind::Float, Device::Cpu));
    let err = to_channels_last(&x).unwrap_err();
    assert_eq!(err.to_string(), "channels_last needs a 4-D tensor, got shape [3, 4]");
}

#[test]
fn conv_net_gives_the_same_output_in_both_layouts() {
    tch::manual_seed(0);
    let vs = nn::VarStore::new(Device::Cpu);
    let net = small_conv_net(&vs.root());
    let x = Tensor::randn([4, 3, 16, 16], (Kind::Float, Device::Cpu));
    let reference = net.forward_t(&x, false);

    let weight_before = vs.variables()["c1.weight"].shallow_clone();
    assert_eq!(module_to_channels_last(&vs).unwrap(), 2, "the two conv weights are 4-D");
    for (name, tensor) in vs.variables() {
        if tensor.dim() == 4 {
            assert!(is_channels_last(&tensor).unwrap(), "{name} was not converted");
        }
    }
    assert!(is_channels_last(&weight_before).unwrap(), "conversion keeps tensor identity");

    let output = net.forward_t(&to_channels_last(&x).unwrap(), false);
    assert!(is_channels_last(&output).unwrap(), "channels_last propagates through the net");
    let max_diff = (&output - &reference).abs().max().double_value(&[]);
    println!("max |channels_last - contiguous| = {max_diff:e}");
    assert!(max_diff <= 1e-5, "outputs differ by {max_diff}");
}

#[test]
fn converted_parameters_still_train() {
    let vs = nn::VarStore::new(Device::Cpu);
    let conv = nn::conv2d(vs.root() / "c", 3, 2, 3, Default::default());
    module_to_channels_last(&vs).unwrap();
    let x = Tensor::randn([1, 3, 8, 8], (Kind::Float, Device::Cpu));
    conv.forward(&x).sum(Kind::Float).backward();
    assert!(conv.ws.grad().defined(), "the weight keeps requires_grad and receives a gradient");
}

#[test]
fn converted_parameters_have_the_strides_of_their_channels_last_gradients() {
    // 1x1 and depthwise kernels are channels_last-contiguous already as far as `contiguous` cares
    // (their strides differ only in size-1 dimensions), but their gradients get the exact strides.
    let vs = nn::VarStore::new(Device::Cpu);
    let pointwise = nn::conv2d(vs.root() / "pointwise", 8, 6, 1, Default::default());
    let depthwise_config = nn::ConvConfig { groups: 6, padding: 1, ..Default::default() };
    let depthwise = nn::conv2d(vs.root() / "depthwise", 6, 6, 3, depthwise_config);
    assert_eq!(pointwise.ws.stride(), vec![8, 1, 1, 1], "a fresh [6, 8, 1, 1] weight is contiguous");
    module_to_channels_last(&vs).unwrap();
    assert_eq!(pointwise.ws.stride(), vec![8, 1, 8, 8]);
    assert_eq!(depthwise.ws.stride(), vec![9, 1, 3, 1]);
    let x = to_channels_last(&Tensor::randn([2, 8, 5, 5], (Kind::Float, Device::Cpu))).unwrap();
    depthwise.forward(&pointwise.forward(&x)).sum(Kind::Float).backward();
    for conv in [&pointwise, &depthwise] {
        assert_eq!(conv.ws.grad().stride(), conv.ws.stride(), "gradient and parameter strides");
    }
}

// Autocast state is per thread in libtorch, and the dtype choice is process-wide: keep all
// assertions about it in one test so parallel tests cannot interleave.
#[test]
fn autocast_guard_picks_the_dtype_and_restores_state() {
    let a = Tensor::randn([8, 8], (Kind::Float, Device::Cpu));
    assert_eq!(a.matmul(&a).kind(), Kind::Float);
    assert!(!autocast_enabled(Device::Cpu).unwrap());
    let default_kind = autocast_dtype(Device::Cpu).unwrap();
    for kind in [Kind::BFloat16, Kind::Half] {
        let guard = AutocastGuard::new(Device::Cpu, kind).unwrap();
        assert!(autocast_enabled(Device::Cpu).unwrap());
        assert_eq!(autocast_dtype(Device::Cpu).unwrap(), kind);
        assert_eq!(a.matmul(&a).kind(), kind, "matmul runs in the chosen low precision");
        drop(guard);
        assert!(!autocast_enabled(Device::Cpu).unwrap());
        assert_eq!(autocast_dtype(Device::Cpu).unwrap(), default_kind);
        assert_eq!(a.matmul(&a).kind(), Kind::Float);
    }
    assert!(matches!(
        AutocastGuard::new(Device::Cpu, Kind::Float),
        Err(TorchExtError::UnsupportedAutocastKind(Kind::Float))
    ));
}
