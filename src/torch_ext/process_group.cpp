// c10d process groups for data-parallel training: a TCPStore rendezvous and a Gloo or NCCL backend, with
// the handful of collectives the trainer uses. Errors as everywhere in the extension (guarded.h).

#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>
#include <string>
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

// One rank's membership: the store it met the others through and the backend it talks over.
struct LgdProcessGroup {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> backend;
  std::chrono::milliseconds timeout;
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
    *out = new LgdProcessGroup{store, backend, timeout};
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

// Waits for an operation (throws → -1 on a peer's failure or the group's timeout) and frees it.
int lgd_work_wait(LgdWork* work) {
  const int status = guarded([&] { work->work->wait(work->timeout); });
  delete work;
  return status;
}

}  // extern "C"
