// c10d process groups for data-parallel training: a TCPStore rendezvous and a Gloo or NCCL backend, with
// the handful of collectives the trainer uses. Errors as everywhere in the extension (guarded.h).

#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "guarded.h"

namespace lgd_ext {
c10::intrusive_ptr<c10d::Backend> make_nccl_backend(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                                    int world_size, std::chrono::milliseconds timeout);
}

namespace {

using lgd_ext::guarded;

std::vector<uint8_t> bytes_of(const std::string& text) { return {text.begin(), text.end()}; }

}  // namespace

// One rank's membership: the store it met the others through, the backend it talks over, and the
// ProcessGroup wrapping that backend (what DDP's Reducer takes).
struct LgdProcessGroup {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> backend;
  c10::intrusive_ptr<c10d::ProcessGroup> group;
  std::chrono::milliseconds timeout;
};

// libtorch's DDP gradient reducer over a model's parameters: autograd hooks copy each gradient
// into its bucket as backward produces it, and a full bucket's all-reduce starts at once, while
// backward goes on; the end of backward waits for them and writes the averages back.
struct LgdReducer {
  std::unique_ptr<c10d::Reducer> reducer;
};

// An operation in flight (a bucket's all-reduce while the next bucket is packed).
struct LgdWork {
  c10::intrusive_ptr<c10d::Work> work;
  std::chrono::milliseconds timeout;
};

extern "C" {

// Rendezvous at master_addr:port (rank 0 hosts the store and waits for world_size - 1 others),
// checks that every rank was started with the same world size, then builds the group's backend:
// 0 = Gloo (CPU tensors, and CUDA ones through host copies), 1 = NCCL (CUDA tensors).
int lgd_pg_new(const char* master_addr, int port, int rank, int world_size, int64_t timeout_ms, int backend_code,
               LgdProcessGroup** out) {
  return guarded([&] {
    const std::chrono::milliseconds timeout(timeout_ms);
    c10d::TCPStoreOptions options;
    options.port = static_cast<std::uint16_t>(port);
    options.isServer = rank == 0;
    options.numWorkers = static_cast<std::size_t>(world_size);
    options.waitWorkers = true;
    options.timeout = timeout;
    auto store = c10::make_intrusive<c10d::TCPStore>(std::string(master_addr), options);
    // Every rank states its world size; rank 0's is the group's. A rank that disagrees fails here
    // with both numbers instead of hanging in the first collective.
    store->set("lgd/world_size/" + std::to_string(rank), bytes_of(std::to_string(world_size)));
    if (rank == 0) {
      store->set("lgd/world_size", bytes_of(std::to_string(world_size)));
    }
    const auto agreed_bytes = store->get("lgd/world_size");
    const std::string agreed(agreed_bytes.begin(), agreed_bytes.end());
    if (agreed != std::to_string(world_size)) {
      throw std::invalid_argument("WORLD_SIZE mismatch: this rank (" + std::to_string(rank) + ") has " +
                                  std::to_string(world_size) + ", rank 0 has " + agreed);
    }
    c10::intrusive_ptr<c10d::Backend> backend;
    if (backend_code == 1) {
      backend = lgd_ext::make_nccl_backend(store, rank, world_size, timeout);
    } else {
      auto gloo_options = c10d::ProcessGroupGloo::Options::create_default(timeout);
      backend = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world_size, gloo_options);
    }
    auto group = c10::make_intrusive<c10d::ProcessGroup>(store, rank, world_size);
    if (backend_code == 1) {
      group->setBackend(c10::DeviceType::CUDA, c10d::ProcessGroup::BackendType::NCCL, backend);
      group->setDefaultBackend(c10d::ProcessGroup::BackendType::NCCL);
    } else {
      group->setBackend(c10::DeviceType::CPU, c10d::ProcessGroup::BackendType::GLOO, backend);
      group->setBackend(c10::DeviceType::CUDA, c10d::ProcessGroup::BackendType::GLOO, backend);
      group->setDefaultBackend(c10d::ProcessGroup::BackendType::GLOO);
    }
    *out = new LgdProcessGroup{store, backend, group, timeout};
  });
}

void lgd_pg_free(LgdProcessGroup* group) { delete group; }

