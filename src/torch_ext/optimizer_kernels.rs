//! libtorch's multi-tensor optimiser kernels (`optimizer_kernels.cpp`): one fused SGD update over
//! every parameter instead of a handful of kernels per parameter, and the gradient scaler's
//! unscale-and-check over every gradient. Both read or write a "found inf" flag that stays on the
//! device, so a step that must not be applied is dropped there and the host never waits for it.

use tch::Tensor;

use super::{check, ffi, Result};

/// One SGD update's settings (torch.optim.SGD's, with `maximize` off).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdUpdate {
    /// The learning rate of this step.
    pub lr: f64,
    /// Momentum (0: no buffers).
    pub momentum: f64,
    /// Dampening of the gradient added to the buffer.
    pub dampening: f64,
    /// L2 weight decay added to the gradient.
    pub weight_decay: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
    /// Buffers are set to the gradient instead of blended (torch's first step).
    pub first_step: bool,
}

/// Applies `update` to `params` with `grads` and `buffers` (one each per parameter; `buffers`
/// empty when momentum is 0), all in place, unless `found_inf` (one float element on the
/// parameters' device) is non-zero.
pub fn fused_sgd(
    params: &[Tensor],
    grads: &[Tensor],
    buffers: &[Tensor],
    update: SgdUpdate,
    found_inf: &Tensor,
) -> Result<()> {
    let handles = |tensors: &[Tensor]| tensors.iter().map(Tensor::as_ptr).collect::<Vec<_>>();
    let (params_h, grads_h, buffers_h) = (handles(params), handles(grads), handles(buffers));
    let SgdUpdate { lr, momentum, dampening, weight_decay, nesterov, first_step } = update;
    // SAFETY: live tensor handles, counts equal to the arrays' lengths; libtorch checks shapes,
    // devices and dtypes and throws (caught in the extension) on a mismatch.
    check("fused SGD", unsafe {
        ffi::lgd_ext_fused_sgd(
            params_h.as_ptr(),
            grads_h.as_ptr(),
            buffers_h.as_ptr(),
            params.len() as i64,
            buffers.len() as i64,
            weight_decay,
            momentum,
            lr,
            dampening,
            i32::from(nesterov),
            i32::from(first_step),
            found_inf.as_ptr(),
        )
    })
}

/// Drops the gradients of `params` (torch's `zero_grad(set_to_none=True)`): nothing runs on the
/// device, and the next backward hands its gradients over instead of adding them to zeros.
pub fn clear_gradients(params: &[Tensor]) -> Result<()> {
    let params_h: Vec<_> = params.iter().map(Tensor::as_ptr).collect();
    // SAFETY: live tensor handles and their count.
    check("clear gradients", unsafe { ffi::lgd_ext_clear_gradients(params_h.as_ptr(), params.len() as i64) })
}

/// Multiplies every gradient by `inv_scale` (one float element) in place and sets `found_inf`
/// (one float element) to 1 if any of them holds an inf or NaN; all on the gradients' device.
pub fn unscale_and_check(grads: &[Tensor], found_inf: &mut Tensor, inv_scale: &Tensor) -> Result<()> {
    let grads_h: Vec<_> = grads.iter().map(Tensor::as_ptr).collect();
    // SAFETY: live tensor handles and their count; libtorch validates the rest.
    check("unscale gradients", unsafe {
        ffi::lgd_ext_unscale_and_check(grads_h.as_ptr(), grads.len() as i64, found_inf.as_mut_ptr(), inv_scale.as_ptr())
    })
}

#[cfg(test)]
mod tests {
    use tch::{Device, Kind};

    use super::*;

    fn flag(value: f32) -> Tensor {
        Tensor::from_slice(&[value])
    }

    #[test]
    fn a_found_inf_leaves_parameters_and_buffers_as_they_were() {
        let update =
            SgdUpdate { lr: 0.5, momentum: 0.9, dampening: 0.0, weight_decay: 0.0, nesterov: false, first_step: false };
        let (param, grad, buffer) = (
            Tensor::ones([3], (Kind::Float, Device::Cpu)),
            Tensor::full([3], 2.0, (Kind::Float, Device::Cpu)),
            Tensor::zeros([3], (Kind::Float, Device::Cpu)),
        );
        fused_sgd(&[param.shallow_clone()], &[grad.shallow_clone()], &[buffer.shallow_clone()], update, &flag(1.0))
            .unwrap();
        assert_eq!(Vec::<f32>::try_from(&param).unwrap(), vec![1.0; 3]);
        assert_eq!(Vec::<f32>::try_from(&buffer).unwrap(), vec![0.0; 3]);
        fused_sgd(&[param.shallow_clone()], &[grad], &[buffer.shallow_clone()], update, &flag(0.0)).unwrap();
        // A zero buffer blended with momentum is the gradient itself: 1 − 0.5·2.
        assert_eq!(Vec::<f32>::try_from(&buffer).unwrap(), vec![2.0; 3]);
        assert_eq!(Vec::<f32>::try_from(&param).unwrap(), vec![0.0; 3]);
    }

    #[test]
    fn without_momentum_no_buffers_are_needed() {
        let update =
            SgdUpdate { lr: 0.1, momentum: 0.0, dampening: 0.0, weight_decay: 0.0, nesterov: false, first_step: false };
        let param = Tensor::ones([2], (Kind::Float, Device::Cpu));
        fused_sgd(&[param.shallow_clone()], &[Tensor::ones([2], (Kind::Float, Device::Cpu))], &[], update, &flag(0.0))
            .unwrap();
        assert_eq!(Vec::<f32>::try_from(&param).unwrap(), vec![0.9; 2]);
    }

    #[test]
    fn mismatched_lists_are_an_error_not_a_crash() {
        let update =
            SgdUpdate { lr: 0.1, momentum: 0.9, dampening: 0.0, weight_decay: 0.0, nesterov: false, first_step: false };
        let param = Tensor::ones([2], (Kind::Float, Device::Cpu));
        let error =
            fused_sgd(&[param], &[Tensor::ones([3], (Kind::Float, Device::Cpu))], &[], update, &flag(0.0)).unwrap_err();
        assert!(error.to_string().starts_with("fused SGD: "), "{error}");
    }

    #[test]
    fn cleared_gradients_are_undefined_and_the_next_backward_sets_them() {
        let param = Tensor::ones([2], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        (&param * 3.0).sum(Kind::Float).backward();
        clear_gradients(&[param.shallow_clone()]).unwrap();
        assert!(!param.grad().defined());
        (&param * 2.0).sum(Kind::Float).backward();
        assert_eq!(Vec::<f32>::try_from(&param.grad()).unwrap(), vec![2.0; 2], "not added to the old gradient");
    }

    #[test]
    fn unscaling_flags_a_non_finite_gradient() {
        let grads = [Tensor::from_slice(&[2.0f32, 4.0]), Tensor::from_slice(&[f32::INFINITY])];
        let mut found = flag(0.0);
        unscale_and_check(&grads, &mut found, &flag(0.5)).unwrap();
        assert_eq!(Vec::<f32>::try_from(&grads[0]).unwrap(), vec![1.0, 2.0]);
        assert_eq!(found.double_value(&[0]), 1.0);
    }
}
