//! The status server of a real `lgd train` (`[status] addr = "127.0.0.1:0"`), as an operator and a
//! browser see it: `/status` and `/metrics` answer with the live run, POST `/checkpoint` and
//! `/reload` act only with the run folder's token, and headless Chromium draws the dashboard's
//! curves (screenshot kept as target/test-artefacts/dashboard.png).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::daemon::{cpu_config, spawn_train, wait_for};

/// An HTTP/1.0 exchange (the server then closes the connection: no chunking, no keep-alive).
struct Reply {
    status: u16,
    head: String,
    body: String,
}

fn http(addr: &str, method: &str, path: &str, token: Option<&str>) -> Reply {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(stream, "{method} {path} HTTP/1.0\r\nHost: {addr}\r\n{auth}Content-Length: 0\r\n\r\n").unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) =
        raw.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no HTTP reply from {method} {path}: {raw}"));
    let status =
        head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("bad status line: {head}"));
    Reply { status, head: head.to_owned(), body: body.to_owned() }
}

fn get_json(addr: &str, path: &str) -> serde_json::Value {
    let reply = http(addr, "GET", path, None);
    assert_eq!(reply.status, 200, "GET {path}: {}", reply.body);
    serde_json::from_str(&reply.body).unwrap_or_else(|e| panic!("GET {path} is not JSON ({e}): {}", reply.body))
}

/// Polls for a file written by the child; fails early if the child exits.
fn wait_for_file(child: &mut Child, path: &Path, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            return text.trim().to_owned();
        }
        assert!(child.try_wait().unwrap().is_none(), "lgd train exited before writing {}", path.display());
        assert!(Instant::now() < deadline, "{} not written within {timeout:?}", path.display());
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn checkpoints(run: &Path) -> usize {
    std::fs::read_dir(run.join("checkpoints")).map(|d| d.count()).unwrap_or(0)
}

