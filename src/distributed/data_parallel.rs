//! What a data-parallel replica does with its group, as DDP does it: start from rank 0's
//! parameters, average gradients with libtorch's own DDP reducer (bucketed all-reduces launched
//! from autograd hooks while backward runs), hand the bank update every rank's
//! teacher keys, and turn any rank's flags into every rank's (stop/checkpoint/reload requests agreed
//! at a step boundary, so no rank is left waiting in a collective its peers never enter).

use tch::{Device, Kind, Tensor};

use super::{DistributedError, GradientReducer, Pending, ProcessGroup};

/// A replica's side of data-parallel training.
#[derive(Debug)]
pub struct DataParallel {
    /// Set by [`DataParallel::reduce_gradients_of`]; dropped before the group.
    reducer: Option<GradientReducer>,
    group: ProcessGroup,
    bucket_bytes: usize,
    /// Where the group's small flag tensors live (NCCL takes CUDA tensors only).
    device: Device,
}

impl DataParallel {
    /// Gradients are averaged in buckets of about `bucket_bytes` (DDP's default is 25 MB); the
    /// replica trains on `device`.
    pub fn new(group: ProcessGroup, bucket_bytes: usize, device: Device) -> Self {
        Self { reducer: None, group, bucket_bytes: bucket_bytes.max(1), device }
    }

    /// This process's rank.
    pub fn rank(&self) -> usize {
        self.group.rank()
    }

    /// Ranks in the group.
    pub fn world_size(&self) -> usize {
        self.group.world_size()
    }

    /// Overwrites `tensors` (parameters, buffers, optimiser and bank state) with rank 0's.
    pub fn broadcast_from_first(&self, tensors: &[Tensor]) -> Result<(), DistributedError> {
        self.bucketed(tensors, |group, flat| group.broadcast(flat, 0))
    }

    /// From now on, every [`DataParallel::before_backward`] arms libtorch's DDP reducer over
    /// `params` (the trainable parameters, in the same order on every rank).
    pub fn reduce_gradients_of(&mut self, params: &[(String, Tensor)]) -> Result<(), DistributedError> {
        self.reducer = Some(GradientReducer::new(&self.group, params, self.bucket_bytes)?);
        Ok(())
    }

    /// Called right before backward: when it returns, every parameter's gradient is the mean of
    /// the ranks' gradients.
    pub fn before_backward(&self) -> Result<(), DistributedError> {
        match &self.reducer {
            Some(reducer) => reducer.prepare(),
            None => Err(DistributedError::Diverged("no parameters registered for gradient averaging".into())),
        }
    }

    /// The mean over the ranks of `values` (any shape, float): a per-rank loss becomes the loss of
    /// the global batch, since every rank's batch has the same size.
    pub fn mean_over_ranks(&self, values: &Tensor) -> Result<Tensor, DistributedError> {
        let mut sum = values.to_kind(Kind::Float).contiguous();
        self.group.all_reduce_sum(&mut sum)?.wait()?;
        Ok(sum / self.world_size() as f64)
    }

    /// Every rank's rows (`[n, ...]` each) in rank order: `[world * n, ...]`.
    pub fn gather_rows(&self, rows: &Tensor) -> Result<Tensor, DistributedError> {
        self.group.all_gather(rows)
    }

    /// Whether every rank's `flag` (a bool scalar on this rank's device) holds, as a bool scalar
    /// there: one small all-reduce that the host does not read.
    pub fn all_on_device(&self, flag: &Tensor) -> Result<Tensor, DistributedError> {
        let mut failed = flag.logical_not().to_kind(Kind::Float).reshape([1]);
        self.group.all_reduce_max(&mut failed)?.wait()?;
        Ok(failed.view([]).eq(0.0))
    }

    /// For each position, whether any rank's flag there is set (one small all-reduce): requests
    /// any rank received (a signal, the status server, a changed file) become every rank's.
    pub fn any_of(&self, flags: &[bool]) -> Result<Vec<bool>, DistributedError> {
        let values: Vec<i64> = flags.iter().map(|f| i64::from(*f)).collect();
        let mut tensor = Tensor::from_slice(&values).to_device(self.device);
        self.group.all_reduce_max(&mut tensor)?.wait()?;
        Ok(Vec::<i64>::try_from(&tensor.to_device(Device::Cpu))
            .expect("an i64 vector")
            .into_iter()
            .map(|v| v != 0)
            .collect())
    }

    /// Fails unless every rank holds rank 0's `value` (named `what` in the error).
    pub fn check_same(&self, what: &str, value: i64) -> Result<(), DistributedError> {
        let mut first = Tensor::from_slice(&[value]).to_device(self.device);
        self.group.broadcast(&mut first, 0)?.wait()?;
        let expected = first.int64_value(&[0]);
        if expected != value {
            return Err(DistributedError::Diverged(format!(
                "rank {} has {what} = {value}, rank 0 has {expected}",
                self.rank()
            )));
        }
        Ok(())
    }

    /// Packs `tensors` into flat buckets (same dtype and device, about `bucket_bytes` each),
    /// starts `collective` on every bucket, then waits for each in turn and copies the values back. Bool tensors travel as u8. Any memory layout works: the flat copy
    /// is in logical order and `copy_` writes back through the original strides.
    fn bucketed(
        &self,
        tensors: &[Tensor],
        collective: impl Fn(&ProcessGroup, &mut Tensor) -> Result<Pending, DistributedError>,
    ) -> Result<(), DistributedError> {
        let _no_grad = tch::no_grad_guard();
        let mut buckets: Vec<Vec<&Tensor>> = Vec::new();
        let mut bytes = 0usize;
        for tensor in tensors.iter().filter(|t| t.defined() && t.numel() > 0) {
            let size = tensor.numel() * tensor.kind().elt_size_in_bytes();
            let fits = buckets.last().is_some_and(|b: &Vec<&Tensor>| {
                let head = b[0];
                head.kind() == tensor.kind() && head.device() == tensor.device() && bytes + size <= self.bucket_bytes
            });
            if fits {
                bytes += size;
                buckets.last_mut().expect("a bucket").push(tensor);
            } else {
                bytes = size;
                buckets.push(vec![tensor]);
            }
        }
        let mut in_flight = Vec::with_capacity(buckets.len());
        for members in &buckets {
            let pieces: Vec<Tensor> = members.iter().map(|t| wire_form(t).reshape([-1])).collect();
            let mut flat = Tensor::cat(&pieces, 0);
            let pending = collective(&self.group, &mut flat)?;
            in_flight.push((flat, pending));
        }
        for ((flat, pending), members) in in_flight.into_iter().zip(&buckets) {
            pending.wait()?;
            let mut offset = 0i64;
            for member in members {
                let count = member.numel() as i64;
                let values = flat.narrow(0, offset, count).view(member.size().as_slice());
                member.shallow_clone().copy_(&values.to_kind(member.kind()));
                offset += count;
            }
        }
        Ok(())
    }
}

/// Gloo reduces numbers; a bool tensor travels as u8.
fn wire_form(tensor: &Tensor) -> Tensor {
    if tensor.kind() == Kind::Bool {
        tensor.to_kind(Kind::Uint8)
    } else {
        tensor.shallow_clone()
    }
}
