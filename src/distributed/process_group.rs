//! One rank's c10d process group (a TCPStore rendezvous and a Gloo or NCCL backend, built by the
//! C++ extension's `process_group.cpp`) and the collectives data-parallel training needs. Operations
//! start asynchronously and return a [`Pending`], so several gradient buckets can be in flight
//! at once; every wait is bounded by the group's timeout.

use std::ffi::CString;
use std::os::raw::{c_char, c_int};
use std::ptr::NonNull;
use std::time::Duration;

use tch::Tensor;
use torch_sys::C_tensor;

use super::{DistributedError, Rendezvous};
use crate::torch_ext::check;

#[repr(C)]
struct RawGroup {
    _opaque: [u8; 0],
}

#[repr(C)]
struct RawWork {
    _opaque: [u8; 0],
}

#[repr(C)]
struct RawReducer {
    _opaque: [u8; 0],
}

extern "C" {
    fn lgd_pg_new(
        master_addr: *const c_char,
        port: c_int,
        rank: c_int,
        world_size: c_int,
        timeout_ms: i64,
        backend: c_int,
        out: *mut *mut RawGroup,
    ) -> c_int;
    fn lgd_pg_free(group: *mut RawGroup);
    fn lgd_pg_allreduce_sum_start(group: *mut RawGroup, tensor: *mut C_tensor, out: *mut *mut RawWork) -> c_int;
    fn lgd_pg_allreduce_max_start(group: *mut RawGroup, tensor: *mut C_tensor, out: *mut *mut RawWork) -> c_int;
    fn lgd_pg_broadcast_start(
        group: *mut RawGroup,
        tensor: *mut C_tensor,
        root: c_int,
        out: *mut *mut RawWork,
    ) -> c_int;
    fn lgd_pg_allgather_start(
        group: *mut RawGroup,
        output: *mut C_tensor,
        input: *mut C_tensor,
        out: *mut *mut RawWork,
    ) -> c_int;
    fn lgd_pg_barrier_start(group: *mut RawGroup, out: *mut *mut RawWork) -> c_int;
    fn lgd_work_wait(work: *mut RawWork) -> c_int;
    fn lgd_reducer_new(
        group: *mut RawGroup,
        params: *const *mut C_tensor,
        names: *const *const c_char,
        count: c_int,
        bucket_bytes: i64,
        out: *mut *mut RawReducer,
    ) -> c_int;
    fn lgd_reducer_prepare(reducer: *mut RawReducer) -> c_int;
    fn lgd_reducer_free(reducer: *mut RawReducer);
}

/// Which c10d backend carries the collectives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// CPU tensors (CUDA ones through host copies): tests, CPU runs.
    Gloo,
    /// CUDA tensors over NVLink/InfiniBand: GPU runs.
    Nccl,
}

/// This process's membership of the training group.
#[derive(Debug)]
pub struct ProcessGroup {
    raw: NonNull<RawGroup>,
    rank: usize,
    world_size: usize,
}

// SAFETY: the C++ group is internally synchronised (c10d backends are used from many threads in
// PyTorch); we only move it between threads, never share `&mut` access.
unsafe impl Send for ProcessGroup {}

/// A collective in flight. The tensors it works on are kept alive by the C++ side; [`Pending::wait`]
/// is where a peer's failure or the timeout surfaces. Dropping it waits too (errors then only logged).
#[derive(Debug)]
#[must_use = "a collective is only complete after `wait`"]
pub struct Pending {
    raw: *mut RawWork,
    operation: &'static str,
}

impl Pending {
    /// Blocks until the collective finished on this rank.
    pub fn wait(mut self) -> Result<(), DistributedError> {
        let raw = std::mem::replace(&mut self.raw, std::ptr::null_mut());
        // SAFETY: `raw` came from a successful start call and is waited (and freed) exactly once.
        check(self.operation, unsafe { lgd_work_wait(raw) }).map_err(DistributedError::Collective)
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.raw.is_null() {
            // SAFETY: as in `wait`; the handle is freed here instead.
            if let Err(error) = check(self.operation, unsafe { lgd_work_wait(self.raw) }) {
                tracing::warn!("{error}");
            }
        }
    }
}

impl ProcessGroup {
    /// Meets the other ranks at the rendezvous's master and builds the group on `backend`. Fails
    /// (within the timeout) when the master cannot be reached, a rank never arrives, or a rank was
    /// started with another world size.
    pub fn connect(rendezvous: &Rendezvous, backend: Backend, timeout: Duration) -> Result<Self, DistributedError> {
        let addr = CString::new(rendezvous.master_addr.as_str()).map_err(|_| DistributedError::Environment {
            variable: "MASTER_ADDR",
            problem: "contains a NUL byte".into(),
        })?;
        let mut raw = std::ptr::null_mut();
        // SAFETY: every pointer argument is valid for the call; on success `raw` is a new group.
        let status = unsafe {
            lgd_pg_new(
                addr.as_ptr(),
                c_int::from(rendezvous.master_port),
                rendezvous.rank as c_int,
                rendezvous.world_size as c_int,
                timeout.as_millis() as i64,
                match backend {
                    Backend::Gloo => 0,
                    Backend::Nccl => 1,
                },
                &mut raw,
            )
        };
        check("process group rendezvous", status).map_err(|error| DistributedError::Rendezvous {
            master: format!("{}:{}", rendezvous.master_addr, rendezvous.master_port),
            rank: rendezvous.rank,
            world_size: rendezvous.world_size,
            timeout,
            cause: error.to_string(),
        })?;
        let raw = NonNull::new(raw).expect("the extension returned a group");
        Ok(Self { raw, rank: rendezvous.rank, world_size: rendezvous.world_size })
    }

