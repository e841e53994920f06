// The NCCL backend of a process group, in its own translation unit: its headers need CUDA's
// (from the nvidia-* wheels, see scripts/fetch-cuda-headers.sh), which a CPU-only libtorch lacks.
// Built with LGD_WITHOUT_NCCL there, asking for NCCL throws an error that says why.

#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <chrono>
#include <stdexcept>

#ifndef LGD_WITHOUT_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace lgd_ext {

c10::intrusive_ptr<c10d::Backend> make_nccl_backend(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                                    int world_size, std::chrono::milliseconds timeout) {
#ifdef LGD_WITHOUT_NCCL
  throw std::runtime_error(
      "this lgd was built without NCCL (libtorch without CUDA, or CUDA headers missing at build time: "
      "run scripts/fetch-cuda-headers.sh and rebuild); use distributed.backend = \"gloo\"");
#else
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, world_size, options);
#endif
}

}  // namespace lgd_ext
