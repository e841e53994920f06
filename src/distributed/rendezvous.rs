//! Where and as whom this process joins its group, read from the environment torchrun, `lgd
//! launch` and wrappers set: `MASTER_ADDR`, `MASTER_PORT`, `RANK`, `WORLD_SIZE`, `LOCAL_RANK`,
//! `LOCAL_WORLD_SIZE`; without them, from Slurm's (`super::slurm`), so `srun lgd train` works as
//! is. torchrun's win when both are set: a launcher started under Slurm (`srun lgd launch …`)
//! hands its ranks their own places, which Slurm's, inherited, would contradict.

use super::DistributedError;

/// Which launcher's variables gave the rank its place (logged at start-up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RendezvousSource {
    /// torchrun's (`RANK`, `WORLD_SIZE`, …), set by torchrun, `lgd launch` or a wrapper.
    Torchrun,
    /// Slurm's, for a task of `srun lgd train`; what was read, and where the address and port came from.
    Slurm(String),
}

impl std::fmt::Display for RendezvousSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Torchrun => write!(f, "torchrun's variables (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT)"),
            Self::Slurm(detail) => write!(f, "Slurm ({detail})"),
        }
    }
}

/// One rank's coordinates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendezvous {
    /// Host of rank 0's store.
    pub master_addr: String,
    /// Port of rank 0's store.
    pub master_port: u16,
    /// This process's rank, 0..world_size.
    pub rank: usize,
    /// Processes in the group.
    pub world_size: usize,
    /// This process's index on its machine (which GPU it takes).
    pub local_rank: usize,
    /// Ranks on this machine (they share its cores).
    pub local_world_size: usize,
    /// Whose variables these are.
    pub source: RendezvousSource,
}

impl Rendezvous {
    /// `None` when neither `WORLD_SIZE` nor a multi-task Slurm step's variables are set (a single
    /// process, no group); otherwise every variable must be present and consistent.
    pub fn from_env() -> Result<Option<Self>, DistributedError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`Rendezvous::from_env`] over any variable lookup (tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, DistributedError> {
        let Some(world) = lookup("WORLD_SIZE") else { return super::slurm::from_slurm(&lookup) };
        let number = |variable: &'static str, text: &str| {
            text.trim().parse::<usize>().map_err(|_| DistributedError::Environment {
                variable,
                problem: format!("{text:?} is not a non-negative integer"),
            })
        };
        let required = |variable: &'static str| {
            lookup(variable)
                .ok_or(DistributedError::Environment { variable, problem: "not set, but WORLD_SIZE is".into() })
        };
        let world_size = number("WORLD_SIZE", &world)?;
        if world_size == 0 {
            return Err(DistributedError::Environment { variable: "WORLD_SIZE", problem: "must be at least 1".into() });
        }
        let rank = number("RANK", &required("RANK")?)?;
        if rank >= world_size {
            return Err(DistributedError::Environment {
                variable: "RANK",
                problem: format!("{rank} is not below WORLD_SIZE = {world_size}"),
            });
        }
        let local_rank = match lookup("LOCAL_RANK") {
            Some(text) => number("LOCAL_RANK", &text)?,
            None => rank,
        };
        let local_world_size = match lookup("LOCAL_WORLD_SIZE") {
            Some(text) => number("LOCAL_WORLD_SIZE", &text)?.max(1),
            None => 1,
        };
        let master_addr = required("MASTER_ADDR")?;
        let master_port = port(&required("MASTER_PORT")?)?;
        let source = RendezvousSource::Torchrun;
        Ok(Some(Self { master_addr, master_port, rank, world_size, local_rank, local_world_size, source }))
    }
}

/// `MASTER_PORT`'s value as a TCP port.
pub(super) fn port(text: &str) -> Result<u16, DistributedError> {
    text.trim().parse::<u16>().ok().filter(|p| *p > 0).ok_or(DistributedError::Environment {
        variable: "MASTER_PORT",
        problem: format!("{text:?} is not a TCP port (1-65535)"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn torchrun_environment_is_read_and_checked() {
        assert_eq!(Rendezvous::from_lookup(lookup(&[])).unwrap(), None);
        let full = [
            ("WORLD_SIZE", "4"),
            ("RANK", "3"),
            ("LOCAL_RANK", "1"),
            ("LOCAL_WORLD_SIZE", "2"),
            ("MASTER_ADDR", "10.0.0.1"),
            ("MASTER_PORT", "29500"),
        ];
        let r = Rendezvous::from_lookup(lookup(&full)).unwrap().unwrap();
        assert_eq!((r.rank, r.world_size, r.local_rank, r.local_world_size), (3, 4, 1, 2));
        assert_eq!((r.master_port, r.master_addr.as_str()), (29500, "10.0.0.1"));
        assert_eq!(r.source, RendezvousSource::Torchrun);
        // Slurm's variables too (`srun lgd launch`): torchrun's win.
        let slurm = [("SLURM_PROCID", "1"), ("SLURM_NTASKS", "2"), ("SLURM_LOCALID", "0"), ("SLURM_JOB_ID", "7")];
        let both: Vec<_> = full.iter().chain(&slurm).copied().collect();
        assert_eq!(Rendezvous::from_lookup(lookup(&both)).unwrap().unwrap(), r);
        let alone = Rendezvous::from_lookup(lookup(&[&slurm[..], &[("SLURM_JOB_NODELIST", "n[1-2]")]].concat()));
        let alone = alone.unwrap().unwrap();
        assert_eq!((alone.rank, alone.world_size, alone.master_addr.as_str()), (1, 2, "n1"));
        assert!(matches!(alone.source, RendezvousSource::Slurm(_)));
        let errors = [
            (&[("WORLD_SIZE", "2"), ("MASTER_ADDR", "a"), ("MASTER_PORT", "1")][..], "RANK: not set"),
            (
                &[("WORLD_SIZE", "2"), ("RANK", "2"), ("MASTER_ADDR", "a"), ("MASTER_PORT", "1")][..],
                "RANK: 2 is not below WORLD_SIZE = 2",
            ),
            (&[("WORLD_SIZE", "two"), ("RANK", "0")][..], "WORLD_SIZE: \"two\""),
            (&[("WORLD_SIZE", "2"), ("RANK", "0"), ("MASTER_PORT", "1")][..], "MASTER_ADDR: not set"),
            (
                &[("WORLD_SIZE", "2"), ("RANK", "0"), ("MASTER_ADDR", "a"), ("MASTER_PORT", "70000")][..],
                "MASTER_PORT: \"70000\"",
            ),
        ];
        for (pairs, expected) in errors {
            let error = Rendezvous::from_lookup(lookup(pairs)).unwrap_err().to_string();
            assert!(error.starts_with(expected), "{error}");
        }
    }
}
