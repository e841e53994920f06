//! Each guide's commands in the order it gives them, its Python blocks and its TOML snippets.

use super::*;

/// Runs each ```` ```python ```` block of `document` that names `file` with the project's Python in
/// the working folder (where the documented commands wrote their files); the first failure, or
/// that no block names `file`.
pub(crate) fn python_blocks_run(w: &World, document: &str, file: &str) -> Result<(), String> {
    let chosen: Vec<Block> =
        blocks().into_iter().filter(|b| b.file == document && b.lang == "python" && b.text.contains(file)).collect();
    if chosen.is_empty() {
        return Err(format!("{document} has no ```python block that loads {file}"));
    }
    for block in chosen {
        let output = StdCommand::new(support::python()).args(["-c", &block.text]).current_dir(&w.dir).output().unwrap();
        if !output.status.success() {
            return Err(format!(
                "{}:{}:\n{}\n{}",
                block.file,
                block.line,
                block.text,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
    }
    Ok(())
}

/// docs/operating.md's commands against the live run (its `[status]` server is up).
pub(crate) fn operating_guide_live(w: &mut World) {
    let curl = StdCommand::new("bash").args(["-c", "command -v curl"]).output().unwrap();
    assert!(
        curl.status.success(),
        "docs/operating.md's commands use curl, which is not installed here (apt-get install curl)"
    );
    let (json, _) = w.run(&["lgd status runs/r18 --json"]);
    let json: serde_json::Value = serde_json::from_str(&json).expect("status --json prints JSON");
    assert_eq!(json["state"], "training");
    let addr = "addr=$(cat runs/r18/status_addr); token=$(cat runs/r18/status_token)";
    let (out, _) = w.run(&[addr, "curl -s http://$addr/status | python3 -m json.tool"]);
    assert!(out.contains("\"state\""), "{out}");
    let (out, _) = w.run(&[addr, "curl -s http://$addr/metrics | grep lgd_loss"]);
    assert!(out.contains("lgd_loss{part=\"total\"}"), "{out}");
    w.run(&[addr, "curl -s -X POST -H \"Authorization: Bearer $token\" http://$addr/checkpoint"]);
    w.wait_for_log("checkpoint_writer: checkpoint written");
    w.skip("tensorboard --logdir runs/r18/tensorboard", "a server that runs until stopped; tests/tensorboard_events_read_by_tensorboard.rs reads the event files with TensorBoard's own reader");
}

/// The guides' other commands, in the same folder.
pub(crate) fn guides(w: &mut World) {
    // training.md
    w.skip("lgd fetch-clip ViT-B/32 --out weights/", "the network; tests/fetch_clip_loopback.rs covers the download");
    let (resolved, _) = w.run(&["lgd check-config configs/imagenet-r18-clip-rn50.toml"]);
    assert!(resolved.contains("batch_size = 2048"), "the published recipe, resolved:\n{resolved}");
    w.skip(
        "lgd train --config my-run.toml --run-dir runs/r18 --accept-changes",
        "a start under a changed batch size; tests/resume_under_changes.rs refuses it, then accepts it with this flag",
    );

    // data.md
    w.run(&["lgd prepare pack data/imagenet/train data/imagenet-small/train --max-side 512 --quality 90"]);
    w.run_reduced(
        "lgd prepare imagenet-subset data/imagenet/train data/imagenet-100/train --per-class 100 --seed 0",
        "lgd prepare imagenet-subset data/imagenet/train data/imagenet-100/train --per-class 4 --seed 0",
        "the stand-in has 8 images a class",
    );
    w.run_reduced(
        "lgd prepare caltech-split 256_ObjectCategories data/caltech --train-per-class 60 --seed 0",
        "lgd prepare caltech-split data/imagenet/train data/caltech --train-per-class 5 --classes 3 --seed 0",
        "the ImageNet stand-in's 3 classes of 8 images as the categories",
    );
    let (_, _) = w.run(&["lgd prepare classnames data/caltech/train --out caltech-names.txt"]);
    assert_eq!(std::fs::read_to_string(w.dir.join("caltech-names.txt")).unwrap().lines().count(), 3);
    w.skip("bash scripts/fetch-fashion-mnist.sh", "the network (Debian's archive); `make demo` runs it");
    w.skip(
        "lgd prepare idx .cache/fashion-mnist/train-images-idx3-ubyte.gz .cache/fashion-mnist/train-labels-idx1-ubyte.gz data/fmnist/train --classnames fashion_mnist --format folder",
        "needs the download above; tests/prepare_cli.rs converts IDX files to both formats",
    );
    w.run_reduced(
        "lgd bench make-images --out bench-images --count 500",
        "lgd bench make-images --out bench-images --count 12",
        "12 images",
    );
    w.run_reduced(
        "lgd bench data --data bench-images --threads 2",
        "lgd bench data --data bench-images --threads 2 --images 24",
        "24 views",
    );
    w.run_reduced(
        "lgd bench data --data bench-images --threads 2 --full-decode",
        "lgd bench data --data bench-images --threads 2 --full-decode --images 24",
        "24 views",
    );

    // distributed.md
    let ranks = w.dir.join("ranks.toml");
    let mut config: toml::Table = toml::from_str(&std::fs::read_to_string(w.dir.join("my-run.toml")).unwrap()).unwrap();
    set(&mut config, "schedule.epochs", "1");
    set(&mut config, "validation.every_epochs", "0");
    config.remove("status");
    std::fs::write(&ranks, toml::to_string(&config).unwrap()).unwrap();
    w.run_reduced(
        "lgd launch --nproc-per-node 8 -- train --config my-run.toml --run-dir runs/r18",
        "lgd launch --nproc-per-node 2 --master-port 0 -- train --config ranks.toml --run-dir runs/r18-2ranks",
        "2 Gloo ranks on the CPU, one epoch",
    );
    let status = lgd::daemon::status::RunStatus::read(&w.dir.join("runs/r18-2ranks")).unwrap();
    assert_eq!(status.state, lgd::daemon::status::RunState::Finished, "two ranks trained to the end");
    w.skip(
        "torchrun --no-python --nproc-per-node 8 lgd train --config my-run.toml --run-dir runs/r18",
        "8 GPUs; tests/data_parallel_training.rs runs ranks under torchrun on the CPU",
    );
    for node in 0..2 {
        w.skip(
            &format!("lgd launch --nnodes 2 --node-rank {node} --master-addr 10.0.0.1 --nproc-per-node 8 -- train --config my-run.toml --run-dir runs/r18"),
            "two machines with 8 GPUs each",
        );
    }

    // evaluation.md, on the run trained above
    let c = "runs/r18/checkpoints/best.safetensors";
    assert!(w.dir.join(c).exists(), "validation kept a best checkpoint");
    let (out, _) = w.run(&[&format!(
        "lgd eval zero-shot --checkpoint {c} --data data/imagenet --bank weights/rn50-imagenet.safetensors"
    )]);
    assert!(!out.trim().is_empty(), "one readable line on stdout");
    w.run(&[&format!("lgd eval knn --checkpoint {c} --data data/imagenet")]);
    w.run(&[&format!("lgd eval linear --checkpoint {c} --data data/imagenet --method lbfgs")]);
    w.run_reduced(
        &format!("lgd eval linear --checkpoint {c} --data data/imagenet"),
        &format!("lgd eval linear --checkpoint {c} --data data/imagenet --epochs 2 --batch 8"),
        "2 probe epochs of 100, batches of 8 (the stand-in has 24 training images)",
    );
    w.run(&["lgd eval knn --random-init resnet18 --data data/imagenet"]);
    let results = std::fs::read_dir(w.dir.join("runs/r18/eval")).unwrap().count();
    assert!(results >= 4, "results go to RUN/eval/ ({results} files)");

    // export.md: the exports, then every line of Python the page shows, on what they wrote.
    w.run(&["lgd export runs/r18 --format torchvision --out r18.pth"]);
    w.run(&["lgd export runs/r18/checkpoints/best.safetensors --format safetensors --out r18.safetensors"]);
    w.run(&["lgd export runs/r18 --format torchvision --head --out r18-head.pth"]);
    let (_, log) = w.run(&["lgd export runs/r18 --format mmdet --out r18-mmdet.pth"]);
    assert!(
        log.contains(
            "backbone=dict(type='ResNet', depth=18, init_cfg=dict(type='Pretrained', checkpoint='r18-mmdet.pth'))"
        ),
        "{log}"
    );
    w.skip(
        "lgd export runs/mnv2 --format mmseg --out mnv2-mmseg.pth",
        "needs a MobileNetV2 run; tests/export_loads_in_mmdet_mmseg.rs trains one, exports it so and loads it in mmsegmentation",
    );
    for file in ["r18.pth", "r18.safetensors", "r18-head.pth", "r18-mmdet.pth"] {
        if let Err(error) = python_blocks_run(w, "docs/export.md", file) {
            panic!("docs/export.md's Python on what its commands wrote: {error}");
        }
    }

    // operating.md, after the run
    w.run(&["lgd plot runs/r18 --out r18-small.png --width 800 --height 500"]);
    assert!(w.dir.join("r18-small.png").exists());
}

/// Every ```toml block of the documents, merged into the reduced recipe, passes check-config.
pub(crate) fn toml_snippets_check(w: &World) {
    let base: toml::Table = toml::from_str(&std::fs::read_to_string(w.dir.join("my-run.toml")).unwrap()).unwrap();
    for (i, block) in blocks().iter().filter(|b| b.lang == "toml").enumerate() {
        let snippet: toml::Table =
            toml::from_str(&block.text).unwrap_or_else(|e| panic!("{}:{}: not TOML: {e}", block.file, block.line));
        let mut config = base.clone();
        merge(&mut config, &snippet);
        let file = w.dir.join(format!("snippet-{i}.toml"));
        std::fs::write(&file, toml::to_string(&config).unwrap()).unwrap();
        let output = StdCommand::new(env!("CARGO_BIN_EXE_lgd"))
            .arg("check-config")
            .arg(&file)
            .current_dir(&w.dir)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}:{}: the snippet does not pass check-config:\n{}",
            block.file,
            block.line,
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
