//! One checkpoint download: bytes go to `<file>.part`, a broken transfer resumes from the end of
//! the `.part` with an HTTP byte range, and only a `.part` whose SHA-256 matches the address is
//! renamed to the final name, so the final file is either absent or verified.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::progress::Progress;
use super::{FetchError, Source};

/// Bytes per read from the network.
const CHUNK: usize = 256 * 1024;

/// What [`fetch`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The verified file.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// Bytes transferred by this run (0 when the file was already there).
    pub transferred: u64,
    /// Bytes taken from an earlier run's `.part`.
    pub resumed_from: u64,
    /// The file was already there, verified: nothing was transferred.
    pub already_present: bool,
}

/// Downloads `source` into `out_dir` (created if needed), resuming a `.part` left by an earlier
/// run. A final file already there with the right hash is left alone.
pub fn fetch(source: &Source, out_dir: &Path) -> Result<Fetched, FetchError> {
    fs::create_dir_all(out_dir).map_err(io_error(out_dir))?;
    let target = out_dir.join(&source.file_name);
    let part = out_dir.join(format!("{}.part", source.file_name));
    if target.is_file() {
        let (actual, bytes) = hash_file(&target)?;
        if actual == source.sha256 {
            return Ok(Fetched { path: target, bytes, transferred: 0, resumed_from: 0, already_present: true });
        }
        tracing::warn!(
            "{} has SHA-256 {actual}, not the published {}: downloading it again",
            target.display(),
            source.sha256
        );
    }

    let agent = agent();
    let (mut hasher, mut have) = resume_point(&part)?;
    let response = match get(&agent, source, have) {
        // 416: the `.part` is not a prefix of this file (longer than it): start over.
        Err(FetchError::Http { status: 416, .. }) if have > 0 => {
            tracing::warn!("{}: the server refused to resume at byte {have}; starting over", part.display());
            (hasher, have) = (Sha256::new(), 0);
            get(&agent, source, 0)?
        }
        other => other?,
    };
    let total = match response.status().as_u16() {
        206 => {
            let (start, total) = content_range(&response)
                .ok_or_else(|| protocol(source, "a 206 answer without a usable Content-Range"))?;
            if start != have {
                return Err(protocol(
                    source,
                    &format!("asked to resume at byte {have}, the server sent from byte {start}"),
                ));
            }
            tracing::info!(
                "{}: resuming at byte {have} of {}",
                source.file_name,
                total.map_or("?".into(), |t| t.to_string())
            );
            total
        }
        _ => {
            if have > 0 {
                tracing::info!("{}: the server ignored the byte range; starting over", source.file_name);
                (hasher, have) = (Sha256::new(), 0);
            }
            response.body().content_length()
        }
    };
    if have == 0 {
        tracing::info!("{}: downloading {} from {}", source.file_name, size_text(total), source.url);
    }

    let file = OpenOptions::new()
        .create(true)
        .write(true)
        .append(have > 0)
        .truncate(have == 0)
        .open(&part)
        .map_err(io_error(&part))?;
    let resumed_from = have;
    let mut progress = Progress::new(&source.file_name, have, total);
    let copied = copy_hashing(response.into_body().into_reader(), file, &part, &mut hasher, &mut progress);
    progress.finish();
    let transferred = copied.map_err(|failure| match failure {
        CopyFailure::Read(error) => FetchError::Interrupted {
            url: source.url.clone(),
            bytes: fs::metadata(&part).map_or(0, |m| m.len()),
            part: part.clone(),
            reason: error.to_string(),
        },
        CopyFailure::Write(error) => error,
    })?;

    let actual = hex(hasher.finalize().as_slice());
    if actual != source.sha256 {
        let _ = fs::remove_file(&part);
        return Err(FetchError::HashMismatch { file: target, expected: source.sha256.clone(), actual });
    }
    fs::rename(&part, &target).map_err(io_error(&target))?;
    File::open(out_dir).and_then(|folder| folder.sync_all()).map_err(io_error(out_dir))?;
    Ok(Fetched { path: target, bytes: resumed_from + transferred, transferred, resumed_from, already_present: false })
}

/// The agent: connection and per-read timeouts so a dead network fails instead of hanging;
/// no total timeout, since a checkpoint can take many minutes.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .user_agent(concat!("lgd/", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent()
}