// Starts a sum all-reduce of `tensor` in place.
int lgd_pg_allreduce_sum_start(LgdProcessGroup* group, at::Tensor* tensor, LgdWork** out) {
  return guarded([&] {
    std::vector<at::Tensor> tensors{*tensor};
    c10d::AllreduceOptions options;
    options.reduceOp = c10d::ReduceOp::SUM;
    *out = new LgdWork{group->backend->allreduce(tensors, options), group->timeout};
  });
}

// Starts a max all-reduce of `tensor` in place (flags: any rank's 1 wins).
int lgd_pg_allreduce_max_start(LgdProcessGroup* group, at::Tensor* tensor, LgdWork** out) {
  return guarded([&] {
    std::vector<at::Tensor> tensors{*tensor};
    c10d::AllreduceOptions options;
    options.reduceOp = c10d::ReduceOp::MAX;
    *out = new LgdWork{group->backend->allreduce(tensors, options), group->timeout};
  });
}

// Starts a broadcast of `tensor` from `root` in place.
int lgd_pg_broadcast_start(LgdProcessGroup* group, at::Tensor* tensor, int root, LgdWork** out) {
  return guarded([&] {
    std::vector<at::Tensor> tensors{*tensor};
    c10d::BroadcastOptions options;
    options.rootRank = root;
    *out = new LgdWork{group->backend->broadcast(tensors, options), group->timeout};
  });
}

// Starts gathering every rank's `input` ([n, ...]) into `output` ([world * n, ...], rank order).
int lgd_pg_allgather_start(LgdProcessGroup* group, at::Tensor* output, at::Tensor* input, LgdWork** out) {
  return guarded([&] {
    *out = new LgdWork{group->backend->_allgather_base(*output, *input, c10d::AllgatherOptions()), group->timeout};
  });
}

int lgd_pg_barrier_start(LgdProcessGroup* group, LgdWork** out) {
  return guarded([&] { *out = new LgdWork{group->backend->barrier(c10d::BarrierOptions()), group->timeout}; });
}

// A reducer over `params` (names for its error messages) in buckets of `bucket_bytes`, the first
// one 1 MB as DDP makes it so that communication starts early. Buckets are filled in reverse
// parameter order, the order backward produces gradients in.
int lgd_reducer_new(LgdProcessGroup* group, at::Tensor** params, const char** names, int count,
                    int64_t bucket_bytes, LgdReducer** out) {
  return guarded([&] {
    std::vector<at::Tensor> tensors;
    std::unordered_map<size_t, std::string> param_names;
    for (int i = 0; i < count; ++i) {
      tensors.push_back(*params[i]);
      param_names[static_cast<size_t>(i)] = names[i];
    }
    const int64_t first_bucket_bytes = std::min<int64_t>(1024 * 1024, bucket_bytes);
    const std::vector<bool> sparse(tensors.size(), false);
    auto [buckets, limits] = c10d::compute_bucket_assignment_by_size(
        tensors, {static_cast<size_t>(first_bucket_bytes), static_cast<size_t>(bucket_bytes)}, sparse);
    std::reverse(buckets.begin(), buckets.end());
    std::vector<int64_t> caps(limits.rbegin(), limits.rend());
    auto reducer = std::make_unique<c10d::Reducer>(
        tensors, buckets, group->group, sparse, bucket_bytes, /*find_unused_parameters=*/false,
        /*gradient_as_bucket_view=*/false, param_names, first_bucket_bytes,
        /*skip_all_reduce_unused_params=*/false, /*use_python_reducer=*/false, caps);
    *out = new LgdReducer{std::move(reducer)};
  });
}

// Arms the reducer for the next backward pass (every parameter must then receive a gradient).
// After the first pass, the buckets are rebuilt once in the order gradients actually arrived (as
// DDP's forward does), so the first bucket holds the first gradients backward produces.
int lgd_reducer_prepare(LgdReducer* reducer) {
  return guarded([&] {
    reducer->reducer->rebuild_buckets();
    reducer->reducer->prepare_for_forward();
    reducer->reducer->prepare_for_backward({});
  });
}

void lgd_reducer_free(LgdReducer* reducer) {
  guarded([&] { delete reducer; });
}

// Waits for an operation (throws → -1 on a peer's failure or the group's timeout) and frees it.
int lgd_work_wait(LgdWork* work) {
  const int status = guarded([&] { work->work->wait(work->timeout); });
  delete work;
  return status;
}

}  // extern "C"
