//! `lgd bank` on a tiny random CLIP in OpenAI's archive layout reproduces the oracle's text bank
//! (open_clip, DESIGN §1) within 1e-5, and a second run with the same inputs reuses the cached file.

mod support;

use std::path::Path;
use std::process::Command;

use lgd::objective::TextBank;
use lgd::tensor_io::read_safetensors;

fn bank(dir: &Path, templates: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_lgd"))
        .args(["bank", "--teacher", "rn.pt", "--classnames", "names.txt", "--templates", templates])
        .args(["--out", "bank.safetensors", "--batch", "4"])
        .current_dir(dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "lgd bank failed: {stderr}");
    stderr
}

#[test]
fn bank_matches_open_clip_and_is_cached() {
    let dir = support::scratch("text-bank");
    support::run_oracle("clip_towers_oracle.py", &[&dir]);
    std::fs::write(dir.join("names.txt"), "goldfish\ngreat white shark\nespresso\ncafé au lait\nT-shirt\n").unwrap();
    std::fs::write(dir.join("templates.txt"), "a photo of a {}.\na bad photo of the {}.\nart of the {}.\n").unwrap();
    support::run_oracle("text_bank_oracle.py", &[&dir, &dir.join("names.txt"), &dir.join("templates.txt")]);

    let first = bank(&dir, "templates.txt");
    assert!(first.contains("text bank written"), "{first}");
    let ours = TextBank::load(&dir.join("bank.safetensors"), Some(5)).unwrap();
    let expected = &read_safetensors(&dir.join("expected_bank.safetensors")).unwrap().tensors["text_bank"];
    let diff = (ours.tensor() - expected).abs().max().double_value(&[]);
    println!("lgd bank vs open_clip: max |ΔT| = {diff:.1e} over {:?}", expected.size());
    assert!(diff <= 1e-5, "text bank differs by {diff:e}");

    let second = bank(&dir, "templates.txt");
    assert!(second.contains("up to date"), "the same inputs reuse the cached bank: {second}");
    std::fs::write(dir.join("templates2.txt"), "a photo of a {}.\n").unwrap();
    let third = bank(&dir, "templates2.txt");
    assert!(third.contains("text bank written"), "other templates recompute: {third}");
    std::fs::remove_dir_all(&dir).unwrap();
}
