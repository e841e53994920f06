//! A rank's place from Slurm's variables, so `srun lgd train …` needs no wrapper that translates
//! them into torchrun's: `SLURM_PROCID` is the rank, `SLURM_NTASKS` the world size,
//! `SLURM_LOCALID` the index on the node, the first host of the step's (else the job's) node
//! list the rendezvous address, and `15000 + SLURM_JOB_ID % 17000` the port. `MASTER_ADDR` and
//! `MASTER_PORT`, when set, override the last two (an sbatch script that exports them, a port
//! taken by someone else).

use super::hostlist;
use super::{DistributedError, Rendezvous, RendezvousSource};

/// The derived port's range: above the privileged and the common service ports, below Linux's
/// ephemeral range (32768–60999), so a port the kernel handed to some client is not likely to
/// collide; one job, one port, the same on every node without talking.
pub const SLURM_PORT_BASE: u16 = 15000;
/// Ports in the derived range.
pub const SLURM_PORT_SPAN: u64 = 17000;

/// The port every task of job `job_id` derives: `15000 + job_id % 17000`, 15000–31999.
pub fn port_of_job(job_id: u64) -> u16 {
    SLURM_PORT_BASE + (job_id % SLURM_PORT_SPAN) as u16
}

/// `None` when this is no task of a multi-task Slurm step (`SLURM_PROCID` or `SLURM_NTASKS`
/// unset, or one task: a lone process needs no group).
pub(super) fn from_slurm(lookup: &impl Fn(&str) -> Option<String>) -> Result<Option<Rendezvous>, DistributedError> {
    let (Some(procid), Some(ntasks)) = (lookup("SLURM_PROCID"), lookup("SLURM_NTASKS")) else { return Ok(None) };
    let number = |variable: &'static str, text: &str| {
        text.trim().parse::<usize>().map_err(|_| DistributedError::Environment {
            variable,
            problem: format!("{text:?} is not a non-negative integer"),
        })
    };
    let world_size = number("SLURM_NTASKS", &ntasks)?;
    if world_size <= 1 {
        return Ok(None);
    }
    let rank = number("SLURM_PROCID", &procid)?;
    if rank >= world_size {
        return Err(DistributedError::Environment {
            variable: "SLURM_PROCID",
            problem: format!("{rank} is not below SLURM_NTASKS = {world_size}"),
        });
    }
    let local_rank = match lookup("SLURM_LOCALID") {
        Some(text) => number("SLURM_LOCALID", &text)?,
        None => {
            return Err(DistributedError::Environment {
                variable: "SLURM_LOCALID",
                problem: "not set, but SLURM_PROCID and SLURM_NTASKS are".into(),
            })
        }
    };
    let local_world_size = tasks_on_this_node(lookup)?.unwrap_or(1).max(local_rank + 1);
    let (master_addr, addr_from) = match lookup("MASTER_ADDR") {
        Some(addr) => (addr, "MASTER_ADDR".to_owned()),
        None => first_host(lookup)?,
    };
    let (master_port, port_from) = match lookup("MASTER_PORT") {
        Some(text) => (super::rendezvous::port(&text)?, "MASTER_PORT".to_owned()),
        None => {
            let job = lookup("SLURM_JOB_ID").ok_or(DistributedError::Environment {
                variable: "SLURM_JOB_ID",
                problem: "not set, and neither is MASTER_PORT: the rendezvous port is derived from the job id".into(),
            })?;
            let id = job.trim().parse::<u64>().map_err(|_| DistributedError::Environment {
                variable: "SLURM_JOB_ID",
                problem: format!("{job:?} is not a job number"),
            })?;
            (port_of_job(id), format!("{SLURM_PORT_BASE} + SLURM_JOB_ID={id} % {SLURM_PORT_SPAN}"))
        }
    };
    let detail = format!(
        "SLURM_PROCID={rank}, SLURM_NTASKS={world_size}, SLURM_LOCALID={local_rank}; address {master_addr} from {addr_from}, port {master_port} from {port_from}"
    );
    let source = RendezvousSource::Slurm(detail);
    Ok(Some(Rendezvous { master_addr, master_port, rank, world_size, local_rank, local_world_size, source }))
}

/// The first host of `SLURM_STEP_NODELIST` (the nodes of this `srun`, where its task 0 runs),
/// else of `SLURM_JOB_NODELIST`, and which variable it came from.
fn first_host(lookup: &impl Fn(&str) -> Option<String>) -> Result<(String, String), DistributedError> {
    for variable in ["SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST"] {
        if let Some(list) = lookup(variable) {
            let hosts = hostlist::expand(&list)
                .map_err(|error| DistributedError::Environment { variable, problem: error.to_string() })?;
            return Ok((hosts[0].clone(), format!("the first host of {variable}={list}")));
        }
    }
    Err(DistributedError::Environment {
        variable: "SLURM_JOB_NODELIST",
        problem: "not set, and neither is MASTER_ADDR: rank 0's address is the first host of the node list".into(),
    })
}

