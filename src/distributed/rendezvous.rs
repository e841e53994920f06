//! Where and as whom this process joins its group, read from the environment torchrun, `lgd
//! launch` and Slurm wrappers set: `MASTER_ADDR`, `MASTER_PORT`, `RANK`, `WORLD_SIZE`, `LOCAL_RANK`,
//! `LOCAL_WORLD_SIZE`.

use super::DistributedError;

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
}

impl Rendezvous {
    /// `None` when `WORLD_SIZE` is not set (a single process, no group); otherwise every variable
    /// must be present and consistent.
    pub fn from_env() -> Result<Option<Self>, DistributedError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`Rendezvous::from_env`] over any variable lookup (tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, DistributedError> {
        let Some(world) = lookup("WORLD_SIZE") else { return Ok(None) };
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
        let port = required("MASTER_PORT")?;
        let master_port = port.trim().parse::<u16>().ok().filter(|p| *p > 0).ok_or(DistributedError::Environment {
            variable: "MASTER_PORT",
            problem: format!("{port:?} is not a TCP port (1-65535)"),
        })?;
        Ok(Some(Self { master_addr, master_port, rank, world_size, local_rank, local_world_size }))
    }
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
