//! Raw declarations of the C++ extension (`lgd_ext.cpp`); safe wrappers live in the parent module.
//! Every function returns 0 on success, -1 with `lgd_ext_last_error()` set on failure.

use std::os::raw::{c_char, c_int, c_void};

use torch_sys::C_tensor;

/// An event of `streams.cpp`, opaque here.
#[repr(C)]
pub struct LgdEvent {
    _private: [u8; 0],
}

extern "C" {
    pub fn lgd_ext_last_error() -> *const c_char;
    pub fn lgd_ext_route_libtorch_log(sink: extern "C" fn(text: *const c_char, length: usize)) -> c_int;
    pub fn lgd_ext_channels_last_copy(src: *const C_tensor, out: *mut *mut C_tensor) -> c_int;
    pub fn lgd_ext_channels_last_in_place(tensor: *mut C_tensor) -> c_int;
    pub fn lgd_ext_is_channels_last(tensor: *const C_tensor, out: *mut c_int) -> c_int;
    pub fn lgd_ext_autocast_set_dtype(device: c_int, scalar_type: c_int) -> c_int;
    pub fn lgd_ext_autocast_dtype(device: c_int, out: *mut c_int) -> c_int;
    pub fn lgd_ext_autocast_set_enabled(device: c_int, enabled: c_int) -> c_int;
    pub fn lgd_ext_autocast_is_enabled(device: c_int, out: *mut c_int) -> c_int;
    pub fn lgd_ext_autocast_enter() -> c_int;
    pub fn lgd_ext_autocast_exit() -> c_int;
    pub fn lgd_ext_accelerator_memory(device_index: c_int, out: *mut i64) -> c_int;
    pub fn lgd_ext_empty_host(numel: i64, kind: c_int, pinned: c_int, out: *mut *mut C_tensor) -> c_int;
    #[allow(clippy::too_many_arguments)]
    pub fn lgd_ext_fused_sgd(
        params: *const *const C_tensor,
        grads: *const *const C_tensor,
        buffers: *const *const C_tensor,
        count: i64,
        buffer_count: i64,
        weight_decay: f64,
        momentum: f64,
        lr: f64,
        dampening: f64,
        nesterov: c_int,
        first_step: c_int,
        found_inf: *const C_tensor,
    ) -> c_int;
    pub fn lgd_ext_use_own_stream(device_index: c_int) -> c_int;
    pub fn lgd_ext_event_record(device_index: c_int, out: *mut *mut LgdEvent) -> c_int;
    pub fn lgd_ext_event_block(event: *const LgdEvent, device_index: c_int) -> c_int;
    pub fn lgd_ext_event_free(event: *mut LgdEvent);
    pub fn lgd_ext_record_stream(tensor: *const C_tensor) -> c_int;
    pub fn lgd_ext_clear_gradients(params: *const *const C_tensor, count: i64) -> c_int;
    pub fn lgd_ext_unscale_and_check(
        grads: *const *const C_tensor,
        count: i64,
        found_inf: *mut C_tensor,
        inv_scale: *const C_tensor,
    ) -> c_int;
    pub fn lgd_ext_jit_named_tensors(
        path: *const c_char,
        context: *mut c_void,
        visit: extern "C" fn(*mut c_void, *const c_char, *mut C_tensor),
    ) -> c_int;
}