    /// This process's rank, 0..world_size.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// How many ranks train together.
    pub fn world_size(&self) -> usize {
        self.world_size
    }

    /// Starts summing `tensor` over the ranks, in place.
    pub fn all_reduce_sum(&self, tensor: &mut Tensor) -> Result<Pending, DistributedError> {
        self.start("all-reduce (sum)", |group, out| unsafe {
            lgd_pg_allreduce_sum_start(group, tensor.as_mut_ptr(), out)
        })
    }

    /// Starts the element-wise maximum of `tensor` over the ranks, in place.
    pub fn all_reduce_max(&self, tensor: &mut Tensor) -> Result<Pending, DistributedError> {
        self.start("all-reduce (max)", |group, out| unsafe {
            lgd_pg_allreduce_max_start(group, tensor.as_mut_ptr(), out)
        })
    }

    /// Starts copying `root`'s `tensor` into every rank's, in place.
    pub fn broadcast(&self, tensor: &mut Tensor, root: usize) -> Result<Pending, DistributedError> {
        self.start("broadcast", |group, out| unsafe {
            lgd_pg_broadcast_start(group, tensor.as_mut_ptr(), root as c_int, out)
        })
    }

    /// Every rank's `input` (`[n, ...]`, the same shape on all ranks) stacked in rank order:
    /// `[world_size * n, ...]`.
    pub fn all_gather(&self, input: &Tensor) -> Result<Tensor, DistributedError> {
        let mut shape = input.size();
        shape[0] *= self.world_size as i64;
        let mut output = Tensor::empty(shape.as_slice(), (input.kind(), input.device()));
        let mut input = input.contiguous();
        self.start("all-gather", |group, out| unsafe {
            lgd_pg_allgather_start(group, output.as_mut_ptr(), input.as_mut_ptr(), out)
        })?
        .wait()?;
        Ok(output)
    }

    /// Returns once every rank reached it.
    pub fn barrier(&self) -> Result<(), DistributedError> {
        self.start("barrier", |group, out| unsafe { lgd_pg_barrier_start(group, out) })?.wait()
    }

    fn start(
        &self,
        operation: &'static str,
        call: impl FnOnce(*mut RawGroup, *mut *mut RawWork) -> c_int,
    ) -> Result<Pending, DistributedError> {
        let mut raw = std::ptr::null_mut();
        // The closures pass live tensor handles and this live group; on success `raw` is new work.
        check(operation, call(self.raw.as_ptr(), &mut raw)).map_err(DistributedError::Collective)?;
        Ok(Pending { raw, operation })
    }
}

/// libtorch's DDP gradient reducer (`c10d::Reducer`) over a model's trainable parameters: armed
/// before each backward, it all-reduces gradients in buckets as backward produces them
/// (communication overlapping the rest of backward), and when backward returns every parameter's
/// gradient is the mean over the ranks. Every parameter must receive a gradient in every armed
/// backward (no unused parameters).
#[derive(Debug)]
pub struct GradientReducer {
    raw: NonNull<RawReducer>,
}

// SAFETY: as for `ProcessGroup`: moved between threads, used from one at a time.
unsafe impl Send for GradientReducer {}

impl GradientReducer {
    /// Registers the hooks on `params` (named for libtorch's error messages), in buckets of about
    /// `bucket_bytes` (the first 1 MB, as DDP does, so that communication starts early).
    pub fn new(
        group: &ProcessGroup,
        params: &[(String, Tensor)],
        bucket_bytes: usize,
    ) -> Result<Self, DistributedError> {
        let names: Vec<CString> =
            params.iter().map(|(name, _)| CString::new(name.as_str()).expect("parameter names have no NUL")).collect();
        let name_ptrs: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
        let tensor_ptrs: Vec<*mut C_tensor> = params.iter().map(|(_, t)| t.as_ptr() as *mut C_tensor).collect();
        let mut raw = std::ptr::null_mut();
        // SAFETY: the arrays hold `params.len()` live pointers for the call; the C++ side copies
        // the tensors (sharing storage) and the names.
        let status = unsafe {
            lgd_reducer_new(
                group.raw.as_ptr(),
                tensor_ptrs.as_ptr(),
                name_ptrs.as_ptr(),
                params.len() as c_int,
                bucket_bytes as i64,
                &mut raw,
            )
        };
        check("gradient reducer", status).map_err(DistributedError::Collective)?;
        Ok(Self { raw: NonNull::new(raw).expect("the extension returned a reducer") })
    }

    /// Arms the reducer for the next backward pass.
    pub fn prepare(&self) -> Result<(), DistributedError> {
        // SAFETY: a live reducer.
        check("gradient reducer", unsafe { lgd_reducer_prepare(self.raw.as_ptr()) })
            .map_err(DistributedError::Collective)
    }
}

impl Drop for GradientReducer {
    fn drop(&mut self) {
        // SAFETY: created by `lgd_reducer_new`, freed once (its hooks are removed with it).
        unsafe { lgd_reducer_free(self.raw.as_ptr()) }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        // SAFETY: the group was created by `lgd_pg_new` and is freed once.
        unsafe { lgd_pg_free(self.raw.as_ptr()) }
    }
}
