//! SIGHUP with a broken file, an invalid value, a non-reloadable change and a deleted file: each
//! is reported, the old config stays in force and training never pauses.

use std::time::Duration;

use crate::daemon::{Scene, MINUTE};

#[test]
fn bad_reloads_keep_the_old_config_and_training_goes_on() {
    let scene = Scene::new("faults-reloads", 4);
    scene.configure(1000, "[checkpoint]\nevery_epochs = 0\n");
    let config = scene.dir.join("run.toml");
    let good = std::fs::read_to_string(&config).unwrap();
    let mut daemon = scene.start();
    daemon.next_step(MINUTE);
    let digest = || lgd::daemon::status::RunStatus::read(&scene.run_dir()).unwrap().config_digest;
    let before = digest();
    let cases: [(&str, Option<String>, &str); 4] = [
        ("broken syntax", Some("[data\ntrain = ".into()), "reload failed, old config kept"),
        (
            "invalid value",
            Some(good.replace("every_steps = 1", "every_steps = 0")),
            "logging.every_steps: must be >= 1",
        ),
        (
            "non-reloadable field",
            Some(good.replace("arch = \"mobilenet_v2\"", "arch = \"resnet18\"")),
            "reload refused",
        ),
        ("file deleted", None, "reload failed, old config kept"),
    ];
    for (what, text, expected) in cases {
        match text {
            Some(text) => std::fs::write(&config, text).unwrap(),
            None => std::fs::remove_file(&config).unwrap(),
        }
        let step = daemon.next_step(MINUTE);
        daemon.signal("HUP");
        let line = daemon.wait_for(expected, MINUTE);
        if what == "non-reloadable field" {
            assert!(line.contains("student.arch"), "{what}: the field is named: {line}");
        }
        let after = daemon.next_step(MINUTE);
        assert!(after > step, "{what}: training went on ({step} → {after})");
        println!("FAULTS reload ({what}): reported, old config kept, training went on to step {after}");
    }
    // The config in force is still the original: a valid change is diffed against it.
    std::fs::write(&config, good.replace("[checkpoint]", "[loss]\nteacher_temperature = 0.02\n[checkpoint]")).unwrap();
    daemon.signal("HUP");
    let line = daemon.wait_for("config reloaded", MINUTE);
    assert!(line.contains("loss.teacher_temperature: 0.01 -> 0.02"), "{line}");
    daemon.next_step(MINUTE);
    std::thread::sleep(Duration::from_millis(1200)); // status.json is refreshed at most once a second
    daemon.next_step(MINUTE);
    assert_ne!(digest(), before, "the digest follows the applied change");
    daemon.signal("TERM");
    assert!(daemon.wait(MINUTE).success());
}

#[test]
fn watch_config_reloads_when_the_file_changes() {
    let scene = Scene::new("faults-watch", 4);
    scene.configure(1000, "[checkpoint]\nevery_epochs = 0\n");
    let config = scene.dir.join("run.toml");
    let text =
        std::fs::read_to_string(&config).unwrap().replace("device = \"cpu\"", "device = \"cpu\"\nwatch_config = true");
    std::fs::write(&config, &text).unwrap();
    let mut daemon = scene.start();
    daemon.next_step(MINUTE);
    std::fs::write(&config, text.replace("[checkpoint]", "[loss]\nteacher_temperature = 0.03\n[checkpoint]")).unwrap();
    daemon.wait_for("config file changed on disk", MINUTE);
    let line = daemon.wait_for("config reloaded", MINUTE);
    assert!(line.contains("loss.teacher_temperature: 0.01 -> 0.03"), "{line}");
    std::fs::write(&config, text.replace("arch = \"mobilenet_v2\"", "arch = \"resnet18\"")).unwrap();
    daemon.wait_for("reload refused", MINUTE);
    daemon.next_step(MINUTE);
    daemon.signal("TERM");
    assert!(daemon.wait(MINUTE).success());
    println!("FAULTS watch_config: an edit was applied without a signal; a non-reloadable edit was refused");
}
