//! The c10d process group as data-parallel training uses it, with two ranks as two threads over
//! Gloo on 127.0.0.1: every collective's result, and the three ways a rendezvous goes wrong
//! (nobody at the master, a rank that never arrives, ranks started with different world sizes)
//! each ending in an error within the timeout instead of a hang.

use std::time::{Duration, Instant};

use lgd::distributed::{Backend, DataParallel, ProcessGroup, Rendezvous, RendezvousSource};
use tch::{Kind, Tensor};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn rendezvous(port: u16, rank: usize, world_size: usize) -> Rendezvous {
    Rendezvous {
        master_addr: "127.0.0.1".into(),
        master_port: port,
        rank,
        world_size,
        local_rank: rank,
        local_world_size: world_size,
        source: RendezvousSource::Torchrun,
    }
}

/// Runs `body(rank, group)` on `world` threads joined into one group; returns their results.
fn on_ranks<T: Send + 'static>(world: usize, body: fn(usize, DataParallel) -> T) -> Vec<T> {
    let port = free_port();
    let threads: Vec<_> = (0..world)
        .map(|rank| {
            std::thread::spawn(move || {
                let group =
                    ProcessGroup::connect(&rendezvous(port, rank, world), Backend::Gloo, Duration::from_secs(60))
                        .unwrap();
                body(rank, DataParallel::new(group, 64, tch::Device::Cpu))
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

#[test]
fn ddp_reducer_averages_gradients_broadcast_and_gather_over_gloo() {
    let results = on_ranks(2, |rank, group| {
        let r = rank as f64;
        // libtorch's DDP reducer: after backward each gradient is the mean over the ranks. Two
        // parameters (one channels_last) over buckets of 64 bytes, two backward passes.
        let weight = Tensor::ones([2, 3, 4, 5], (Kind::Float, tch::Device::Cpu)).set_requires_grad(true);
        let weight = lgd::torch_ext::to_channels_last(&weight).unwrap().detach().set_requires_grad(true);
        assert!(lgd::torch_ext::is_channels_last(&weight).unwrap());
        let bias = Tensor::zeros([3], (Kind::Float, tch::Device::Cpu)).set_requires_grad(true);
        let mut group = group;
        group
            .reduce_gradients_of(&[("weight".into(), weight.shallow_clone()), ("bias".into(), bias.shallow_clone())])
            .unwrap();
        for pass in 0..2 {
            let x = Tensor::arange(2 * 3 * 4 * 5, (Kind::Float, tch::Device::Cpu)).view([2, 3, 4, 5])
                * (r + 1.0 + pass as f64);
            for p in [&weight, &bias] {
                let mut grad = p.grad();
                if grad.defined() {
                    let _ = grad.zero_();
                }
            }
            group.before_backward().unwrap();
            ((&weight * &x).sum(Kind::Float) + (&bias * (r + 1.0)).sum(Kind::Float)).backward();
            // Means of rank 0's (1 + pass)·x and rank 1's (2 + pass)·x, and of 1 and 2.
            let expected =
                Tensor::arange(2 * 3 * 4 * 5, (Kind::Float, tch::Device::Cpu)).view([2, 3, 4, 5]) * (1.5 + pass as f64);
            assert!(
                weight.grad().allclose(&expected, 0.0, 0.0, false),
                "rank {rank}, pass {pass}: {}",
                weight.grad().view([-1]).narrow(0, 0, 4)
            );
            assert_eq!(Vec::<f32>::try_from(&bias.grad()).unwrap(), vec![1.5; 3], "rank {rank}, pass {pass}");
        }
        // Rank 0's values everywhere, bool flags included.
        let weights = Tensor::full([5], r + 7.0, (Kind::Float, tch::Device::Cpu));
        let seen = Tensor::from_slice(&[rank == 0, rank == 1, true]);
        group.broadcast_from_first(&[weights.shallow_clone(), seen.shallow_clone()]).unwrap();
        assert_eq!(Vec::<f32>::try_from(&weights).unwrap(), vec![7.0; 5]);
        assert_eq!(Vec::<bool>::try_from(&seen).unwrap(), vec![true, false, true]);
        // Rows in rank order.
        let rows = Tensor::full([2, 3], r, (Kind::Float, tch::Device::Cpu));
        let gathered = group.gather_rows(&rows).unwrap();
        assert_eq!(gathered.size(), [4, 3]);
        assert_eq!(Vec::<f32>::try_from(&gathered.select(1, 0)).unwrap(), vec![0.0, 0.0, 1.0, 1.0]);
        // Any rank's flag becomes every rank's.
        let flags = group.any_of(&[rank == 1, false, true]).unwrap();
        assert_eq!(flags, vec![true, false, true]);
        // A flag on the device holds for all only where it holds on every rank.
        assert!(!bool::try_from(&group.all_on_device(&Tensor::from(rank == 0)).unwrap()).unwrap());
        assert!(bool::try_from(&group.all_on_device(&Tensor::from(true)).unwrap()).unwrap());
        group.check_same("a constant", 5).unwrap();
        group.check_same("the rank", rank as i64).map(|_| ()).map_err(|e| e.to_string())
    });
    assert!(results[0].is_ok(), "rank 0 agrees with itself");
    let error = results[1].as_ref().unwrap_err();
    assert!(error.contains("rank 1 has the rank = 1, rank 0 has 0"), "{error}");
}

#[test]
fn an_unreachable_master_or_a_missing_rank_fails_within_the_timeout() {
    let timeout = Duration::from_secs(3);
    // Nobody listens: the client retries until the timeout, then names the master.
    let port = free_port();
    let started = Instant::now();
    let error = ProcessGroup::connect(&rendezvous(port, 1, 2), Backend::Gloo, timeout).unwrap_err().to_string();
    assert!(started.elapsed() < timeout * 4, "took {:?}", started.elapsed());
    assert!(error.contains(&format!("127.0.0.1:{port}")) && error.contains("rank 1 of 2"), "{error}");
    // Rank 0 hosts the store, but rank 1 never comes.
    let started = Instant::now();
    let error = ProcessGroup::connect(&rendezvous(free_port(), 0, 2), Backend::Gloo, timeout).unwrap_err().to_string();
    assert!(started.elapsed() < timeout * 4, "took {:?}", started.elapsed());
    assert!(error.contains("rank 0 of 2"), "{error}");
}

#[test]
fn ranks_started_with_different_world_sizes_are_told_so() {
    let port = free_port();
    let timeout = Duration::from_secs(5);
    let first = std::thread::spawn(move || {
        ProcessGroup::connect(&rendezvous(port, 0, 2), Backend::Gloo, timeout).map(|_| ()).map_err(|e| e.to_string())
    });
    std::thread::sleep(Duration::from_millis(300));
    let second =
        ProcessGroup::connect(&rendezvous(port, 1, 3), Backend::Gloo, timeout).map(|_| ()).unwrap_err().to_string();
    assert!(second.contains("WORLD_SIZE mismatch: this rank (1) has 3, rank 0 has 2"), "{second}");
    let first = first.join().unwrap();
    assert!(first.is_err(), "rank 0 cannot form a group of 2 without rank 1");
}
