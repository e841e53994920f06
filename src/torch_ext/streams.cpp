// A stream of its own for the calling thread, events that order work across streams, and
// record_stream, through c10's device-generic interfaces: no CUDA header is needed to build it,
// and it is only ever called for CUDA devices.

#include <ATen/ATen.h>
#include <c10/core/Event.h>
#include <c10/core/Stream.h>
#include <c10/core/impl/VirtualGuardImpl.h>

#include "guarded.h"

namespace {

using lgd_ext::guarded;

c10::Device cuda_device(int index) {
  return c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(index));
}

c10::Stream current_stream(int device_index) {
  return c10::impl::VirtualGuardImpl(c10::DeviceType::CUDA).getStream(cuda_device(device_index));
}

}  // namespace

// An event on a device; recorded on one thread's stream, waited for on another's.
struct LgdEvent {
  c10::Event event{c10::DeviceType::CUDA};
};

extern "C" {

// From now on, work this thread queues on CUDA device `device_index` goes to a stream from
// libtorch's pool instead of the default stream that every other thread shares.
int lgd_ext_use_own_stream(int device_index) {
  return guarded([&] {
    const c10::impl::VirtualGuardImpl cuda(c10::DeviceType::CUDA);
    cuda.exchangeStream(cuda.getStreamFromGlobalPool(cuda_device(device_index)));
  });
}

// An event recorded on this thread's current stream of the device: it completes once everything
// queued there so far has run.
int lgd_ext_event_record(int device_index, LgdEvent** out) {
  return guarded([&] {
    auto event = std::make_unique<LgdEvent>();
    event->event.record(current_stream(device_index));
    *out = event.release();
  });
}

// Makes this thread's current stream of the device wait for `event` (on the device: the host
// does not wait).
int lgd_ext_event_block(const LgdEvent* event, int device_index) {
  return guarded([&] { event->event.block(current_stream(device_index)); });
}

void lgd_ext_event_free(LgdEvent* event) { delete event; }

// Tells the caching allocator that `tensor` is used on this thread's current stream of its
// device: its memory is not handed out again before the work queued there so far has run.
int lgd_ext_record_stream(const at::Tensor* tensor) {
  return guarded([&] {
    const auto device = tensor->device();
    tensor->record_stream(current_stream(device.index()));
  });
}

}  // extern "C"
