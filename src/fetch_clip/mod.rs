//! `lgd fetch-clip`: OpenAI's published CLIP checkpoints, downloaded with resume and verified
//! against the SHA-256 that each address embeds, so a teacher file is never silently wrong.
//!
//! - [`models`]: the published names and addresses; what an address says about its file.
//! - [`download`]: one transfer into `<file>.part`, resumed with a byte range, verified, renamed.
//! - `progress`: a bar on a terminal, periodic log lines otherwise (logs, CI).

pub mod download;
pub mod models;
mod progress;

use std::path::PathBuf;

pub use download::{fetch, Fetched};
pub use models::{lookup, names, Source};

/// Why a checkpoint could not be fetched. Each names the model, address, host or file at fault.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// A name that is not in OpenAI's list.
    #[error("unknown CLIP model {name:?}; the published ones are {known}")]
    UnknownModel {
        /// What was asked for.
        name: String,
        /// Every published name.
        known: String,
    },
    /// An address we cannot read a file name and SHA-256 from.
    #[error("address {url}: {reason}")]
    BadAddress {
        /// The address.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No connection (DNS, refused, TLS, timeout): the host is named so a proxy or typo shows.
    #[error("cannot reach {host}: {reason}")]
    Unreachable {
        /// The address's host.
        host: String,
        /// The transport's explanation.
        reason: String,
    },
    /// The server answered with an error status.
    #[error("{url}: the server answered HTTP {status}")]
    Http {
        /// The address.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The server answered something a download cannot use (a byte range other than asked).
    #[error("{url}: {reason}")]
    Protocol {
        /// The address.
        url: String,
        /// What was wrong with the answer.
        reason: String,
    },
    /// The connection broke mid-file: what arrived is kept for the next run to resume from.
    #[error("{url}: the transfer broke off ({reason}); {part} keeps the {bytes} bytes received: run the command again to resume")]
    Interrupted {
        /// The address.
        url: String,
        /// The partial file.
        part: PathBuf,
        /// Bytes in it.
        bytes: u64,
        /// The transport's explanation.
        reason: String,
    },
    /// The complete download is not the file the address promises; it was deleted.
    #[error("{file}: downloaded SHA-256 is {actual} but the address promises {expected}; the download was deleted")]
    HashMismatch {
        /// The file that would have been written.
        file: PathBuf,
        /// The hash in the address.
        expected: String,
        /// The hash of what arrived.
        actual: String,
    },
    /// Reading or writing a local file.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}
