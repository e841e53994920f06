// libtorch's multi-tensor optimiser kernels, which tch does not expose: SGD over every parameter
// in one fused update, gradients dropped rather than zeroed, and the gradient scaler's
// unscale-and-check over every gradient. Both take
// the "found inf" flag as a device tensor, so a step that must not be applied is dropped on the
// device and the host never waits for the GPU inside a step.

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <optional>
#include <vector>

#include "guarded.h"

namespace {

using lgd_ext::guarded;

std::vector<at::Tensor> tensor_list(const at::Tensor* const* handles, int64_t count) {
  std::vector<at::Tensor> tensors;
  tensors.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    tensors.push_back(*handles[i]);
  }
  return tensors;
}

}  // namespace

extern "C" {

// p ← p − lr·d for every parameter at once (torch.optim.SGD's update, `fused=True`), skipped
// entirely when `found_inf` (one float element, on the parameters' device) is non-zero.
// `buffers` holds one momentum buffer per parameter, or none when `momentum` is 0.
int lgd_ext_fused_sgd(const at::Tensor* const* params, const at::Tensor* const* grads,
                      const at::Tensor* const* buffers, int64_t count, int64_t buffer_count,
                      double weight_decay, double momentum, double lr, double dampening,
                      int nesterov, int first_step, const at::Tensor* found_inf) {
  return guarded([&] {
    c10::NoGradGuard no_grad;
    at::_fused_sgd_(tensor_list(params, count), tensor_list(grads, count),
                    tensor_list(buffers, buffer_count), weight_decay, momentum, lr, dampening,
                    nesterov != 0, /*maximize=*/false, first_step != 0,
                    /*grad_scale=*/std::nullopt, std::optional<at::Tensor>(*found_inf));
  });
}

// Drops the gradient of every parameter (torch's `zero_grad(set_to_none=True)`): no kernel to
// zero them, and the next backward hands its gradients over instead of adding them to zeros.
int lgd_ext_clear_gradients(const at::Tensor* const* params, int64_t count) {
  return guarded([&] {
    for (int64_t i = 0; i < count; ++i) {
      at::Tensor param = *params[i];
      param.mutable_grad().reset();
    }
  });
}

// Multiplies every gradient by `inv_scale` in place and sets `found_inf` to 1 when any of them
// holds an inf or NaN (GradScaler's unscale step; both flags stay on the device).
int lgd_ext_unscale_and_check(const at::Tensor* const* grads, int64_t count, at::Tensor* found_inf,
                              const at::Tensor* inv_scale) {
  return guarded([&] {
    c10::NoGradGuard no_grad;
    at::_amp_foreach_non_finite_check_and_unscale_(tensor_list(grads, count), *found_inf,
                                                    *inv_scale);
  });
}

}  // extern "C"
