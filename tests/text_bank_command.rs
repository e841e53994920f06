//! `lgd bank` on a tiny random CLIP in OpenAI's archive layout reproduces the oracle's text bank
//! (open_clip, DESIGN §1) within 1e-5, and a second run with the same inputs reuses the cached file;
//! `LGD_CLIP_VOCAB` names the vocabulary for a binary run away from its checkout.

mod support;

use std::path::Path;
use std::process::Command;

use lgd::objective::TextBank;
use lgd::tensor_io::read_safetensors;

fn run_bank(dir: &Path, templates: &str, vocab: Option<&Path>) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lgd"));
    command.args(["bank", "--teacher", "rn.pt", "--classnames", "names.txt", "--templates", templates]);
    command.args(["--out", "bank.safetensors", "--batch", "4"]).current_dir(dir);
    if let Some(vocab) = vocab {
        command.env("LGD_CLIP_VOCAB", vocab);
    }
    let output = command.output().unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

fn bank(dir: &Path, templates: &str) -> String {
    let (ok, stderr) = run_bank(dir, templates, None);
    assert!(ok, "lgd bank failed: {stderr}");
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

    std::fs::write(dir.join("templates3.txt"), "a drawing of a {}.\n").unwrap();
    let missing = dir.join("nowhere/vocab.txt.gz");
    let (ok, stderr) = run_bank(&dir, "templates3.txt", Some(&missing));
    assert!(
        !ok && stderr.contains(&*missing.to_string_lossy()) && stderr.contains("LGD_CLIP_VOCAB"),
        "a missing vocabulary is named: {stderr}"
    );
    let copied = dir.join("vocab.txt.gz");
    std::fs::copy(lgd::models::clip::default_vocab_path(), &copied).unwrap();
    let (ok, stderr) = run_bank(&dir, "templates3.txt", Some(&copied));
    assert!(ok && stderr.contains("text bank written"), "the named vocabulary is used: {stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}