/// Headless Chromium on `url` with `extra` arguments; killed (and the test failed) after 120 s.
fn chromium(profile: &Path, extra: &[String], url: &str) -> Output {
    let mut child = match Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
        .args(["--disable-component-update", "--disable-sync", "--window-size=1280,900", "--virtual-time-budget=5000"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => panic!("cannot run `chromium` ({e}): run `bash scripts/install-chromium.sh` (make test does)"),
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

/// Decodes the screenshot: (width, height, RGB pixels).
fn decode_png(path: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut decoder = png::Decoder::new(file);
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().unwrap_or_else(|e| panic!("{} is not a PNG: {e}", path.display()));
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buffer).unwrap();
    let channels = info.line_size / info.width as usize;
    assert!(channels >= 3 && info.bit_depth == png::BitDepth::Eight, "an 8-bit colour screenshot: {info:?}");
    let pixels = buffer[..info.buffer_size()].chunks(channels).map(|p| [p[0], p[1], p[2]]).collect();
    (info.width, info.height, pixels)
}

/// Kills the training process if the test fails half-way (it would otherwise train on).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn status_endpoints_tokens_and_the_dashboard_in_a_browser() {
    let dir = support::scratch("status-dashboard");
    let run = dir.join("run");
    support::write_image_folder(&dir.join("data"), &["a", "b", "c"], 4);
    let server = "[status]\naddr = \"127.0.0.1:0\"\n";
    std::fs::write(dir.join("run.toml"), cpu_config(&dir, 1000, server)).unwrap();
    let (child, lines) = spawn_train(&dir);
    let mut child = Running(child);
    let minute = Duration::from_secs(60);
    let addr = wait_for_file(&mut child.0, &run.join("status_addr"), 2 * minute);
    assert!(addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"), "the bound port is written: {addr}");
    let token = std::fs::read_to_string(run.join("status_token")).unwrap();
    assert_eq!(token.len(), 64, "32 random bytes, hex");
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(run.join("status_token")).unwrap().permissions())
            & 0o777,
        0o600
    );
    wait_for(&lines, "\"step\":3", minute);

    let status = get_json(&addr, "/status");
    assert_eq!(status["run_id"], "run");
    assert_eq!(status["pid"], child.0.id());
    assert!(["training", "validating"].contains(&status["state"].as_str().unwrap()), "{}", status["state"]);
    assert!(status["step"].as_u64().unwrap() >= 3);
    assert_eq!(status["total_steps"], 3000);
    assert!(status["history"].as_array().unwrap().len() >= 3);
    let names = |key: &str| -> Vec<String> {
        status[key].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(
        names("stages"),
        ["decode", "device stage", "train step", "bank maintenance", "validation", "checkpoint"]
    );
    assert_eq!(names("queues"), ["decoded samples", "host batches", "device stage", "teacher outputs"]);

    let metrics = http(&addr, "GET", "/metrics", None);
    assert_eq!(metrics.status, 200);
    assert!(metrics.head.to_lowercase().contains("content-type: text/plain; version=0.0.4"), "{}", metrics.head);
    for expected in [
        "# TYPE lgd_step_total counter\n",
        "\nlgd_step_total ",
        "lgd_loss{part=\"text\"} ",
        "lgd_stage_busy_ratio{stage=\"train step\"} ",
        "lgd_queue_depth{queue=\"host batches\"} ",
    ] {
        assert!(metrics.body.contains(expected), "`{expected}` missing from /metrics:\n{}", metrics.body);
    }
    assert_eq!(http(&addr, "GET", "/nowhere", None).status, 404);

    // Without the token nothing happens: two more steps pass and still no checkpoint.
    assert_eq!(http(&addr, "POST", "/checkpoint", None).status, 401);
    assert_eq!(http(&addr, "POST", "/checkpoint", Some(&"0".repeat(64))).status, 401);
    assert_eq!(http(&addr, "POST", "/reload", None).status, 401);
    let step = get_json(&addr, "/status")["step"].as_u64().unwrap();
    wait_for(&lines, &format!("\"step\":{}", step + 2), minute);
    assert_eq!(checkpoints(&run), 0, "a POST without the token wrote a checkpoint");

    let reply = http(&addr, "POST", "/checkpoint", Some(&token));
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&reply.body).unwrap()["accepted"], "checkpoint");
    wait_for(&lines, "checkpoint written", minute);
    assert_eq!(checkpoints(&run), 1);
    wait_for(&lines, "\"message\":\"step\"", minute);
    assert!(get_json(&addr, "/status")["last_checkpoint"].as_str().is_some_and(|p| p.contains("step-")));

    std::fs::write(
        dir.join("run.toml"),
        cpu_config(&dir, 1000, &format!("[loss]\nteacher_temperature = 0.02\n{server}")),
    )
    .unwrap();
    assert_eq!(http(&addr, "POST", "/reload", Some(&token)).status, 202);
    let line = wait_for(&lines, "config reloaded", minute);
    assert!(line.contains("loss.teacher_temperature: 0.01 -> 0.02"), "{line}");
    // The log line comes first, the board a moment later.
    let deadline = Instant::now() + minute;
    while !get_json(&addr, "/status")["message"].as_str().is_some_and(|m| m.contains("config reloaded")) {
        assert!(Instant::now() < deadline, "GET /status never showed the reload in `message`");
        std::thread::sleep(Duration::from_millis(100));
    }

    let page = http(&addr, "GET", "/", None);
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("<canvas") && !page.body.contains("http://") && !page.body.contains("https://"),
        "self-contained"
    );

    let url = format!("http://{addr}/");
    let profile = dir.join("chromium-profile");
    let dom = chromium(&profile, &["--dump-dom".into()], &url);
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    let rendered: usize = dom_text
        .split("data-rendered=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| {
            panic!("no data-rendered in the DOM:\n{dom_text}\n{}", String::from_utf8_lossy(&dom.stderr))
        });
    println!("dashboard drew {rendered} history points");
    assert!(rendered >= 3, "the curves were drawn from /status's history");

    let artefacts = support::root().join("target/test-artefacts");
    std::fs::create_dir_all(&artefacts).unwrap();
    let png: PathBuf = artefacts.join("dashboard.png");
    let _ = std::fs::remove_file(&png);
    let shot = chromium(&profile, &[format!("--screenshot={}", png.display())], &url);
    assert!(png.exists(), "no screenshot: {}", String::from_utf8_lossy(&shot.stderr));
    let (width, height, pixels) = decode_png(&png);
    assert_eq!((width, height), (1280, 900));
    let distinct: std::collections::HashSet<_> = pixels.iter().collect();
    // The image-loss colour (#e07b24) appears only in the loss chart's line and legend.
    let image_loss = pixels.iter().filter(|p| **p == [0xe0, 0x7b, 0x24]).count();
    println!("screenshot {}: {} colours, {image_loss} pixels of the image-loss curve", png.display(), distinct.len());
    assert!(distinct.len() > 50, "a blank screenshot");
    assert!(image_loss > 100, "the loss chart is not drawn in the screenshot");

    Command::new("kill").args(["-TERM", &child.0.id().to_string()]).status().unwrap();
    assert!(child.0.wait().unwrap().success(), "SIGTERM exits 0 with the server running");
    assert!(!run.join("status_addr").exists(), "the address file goes with the server");
    std::fs::remove_dir_all(&dir).unwrap();
}