/// This node's task count from `SLURM_STEP_TASKS_PER_NODE` (else `SLURM_TASKS_PER_NODE`) at
/// index `SLURM_NODEID`; `None` when either is missing. The list is Slurm's compressed form:
/// `2(x3),1` is 2, 2, 2, 1.
fn tasks_on_this_node(lookup: &impl Fn(&str) -> Option<String>) -> Result<Option<usize>, DistributedError> {
    let Some(node) = lookup("SLURM_NODEID").and_then(|n| n.trim().parse::<usize>().ok()) else { return Ok(None) };
    for variable in ["SLURM_STEP_TASKS_PER_NODE", "SLURM_TASKS_PER_NODE"] {
        let Some(list) = lookup(variable) else { continue };
        let mut counts = Vec::new();
        for part in list.split(',').map(str::trim) {
            let (count, repeat) = match part.split_once("(x") {
                Some((count, repeat)) => (count, repeat.strip_suffix(')').unwrap_or("")),
                None => (part, "1"),
            };
            let parsed = count.parse::<usize>().ok().zip(repeat.parse::<usize>().ok().filter(|r| *r <= 1 << 20));
            let Some((count, repeat)) = parsed else {
                return Err(DistributedError::Environment {
                    variable,
                    problem: format!("{list:?}: `{part}` is neither N nor N(xM)"),
                });
            };
            counts.extend(std::iter::repeat_n(count, repeat));
        }
        return Ok(counts.get(node).copied());
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    const TASK_5_OF_8: [(&str, &str); 7] = [
        ("SLURM_PROCID", "5"),
        ("SLURM_NTASKS", "8"),
        ("SLURM_LOCALID", "1"),
        ("SLURM_NODEID", "1"),
        ("SLURM_TASKS_PER_NODE", "4(x2)"),
        ("SLURM_JOB_NODELIST", "gpu[07-08,11]"),
        ("SLURM_JOB_ID", "123456"),
    ];

    #[test]
    fn a_task_takes_its_place_from_slurms_variables() {
        let r = from_slurm(&lookup(&TASK_5_OF_8)).unwrap().unwrap();
        assert_eq!((r.rank, r.world_size, r.local_rank, r.local_world_size), (5, 8, 1, 4));
        assert_eq!((r.master_addr.as_str(), r.master_port), ("gpu07", 15000 + 4456));
        let RendezvousSource::Slurm(detail) = &r.source else { panic!("{:?}", r.source) };
        assert!(detail.contains("SLURM_PROCID=5") && detail.contains("SLURM_JOB_NODELIST=gpu[07-08,11]"), "{detail}");
    }

    #[test]
    fn the_steps_node_list_and_master_variables_win() {
        let mut pairs = TASK_5_OF_8.to_vec();
        pairs.push(("SLURM_STEP_NODELIST", "gpu[08,11]"));
        assert_eq!(from_slurm(&lookup(&pairs)).unwrap().unwrap().master_addr, "gpu08");
        pairs.extend([("MASTER_ADDR", "10.0.0.9"), ("MASTER_PORT", "29400")]);
        let r = from_slurm(&lookup(&pairs)).unwrap().unwrap();
        assert_eq!((r.master_addr.as_str(), r.master_port), ("10.0.0.9", 29400));
    }

    #[test]
    fn one_task_or_no_step_is_a_lone_process() {
        assert_eq!(from_slurm(&lookup(&[("SLURM_JOB_ID", "9")])).unwrap(), None);
        assert_eq!(from_slurm(&lookup(&[("SLURM_PROCID", "0"), ("SLURM_NTASKS", "1")])).unwrap(), None);
    }

    #[test]
    fn the_port_is_derived_from_the_job_and_stays_in_range() {
        assert_eq!(port_of_job(0), 15000);
        assert_eq!(port_of_job(16_999), 31_999);
        assert_eq!(port_of_job(17_000), 15000);
        assert_eq!(port_of_job(u64::MAX), 15000 + (u64::MAX % 17_000) as u16);
    }

    #[test]
    fn a_missing_or_bad_variable_is_named() {
        let without = |name: &str| TASK_5_OF_8.iter().copied().filter(|(k, _)| *k != name).collect::<Vec<_>>();
        let replaced = |name: &'static str, value: &'static str| {
            let mut pairs = without(name);
            pairs.push((name, value));
            pairs
        };
        for (pairs, expected) in [
            (without("SLURM_LOCALID"), "SLURM_LOCALID: not set"),
            (without("SLURM_JOB_ID"), "SLURM_JOB_ID: not set, and neither is MASTER_PORT"),
            (without("SLURM_JOB_NODELIST"), "SLURM_JOB_NODELIST: not set, and neither is MASTER_ADDR"),
            (replaced("SLURM_JOB_NODELIST", "gpu[07-"), "SLURM_JOB_NODELIST: \"gpu[07-\" is not a Slurm host list"),
            (replaced("SLURM_PROCID", "8"), "SLURM_PROCID: 8 is not below SLURM_NTASKS = 8"),
            (replaced("SLURM_JOB_ID", "12a"), "SLURM_JOB_ID: \"12a\" is not a job number"),
            (replaced("SLURM_TASKS_PER_NODE", "4(x2"), "SLURM_TASKS_PER_NODE: \"4(x2\""),
        ] {
            let error = from_slurm(&lookup(&pairs)).unwrap_err().to_string();
            assert!(error.starts_with(expected), "{error}");
        }
    }
}
