//! The data pipeline's stop channel: closed by shutdown, it wakes every stage blocked on a
//! channel, so that no stage polls a flag to notice it should end.

use crossbeam_channel::{select, Receiver, Sender};

/// A message type with no values: its channels only ever close.
pub enum Never {}

/// Sends unless the pipeline is stopping or the receiver is gone; false when not sent. A peer
/// stuck for good (a worker in a hung read) cannot keep this stage blocked past a stop.
pub(crate) fn send_unless_stopped<T>(channel: &Sender<T>, item: T, stop: &Receiver<Never>) -> bool {
    select! {
        send(channel, item) -> sent => sent.is_ok(),
        recv(stop) -> _ => false,
    }
}

/// Receives unless the pipeline is stopping or every sender is gone.
pub(crate) fn receive_unless_stopped<T>(channel: &Receiver<T>, stop: &Receiver<Never>) -> Option<T> {
    select! {
        recv(channel) -> item => item.ok(),
        recv(stop) -> _ => None,
    }
}
