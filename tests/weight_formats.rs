//! Every weight file a user may bring reads into the same state dict, in Rust: torch.save zip and
//! legacy files, `state_dict`/`model` wrappers, DDP `module.` prefixes, LGD training checkpoints
//! (`module.student.*`), strided and half-precision tensors; broken files fail with the file named.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use lgd::models::state_dict::load_state_dict;
use lgd::models::student::{Student, StudentArch, StudentOptions};
use lgd::tensor_io::read_safetensors;
use lgd::weights::load_weights;
use tch::nn::VarStore;
use tch::{Device, Tensor};

fn assert_same(ours: &BTreeMap<String, Tensor>, reference: &BTreeMap<String, Tensor>, what: &str) {
    assert_eq!(ours.keys().collect::<Vec<_>>(), reference.keys().collect::<Vec<_>>(), "{what}: keys differ");
    for (key, tensor) in reference {
        assert_eq!(ours[key].kind(), tensor.kind(), "{what}: {key} dtype");
        assert!(ours[key].equal(tensor), "{what}: {key} differs");
    }
}

#[test]
fn every_format_reads_to_the_same_state_dict() {
    let dir = support::scratch("weights");
    support::run_oracle("weights_oracle.py", &[&dir]);
    let reference = read_safetensors(&dir.join("reference.safetensors")).unwrap().tensors;
    for file in ["plain.pth", "wrapped.pth.tar", "wrapped_model.pt", "ddp.pth", "legacy.pth", "reference.safetensors"] {
        let (tensors, report) = load_weights(&dir.join(file)).unwrap();
        assert_same(&tensors, &reference, file);
        println!("{file}: {} tensors, {report:?}", tensors.len());
    }

    let after = read_safetensors(&dir.join("reference_after.safetensors")).unwrap().tensors;
    let (tensors, report) = load_weights(&dir.join("lgd_checkpoint.pth.tar")).unwrap();
    assert_same(&tensors, &after, "lgd checkpoint");
    assert_eq!((report.unwrapped, report.stripped_module, report.kept_student), (Some("state_dict"), true, Some(2)));
    let vs = VarStore::new(Device::Cpu);
    let _student = Student::new(&vs.root(), StudentArch::Resnet18, 64, StudentOptions::default());
    load_state_dict(&vs, &tensors, "lgd_checkpoint.pth.tar", "resnet18", |_| false).unwrap();

    let views = read_safetensors(&dir.join("views.safetensors")).unwrap().tensors;
    for file in ["views.pth", "views_legacy.pth"] {
        let (tensors, _) = load_weights(&dir.join(file)).unwrap();
        assert_same(&tensors, &views, file);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn broken_files_are_errors_naming_the_file() {
    let dir = support::scratch("weights-broken");
    let check = |name: &str, bytes: &[u8], expect: &str| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let err = load_weights(&path).unwrap_err().to_string();
        assert!(err.starts_with(&path.display().to_string()) && err.contains(expect), "{name}: {err}");
    };
    check("random.pth", b"\x13\x37 certainly not a checkpoint", "bad magic number");
    check("empty.pth", b"", "empty file");
    check("zip.pth", b"PK\x03\x04 then garbage", "not a readable torch.save zip archive");
    check("bank.safetensors", b"{}", "not a valid safetensors file");
    let missing = load_weights(Path::new("/nonexistent/w.pth")).unwrap_err().to_string();
    assert!(missing.contains("/nonexistent/w.pth"), "{missing}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_checkpoint_of_another_architecture_lists_what_does_not_fit() {
    let dir = support::scratch("weights-mismatch");
    support::run_oracle("weights_oracle.py", &[&dir]);
    let (tensors, _) = load_weights(&dir.join("plain.pth")).unwrap();
    let vs = VarStore::new(Device::Cpu);
    let _student = Student::new(&vs.root(), StudentArch::Resnet34, 128, StudentOptions::default());
    let err = load_state_dict(&vs, &tensors, "plain.pth", "resnet34", |_| false).unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("plain.pth does not fit resnet34: "), "{text}");
    assert!(text.contains("missing (layer1.2.bn1.bias"), "{text}");
    assert!(text.contains("mis-shaped (fc.2.bias: file [64] vs model [128]"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}
