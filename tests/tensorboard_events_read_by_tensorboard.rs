//! TensorBoard reads what `lgd`'s event writer writes: every tag, step and value round-trips
//! through tensorboard's own EventAccumulator (oracle: tests/oracle/read_tensorboard_events.py),
//! and a second writer in the same folder (a resumed run) continues the same curves.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use lgd::tensorboard::EventWriter;

/// Tag → (step, value) in the order TensorBoard holds them.
type Scalars = BTreeMap<String, Vec<(u64, f32)>>;

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

/// The run folder's scalars as TensorBoard sees them; also checks the file version and that
/// every wall time lies in `[start, now]`.
fn read_with_tensorboard(dir: &Path, start: f64) -> Scalars {
    let output = Command::new(support::python())
        .arg(support::root().join("tests/oracle/read_tensorboard_events.py"))
        .arg(dir)
        .output()
        .expect("starting the oracle");
    assert!(
        output.status.success(),
        "oracle failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("oracle output is JSON");
    assert_eq!(json["file_version"], 2.0, "the file-version event was not read");
    let end = now();
    let mut scalars = Scalars::new();
    for (tag, events) in json["scalars"].as_object().unwrap() {
        let events = events.as_array().unwrap().iter().map(|event| {
            let wall_time = event[1].as_f64().unwrap();
            assert!((start - 1.0..=end + 1.0).contains(&wall_time), "{tag}: wall time {wall_time}");
            let value: f64 = event[2].as_str().unwrap().parse().unwrap();
            (event[0].as_u64().unwrap(), value as f32)
        });
        scalars.insert(tag.clone(), events.collect());
    }
    scalars
}

/// Bit-exact, except that any NaN equals any NaN.
fn assert_same(actual: &Scalars, expected: &Scalars) {
    assert_eq!(actual.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
    for (tag, expected_events) in expected {
        let events = &actual[tag];
        assert_eq!(events.len(), expected_events.len(), "{tag}: {events:?}");
        for (&(step, value), &(want_step, want)) in events.iter().zip(expected_events) {
            assert_eq!(step, want_step, "{tag}");
            let same = value.to_bits() == want.to_bits() || (value.is_nan() && want.is_nan());
            assert!(same, "{tag} at step {step}: TensorBoard read {value:e}, written {want:e}");
        }
    }
}

fn write(writer: &mut EventWriter, scalars: &[(&str, u64, f64)]) {
    for &(tag, step, value) in scalars {
        writer.scalar(tag, step, value).unwrap();
    }
}

/// What TensorBoard should hold after `scalars` are written (stored as `f32`).
fn expect(expected: &mut Scalars, scalars: &[(&str, u64, f64)]) {
    for &(tag, step, value) in scalars {
        expected.entry(tag.to_owned()).or_default().push((step, value as f32));
    }
}

fn curves(steps: std::ops::Range<u64>, offset: f64) -> Vec<(&'static str, u64, f64)> {
    steps
        .flat_map(|step| {
            let s = step as f64;
            [
                ("loss/total", step, offset + 2.5 * (-s / 10.0).exp() - 1.0),
                ("train/lr", step, 0.1 * (s / 50.0 * std::f64::consts::PI).cos()),
                ("eval/top-1 (ζ)", step, -1e-3 * s * s + 0.7),
            ]
        })
        .collect()
}

#[test]
fn scalars_round_trip_through_tensorboard() {
    let dir = support::scratch("tensorboard-round-trip");
    let start = now();
    let edges: Vec<_> = [
        (0, -0.0),
        (1, f64::MAX), // beyond f32: +inf
        (127, f64::NAN),
        (128, f64::NEG_INFINITY),
        (16_384, 1e-45), // the smallest f32 subnormal
        (1_000_000_000, -3.4e38),
        (1 << 40, 123_456_789.0),
    ]
    .iter()
    .map(|&(step, value)| ("edge cases", step, value))
    .collect();
    let mut writer = EventWriter::create(&dir).unwrap();
    write(&mut writer, &curves(0..50, 0.0));
    write(&mut writer, &edges);
    let mut expected = Scalars::new();
    expect(&mut expected, &curves(0..50, 0.0));
    expect(&mut expected, &edges);
    // Readable after a flush, while the writer is still open (TensorBoard watching a live run).
    writer.flush().unwrap();
    assert_same(&read_with_tensorboard(&dir, start), &expected);
    drop(writer);
    assert_same(&read_with_tensorboard(&dir, start), &expected);
}

#[test]
fn a_second_writer_continues_the_same_curves() {
    let dir = support::scratch("tensorboard-continue");
    let start = now();
    let mut first = EventWriter::create(&dir).unwrap();
    write(&mut first, &curves(0..50, 0.0));
    drop(first);
    // The resumed process: a new file in the same folder, steps going on.
    let mut second = EventWriter::create(&dir).unwrap();
    write(&mut second, &curves(50..80, 0.0));
    drop(second);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
    let mut expected = Scalars::new();
    expect(&mut expected, &curves(0..80, 0.0));
    assert_same(&read_with_tensorboard(&dir, start), &expected);
}

#[test]
fn a_restart_replaces_the_steps_logged_after_the_checkpoint() {
    let dir = support::scratch("tensorboard-restart");
    let start = now();
    let mut first = EventWriter::create(&dir).unwrap();
    write(&mut first, &curves(0..50, 0.0));
    write(&mut first, &[("only before the crash", 10, 1.0), ("only before the crash", 40, 2.0)]);
    drop(first);
    // Resumed from a checkpoint at step 30: steps 30.. are redone with different values.
    let mut second = EventWriter::create(&dir).unwrap();
    second.restart(30).unwrap();
    write(&mut second, &curves(30..60, 100.0));
    drop(second);
    let mut expected = Scalars::new();
    expect(&mut expected, &curves(0..30, 0.0));
    expect(&mut expected, &[("only before the crash", 10, 1.0)]);
    expect(&mut expected, &curves(30..60, 100.0));
    assert_same(&read_with_tensorboard(&dir, start), &expected);
}
