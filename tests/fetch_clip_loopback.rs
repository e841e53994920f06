//! `lgd fetch-clip` against a small HTTP server on 127.0.0.1 inside the test: a full download,
//! a resumed `.part` (HTTP range), a transfer cut mid-file then finished by a second run, a file
//! whose bytes do not match the address's SHA-256, an HTTP error and a closed port. The binary
//! runs its real download code; only the address (`--url`, hidden) is the test's.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

/// ~3 MB of deterministic, incompressible bytes.
fn payload() -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    (0..3 * 1024 * 1024 + 17)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// What the server does with each request.
#[derive(Clone)]
struct Behaviour {
    body: Vec<u8>,
    /// The only path that exists; any other gets 404.
    path: String,
    /// On the first request only: send this many body bytes, then hang up.
    cut_first_after: Option<usize>,
}

/// A one-thread HTTP/1.1 server: GET with or without `Range: bytes=N-`, `Connection: close`.
struct Server {
    url: String,
    /// The `Range` header of each request received (`None`: none sent).
    ranges: Arc<Mutex<Vec<Option<String>>>>,
}

impl Server {
    fn start(body: Vec<u8>, sha256: &str, cut_first_after: Option<usize>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let path = format!("/clip/models/{sha256}/RN50.pt");
        let url = format!("http://{}{path}", listener.local_addr().unwrap());
        let ranges = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&ranges);
        let behaviour = Behaviour { body, path, cut_first_after };
        // Detached: it ends with the test process.
        std::thread::spawn(move || {
            for (index, stream) in listener.incoming().enumerate() {
                let cut = if index == 0 { behaviour.cut_first_after } else { None };
                let _ = answer(stream.unwrap(), &behaviour, cut, &seen);
            }
        });
        Self { url, ranges }
    }

    fn ranges(&self) -> Vec<Option<String>> {
        self.ranges.lock().unwrap().clone()
    }
}

fn answer(
    stream: TcpStream,
    behaviour: &Behaviour,
    cut: Option<usize>,
    seen: &Mutex<Vec<Option<String>>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut range = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("range") {
                range = Some(value.trim().to_owned());
            }
        }
    }
    seen.lock().unwrap().push(range.clone());
    let mut out = stream;
    let path = request_line.split_whitespace().nth(1).unwrap_or_default();
    if path != behaviour.path {
        return out.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
    let body = &behaviour.body;
    let start: usize = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .map_or(0, |n| n.parse().unwrap());
    let head = if range.is_none() {
        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len())
    } else if start >= body.len() {
        format!("HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", body.len())
    } else {
        format!(
            "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {start}-{}/{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len() - 1,
            body.len(),
            body.len() - start
        )
    };
    out.write_all(head.as_bytes())?;
    let rest = body.get(start..).unwrap_or_default();
    out.write_all(&rest[..cut.unwrap_or(rest.len()).min(rest.len())])?;
    out.flush()
}

fn fetch(url: &str, out: &Path) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lgd"));
    command.args(["fetch-clip", "--url", url, "--out"]).arg(out);
    // A developer's proxy would otherwise be asked for 127.0.0.1.
    for variable in ["ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"] {
        command.env_remove(variable);
    }
    command.output().expect("starting lgd")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn full_download_is_verified_and_a_second_run_does_nothing() {
    let body = payload();
    let server = Server::start(body.clone(), &sha256_hex(&body), None);
    let dir = support::scratch("fetch-full");
    let output = fetch(&server.url, &dir);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(std::fs::read(dir.join("RN50.pt")).unwrap() == body, "downloaded bytes differ");
    assert!(!dir.join("RN50.pt.part").exists());
    assert_eq!(server.ranges(), vec![None]);

    let again = fetch(&server.url, &dir);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(stderr(&again).contains("already present"), "{}", stderr(&again));
    assert_eq!(server.ranges().len(), 1, "a verified file was downloaded again");
}

#[test]
fn a_part_file_is_resumed_with_a_range_request() {
    let body = payload();
    let server = Server::start(body.clone(), &sha256_hex(&body), None);
    let dir = support::scratch("fetch-resume");
    let half = body.len() / 2;
    std::fs::write(dir.join("RN50.pt.part"), &body[..half]).unwrap();
    let output = fetch(&server.url, &dir);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(server.ranges(), vec![Some(format!("bytes={half}-"))]);
    assert!(std::fs::read(dir.join("RN50.pt")).unwrap() == body, "resumed bytes differ");
    assert!(!dir.join("RN50.pt.part").exists());
    assert!(stderr(&output).contains(&format!("resuming at byte {half}")), "{}", stderr(&output));
}

#[test]
fn a_broken_transfer_keeps_its_bytes_and_the_next_run_finishes() {
    let body = payload();
    let cut = 1024 * 1024;
    let server = Server::start(body.clone(), &sha256_hex(&body), Some(cut));
    let dir = support::scratch("fetch-broken");
    let first = fetch(&server.url, &dir);
    assert!(!first.status.success(), "a cut transfer reported success");
    assert!(stderr(&first).contains("run the command again to resume"), "{}", stderr(&first));
    assert!(!dir.join("RN50.pt").exists());
    let kept = std::fs::metadata(dir.join("RN50.pt.part")).unwrap().len() as usize;
    assert!(kept > 0 && kept <= cut, "{kept} bytes kept of {cut} sent");

    let second = fetch(&server.url, &dir);
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(server.ranges(), vec![None, Some(format!("bytes={kept}-"))]);
    assert!(std::fs::read(dir.join("RN50.pt")).unwrap() == body, "bytes differ after the resume");
}

#[test]
fn bytes_that_do_not_match_the_address_are_refused_and_deleted() {
    let body = payload();
    let expected = sha256_hex(&body);
    let mut corrupted = body.clone();
    corrupted[body.len() / 3] ^= 0x40;
    let actual = sha256_hex(&corrupted);
    let server = Server::start(corrupted, &expected, None);
    let dir = support::scratch("fetch-corrupt");
    let output = fetch(&server.url, &dir);
    let message = stderr(&output);
    assert!(!output.status.success(), "a corrupted file was accepted");
    assert!(message.contains("RN50.pt") && message.contains(&expected) && message.contains(&actual), "{message}");
    assert!(!dir.join("RN50.pt").exists(), "an unverified file was left under the final name");
    assert!(!dir.join("RN50.pt.part").exists(), "the bad download was kept");
}

#[test]
fn http_errors_name_the_status() {
    let body = payload();
    let server = Server::start(body.clone(), &sha256_hex(&body), None);
    let wrong = server.url.replace("RN50.pt", "RN101.pt");
    let dir = support::scratch("fetch-404");
    let output = fetch(&wrong, &dir);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("HTTP 404"), "{}", stderr(&output));
    assert!(!dir.join("RN101.pt").exists() && !dir.join("RN101.pt.part").exists());
}

#[test]
fn a_closed_port_is_reported_with_its_host() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    // The listener is dropped: nothing listens on the port now.
    let url = format!("http://127.0.0.1:{port}/{}/RN50.pt", "0".repeat(64));
    let dir = support::scratch("fetch-closed");
    let output = fetch(&url, &dir);
    let message = stderr(&output);
    assert!(!output.status.success());
    assert!(message.contains("cannot reach 127.0.0.1"), "{message}");
    assert_eq!(message.lines().filter(|l| l.contains("ERROR")).count(), 1, "{message}");
}