/// GET, from byte `from` on when it is not 0.
fn get(agent: &ureq::Agent, source: &Source, from: u64) -> Result<ureq::http::Response<ureq::Body>, FetchError> {
    let mut request = agent.get(&source.url);
    if from > 0 {
        request = request.header("Range", format!("bytes={from}-"));
    }
    request.call().map_err(|error| match error {
        ureq::Error::StatusCode(status) => FetchError::Http { url: source.url.clone(), status },
        ureq::Error::BadUri(reason) => FetchError::BadAddress { url: source.url.clone(), reason },
        ureq::Error::Protocol(error) => protocol(source, &error.to_string()),
        other => {
            let reason = other.to_string();
            let reason = reason.strip_prefix("io: ").unwrap_or(&reason).to_owned();
            FetchError::Unreachable { host: source.host.clone(), reason }
        }
    })
}

/// A `.part` from an earlier run: its length and the hasher fed with its bytes.
fn resume_point(part: &Path) -> Result<(Sha256, u64), FetchError> {
    let mut hasher = Sha256::new();
    match File::open(part) {
        Ok(file) => {
            let bytes = feed(file, &mut hasher).map_err(io_error(part))?;
            Ok((hasher, bytes))
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok((hasher, 0)),
        Err(error) => Err(io_error(part)(error)),
    }
}

/// `Content-Range: bytes START-END/TOTAL` as (START, TOTAL); TOTAL may be `*`.
fn content_range(response: &ureq::http::Response<ureq::Body>) -> Option<(u64, Option<u64>)> {
    let value = response.headers().get("content-range")?.to_str().ok()?;
    let (range, total) = value.trim().strip_prefix("bytes ")?.split_once('/')?;
    let start = range.split_once('-')?.0.trim().parse().ok()?;
    Some((start, total.trim().parse().ok()))
}

/// Why [`copy_hashing`] stopped: the network (keep the `.part`) or the disk (a local error).
enum CopyFailure {
    Read(io::Error),
    Write(FetchError),
}

/// Streams `body` into `file`, hashing and counting; the `.part` is flushed and synced even when
/// the network fails, so the next run resumes from every byte received.
fn copy_hashing(
    mut body: impl Read,
    file: File,
    part: &Path,
    hasher: &mut Sha256,
    progress: &mut Progress,
) -> Result<u64, CopyFailure> {
    let mut out = BufWriter::with_capacity(CHUNK, file);
    let mut buffer = vec![0u8; CHUNK];
    let mut copied = 0u64;
    let read_result = loop {
        match body.read(&mut buffer) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                out.write_all(&buffer[..n]).map_err(|e| CopyFailure::Write(io_error(part)(e)))?;
                hasher.update(&buffer[..n]);
                copied += n as u64;
                progress.advance(n as u64);
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => break Err(error),
        }
    };
    let file = out.into_inner().map_err(|e| CopyFailure::Write(io_error(part)(e.into_error())))?;
    file.sync_all().map_err(|e| CopyFailure::Write(io_error(part)(e)))?;
    read_result.map(|()| copied).map_err(CopyFailure::Read)
}

/// SHA-256 and size of a local file.
fn hash_file(path: &Path) -> Result<(String, u64), FetchError> {
    let mut hasher = Sha256::new();
    let bytes = File::open(path).and_then(|file| feed(file, &mut hasher)).map_err(io_error(path))?;
    Ok((hex(hasher.finalize().as_slice()), bytes))
}

/// Feeds everything `reader` holds to `hasher`; returns the byte count.
fn feed(mut reader: impl Read, hasher: &mut Sha256) -> io::Result<u64> {
    let mut buffer = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        match reader.read(&mut buffer) {
            Ok(0) => return Ok(total),
            Ok(n) => {
                hasher.update(&buffer[..n]);
                total += n as u64;
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn size_text(bytes: Option<u64>) -> String {
    bytes.map_or("(size not announced)".into(), |b| format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0)))
}

fn protocol(source: &Source, reason: &str) -> FetchError {
    FetchError::Protocol { url: source.url.clone(), reason: reason.to_owned() }
}

fn io_error(path: &Path) -> impl Fn(io::Error) -> FetchError + '_ {
    move |source| FetchError::Io { path: path.to_owned(), source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lower_case_and_padded() {
        assert_eq!(hex(&[0x00, 0x0f, 0xab]), "000fab");
    }

    #[test]
    fn a_part_file_seeds_the_hash_with_its_bytes() {
        let dir = std::env::temp_dir().join(format!("lgd-fetch-part-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let part = dir.join("x.part");
        fs::write(&part, b"hello ").unwrap();
        let (mut hasher, have) = resume_point(&part).unwrap();
        hasher.update(b"world");
        assert_eq!(have, 6);
        assert_eq!(hex(hasher.finalize().as_slice()), hex(Sha256::digest(b"hello world").as_slice()));
        assert_eq!(resume_point(&dir.join("absent.part")).unwrap().1, 0);
        fs::remove_dir_all(&dir).unwrap();
    }
}
