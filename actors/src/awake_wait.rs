//! Waiting on a channel (or a reply) for at most a span of time the process was running. The watchdogs'
//! limit (`guards.stall_timeout_s`) must not run out while the whole process was stopped
//! (SIGSTOP, a suspended batch job, a paused machine): after SIGCONT every thread resumes at once,
//! and the one being waited for needs its moment to catch up. The wait is cut into short slices,
//! and a slice counts only what it asked for, however long it overslept.

use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError};

/// How finely a wait is cut: a stop costs the limit at most this much.
const SLICE: Duration = Duration::from_millis(250);

/// The next message of `receiver`, waiting at most `limit` of running time.
pub fn recv_within_running_time<T>(receiver: &Receiver<T>, limit: Duration) -> Result<T, RecvTimeoutError> {
    let mut counted = Duration::ZERO;
    loop {
        let slice = SLICE.min(limit.saturating_sub(counted));
        match receiver.recv_timeout(slice) {
            Err(RecvTimeoutError::Timeout) => {
                counted += slice;
                if counted >= limit {
                    return Err(RecvTimeoutError::Timeout);
                }
            }
            answer => return answer,
        }
    }
}

/// `future`'s output, waiting at most `limit` of running time (`None`: it did not come).
pub async fn within_running_time<F: std::future::Future>(future: F, limit: Duration) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut counted = Duration::ZERO;
    loop {
        let slice = SLICE.min(limit.saturating_sub(counted));
        match tokio::time::timeout(slice, &mut future).await {
            Ok(output) => return Some(output),
            Err(_) => {
                counted += slice;
                if counted >= limit {
                    return None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn a_message_in_time_is_returned_and_none_times_out_after_the_limit() {
        let (sender, receiver) = crossbeam_channel::bounded(1);
        let late = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(600));
            sender.send(7).unwrap();
        });
        assert_eq!(recv_within_running_time(&receiver, Duration::from_secs(30)), Ok(7));
        late.join().unwrap();

        let (_sender, receiver) = crossbeam_channel::bounded::<u8>(1);
        let start = Instant::now();
        assert_eq!(recv_within_running_time(&receiver, Duration::from_millis(700)), Err(RecvTimeoutError::Timeout));
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(700) && waited < Duration::from_secs(5), "{waited:?}");
        assert_eq!(recv_within_running_time(&receiver, Duration::ZERO), Err(RecvTimeoutError::Timeout));
    }

    #[test]
    fn a_future_in_time_is_returned_and_none_times_out_after_the_limit() {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let late = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(600));
            sender.send(7).unwrap();
        });
        let got = crate::actor_runtime::block_on(within_running_time(receiver, Duration::from_secs(30))).unwrap();
        assert_eq!(got.map(Result::ok), Some(Some(7)));
        late.join().unwrap();

        let start = Instant::now();
        let never = std::future::pending::<()>();
        let got = crate::actor_runtime::block_on(within_running_time(never, Duration::from_millis(700))).unwrap();
        let waited = start.elapsed();
        assert!(got.is_none() && waited >= Duration::from_millis(700) && waited < Duration::from_secs(5), "{waited:?}");
    }

    #[test]
    fn a_closed_channel_answers_at_once() {
        let (sender, receiver) = crossbeam_channel::bounded::<u8>(1);
        drop(sender);
        let start = Instant::now();
        assert_eq!(recv_within_running_time(&receiver, Duration::from_secs(30)), Err(RecvTimeoutError::Disconnected));
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
