//! The environment torchrun gives each worker, under the same names with the same meanings, so
//! the process-group code (ours or a user's script) reads one convention whoever launched it.

use super::LaunchPlan;

/// Where one worker stands in the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RankEnv {
    /// Global rank: `node_rank * nproc_per_node + local_rank`.
    pub rank: u64,
    /// Index among this node's workers.
    pub local_rank: u32,
    /// Workers in the whole run: `nproc_per_node * nnodes`.
    pub world_size: u64,
    /// Workers on this node.
    pub local_world_size: u32,
    /// This node's index (torchrun's `GROUP_RANK`).
    pub group_rank: u32,
    /// Rank 0's rendezvous address.
    pub master_addr: String,
    /// Rank 0's rendezvous port (already resolved, never 0).
    pub master_port: u16,
}

impl RankEnv {
    /// The environment of `local_rank` on this node; `master_port` is the resolved port.
    pub fn new(plan: &LaunchPlan, master_port: u16, local_rank: u32) -> Self {
        let per_node = u64::from(plan.nproc_per_node);
        Self {
            rank: u64::from(plan.node_rank) * per_node + u64::from(local_rank),
            local_rank,
            world_size: per_node * u64::from(plan.nnodes),
            local_world_size: plan.nproc_per_node,
            group_rank: plan.node_rank,
            master_addr: plan.master_addr.clone(),
            master_port,
        }
    }

    /// The variables as torchrun names them.
    pub fn vars(&self) -> [(&'static str, String); 7] {
        [
            ("MASTER_ADDR", self.master_addr.clone()),
            ("MASTER_PORT", self.master_port.to_string()),
            ("WORLD_SIZE", self.world_size.to_string()),
            ("RANK", self.rank.to_string()),
            ("LOCAL_RANK", self.local_rank.to_string()),
            ("LOCAL_WORLD_SIZE", self.local_world_size.to_string()),
            ("GROUP_RANK", self.group_rank.to_string()),
        ]
    }
}
