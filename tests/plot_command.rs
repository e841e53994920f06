//! `lgd plot` on a synthetic run folder: a PNG of the asked size with drawn curves (not a blank
//! canvas), a malformed line skipped with its line number named, an empty run folder refused
//! with the metrics file named, and the PNG in the run folder when `--out` is not given.

mod support;

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Output};

fn plot(run_dir: &Path, out: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lgd"))
        .arg("plot")
        .arg(run_dir)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("starting lgd")
}

/// 300 steps logged every 20, validation every 100 with top-1 from step 200 on, one broken line.
fn synthetic_metrics() -> String {
    let mut lines = Vec::new();
    for step in (20..=300).step_by(20) {
        let t = step as f64 / 300.0;
        let image_loss = 4.0 * (-2.0 * t).exp() + 0.5;
        let text_loss = 3.0 * (-1.5 * t).exp() + 0.4;
        let lr = if step <= 60 { 0.1 * step as f64 / 60.0 } else { 0.05 * (1.0 + (std::f64::consts::PI * t).cos()) };
        lines.push(format!(
            r#"{{"step":{step},"epoch":{},"loss":{},"image_loss":{image_loss},"text_loss":{text_loss},"lr":{lr},"skipped":false,"images_per_second":{},"data_wait_fraction":0.1,"batches_ready":3}}"#,
            step / 100,
            image_loss + text_loss,
            250.0 + 20.0 * (step as f64 / 7.0).sin()
        ));
        if step % 100 == 0 {
            let top1 = if step >= 200 { format!("{}", 0.1 * t) } else { "null".into() };
            lines.push(format!(
                r#"{{"step":{step},"validation":{{"agreement":{},"student_top1":{top1},"teacher_top1":0.62,"images":500}}}}"#,
                0.2 + 0.3 * t
            ));
        }
        if step == 140 {
            lines.push(r#"{"step":160,"loss":"#.to_owned());
        }
    }
    lines.join("\n") + "\n"
}

/// (width, height, RGB(A) pixels) of an 8-bit PNG.
fn decode(path: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().expect("a valid PNG header");
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buffer).expect("valid PNG data");
    let channels = info.color_type.samples();
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let pixels = buffer[..info.buffer_size()].chunks(channels).map(|p| [p[0], p[1], p[2]]).collect();
    (info.width, info.height, pixels)
}

#[test]
fn a_run_folder_becomes_a_png_with_curves() {
    let dir = support::scratch("plot-run");
    std::fs::write(dir.join("metrics.jsonl"), synthetic_metrics()).unwrap();
    let out = dir.join("curves.png");
    let output = plot(&dir, &out, &["--width", "1200", "--height", "800"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    // The broken line is line 9: 7 training and 1 validation line come before it.
    assert!(stderr.contains("metrics.jsonl:9: skipped"), "{stderr}");

    let (width, height, pixels) = decode(&out);
    assert_eq!((width, height), (1200, 800));
    let colours: HashSet<[u8; 3]> = pixels.iter().copied().collect();
    assert!(colours.len() > 20, "only {} distinct colours: the plot looks blank", colours.len());
    // Each curve colour is drawn somewhere: loss (blue), image loss (orange), text loss (green),
    // lr (purple), img/s (red).
    for (name, colour) in [
        ("blue", [31, 119, 180]),
        ("orange", [255, 127, 14]),
        ("green", [44, 160, 44]),
        ("purple", [148, 103, 189]),
        ("red", [214, 39, 40]),
    ] {
        let drawn = pixels.iter().filter(|&&p| p == colour).count();
        assert!(drawn > 100, "{name} appears in {drawn} pixels only");
    }
    let white = pixels.iter().filter(|&&p| p == [255, 255, 255]).count();
    assert!(white > pixels.len() / 2, "the background is not mostly white");
}

#[test]
fn an_empty_run_folder_is_refused_with_the_file_named() {
    let dir = support::scratch("plot-empty");
    let out = dir.join("curves.png");
    let missing = plot(&dir, &out, &[]);
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success());
    assert!(stderr.contains(&dir.join("metrics.jsonl").display().to_string()), "{stderr}");

    std::fs::write(dir.join("metrics.jsonl"), "").unwrap();
    let empty = plot(&dir, &out, &[]);
    let stderr = String::from_utf8_lossy(&empty.stderr);
    assert!(!empty.status.success());
    assert!(stderr.contains("metrics.jsonl holds no training or validation records"), "{stderr}");
    assert!(!out.exists(), "a plot was written for an empty run");
}

#[test]
fn without_out_the_png_goes_into_the_run_folder() {
    let dir = support::scratch("plot-default-out");
    std::fs::write(dir.join("metrics.jsonl"), synthetic_metrics()).unwrap();
    let output =
        Command::new(env!("CARGO_BIN_EXE_lgd")).args(["plot", "--run-dir"]).arg(&dir).output().expect("starting lgd");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let (width, height, _) = decode(&dir.join("curves.png"));
    assert_eq!((width, height), (1600, 1000));
}
