// The small C++ extension: what libtorch offers and tch does not expose.
//
// Every entry point returns 0 on success and -1 on failure, with the C++ exception's message kept
// in a thread-local string that `lgd_ext_last_error` hands to Rust. No exception crosses the C ABI.
// Tensor handles are `at::Tensor*`, the same representation tch's C layer uses for its tensors.

#include <ATen/ATen.h>
#include <ATen/DeviceAccelerator.h>
#include <ATen/autocast_mode.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/jit/serialization/import.h>

#include <exception>
#include <string>

#include "guarded.h"

namespace {

thread_local std::string last_error;

using lgd_ext::guarded;

// 0 = CPU, 1 = CUDA: the only device types the product runs autocast on.
c10::DeviceType device_type_of(int code) {
  switch (code) {
    case 0:
      return c10::DeviceType::CPU;
    case 1:
      return c10::DeviceType::CUDA;
    default:
      throw std::invalid_argument("autocast device code must be 0 (cpu) or 1 (cuda), got " +
                                  std::to_string(code));
  }
}

c10::ScalarType low_precision_type_of(int code) {
  auto type = static_cast<c10::ScalarType>(code);
  if (type != c10::ScalarType::Half && type != c10::ScalarType::BFloat16) {
    throw std::invalid_argument(
        "autocast dtype must be float16 or bfloat16, got scalar type code " + std::to_string(code));
  }
  return type;
}

}  // namespace

namespace lgd_ext {
// One error slot for every translation unit of the extension.
void set_last_error(const std::string& message) { last_error = message; }
}  // namespace lgd_ext

extern "C" {

const char* lgd_ext_last_error() { return last_error.c_str(); }

// A channels_last copy (or the same storage if it already is) of a 4-D tensor.
int lgd_ext_channels_last_copy(const at::Tensor* src, at::Tensor** out) {
  return guarded([&] {
    *out = new at::Tensor(src->contiguous(at::MemoryFormat::ChannelsLast));
  });
}

// Swaps a tensor's data for a channels_last copy, keeping its identity (as `param.data = ...`
// does), so an optimiser or module holding the tensor sees the new layout. The copy always gets
// the exact channels_last strides, even where `contiguous` would keep the tensor because its
// differing strides are all in size-1 dimensions (a 1x1 conv's [O, I, 1, 1], a depthwise
// [C, 1, k, k]): the gradients of a channels_last step have those exact strides, and the
// data-parallel reducer compares a gradient's strides with its parameter's literally.
int lgd_ext_channels_last_in_place(at::Tensor* tensor) {
  return guarded([&] {
    c10::AutoGradMode no_grad(false);
    at::Tensor exact = at::empty(tensor->sizes(), tensor->options().memory_format(at::MemoryFormat::ChannelsLast));
    exact.copy_(*tensor);
    tensor->set_data(exact);
  });
}

int lgd_ext_is_channels_last(const at::Tensor* tensor, int* out) {
  return guarded([&] { *out = tensor->is_contiguous(at::MemoryFormat::ChannelsLast) ? 1 : 0; });
}

int lgd_ext_autocast_set_dtype(int device, int scalar_type) {
  return guarded([&] {
    at::autocast::set_autocast_dtype(device_type_of(device), low_precision_type_of(scalar_type));
  });
}

int lgd_ext_autocast_dtype(int device, int* out) {
  return guarded([&] {
    *out = static_cast<int>(at::autocast::get_autocast_dtype(device_type_of(device)));
  });
}

int lgd_ext_autocast_set_enabled(int device, int enabled) {
  return guarded([&] { at::autocast::set_autocast_enabled(device_type_of(device), enabled != 0); });
}

int lgd_ext_autocast_is_enabled(int device, int* out) {
  return guarded([&] { *out = at::autocast::is_autocast_enabled(device_type_of(device)) ? 1 : 0; });
}

// Entering an autocast region; leaving the outermost one frees the cached low-precision weights.
int lgd_ext_autocast_enter() {
  return guarded([] { at::autocast::increment_nesting(); });
}

int lgd_ext_autocast_exit() {
  return guarded([] {
    if (at::autocast::decrement_nesting() == 0) {
      at::autocast::clear_cache();
    }
  });
}

// Every parameter and buffer of a TorchScript archive, by dotted path, loaded onto the CPU and
// handed to `visit` (which takes ownership of the tensor handle). tch exposes a script module's
// parameters but not its buffers, and a CLIP ResNet's BatchNorm statistics are buffers.
int lgd_ext_jit_named_tensors(const char* path, void* context,
                              void (*visit)(void*, const char*, at::Tensor*)) {
  return guarded([&] {
    torch::jit::Module module = torch::jit::load(std::string(path), c10::Device(c10::kCPU));
    for (const auto& item : module.named_parameters(/*recurse=*/true)) {
      visit(context, item.name.c_str(), new at::Tensor(item.value));
    }
    for (const auto& item : module.named_buffers(/*recurse=*/true)) {
      visit(context, item.name.c_str(), new at::Tensor(item.value));
    }
  });
}

// The caching allocator's byte counts on accelerator `device_index` (CUDA here): allocated now,
// allocated at peak, reserved now, reserved at peak — what `torch.cuda.memory_allocated`,
// `max_memory_allocated`, `memory_reserved` and `max_memory_reserved` report. Throws (→ -1)
// where the process has no accelerator.
int lgd_ext_accelerator_memory(int device_index, int64_t* out) {
  return guarded([&] {
    const auto stats = at::accelerator::getDeviceStats(static_cast<c10::DeviceIndex>(device_index));
    const auto all = static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE);
    out[0] = stats.allocated_bytes[all].current;
    out[1] = stats.allocated_bytes[all].peak;
    out[2] = stats.reserved_bytes[all].current;
    out[3] = stats.reserved_bytes[all].peak;
  });
}

// An uninitialised 1-D CPU tensor of `numel` elements of scalar type `kind`: in page-locked memory
// from the CUDA caching host allocator when `pinned` is 1 (which keeps a freed block until the
// copies queued from it have run), in ordinary memory when 0. tch can ask for neither.
int lgd_ext_empty_host(int64_t numel, int kind, int pinned, at::Tensor** out) {
  return guarded([&] {
    const auto options = at::TensorOptions().dtype(static_cast<c10::ScalarType>(kind)).pinned_memory(pinned != 0);
    *out = new at::Tensor(at::empty({numel}, options));
  });
}

}  // extern "C"
