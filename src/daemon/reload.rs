//! SIGHUP: re-read the config file and apply what may change while training runs. A change to
//! anything else (model, data, batch size, …) is refused with the list of fields, and an invalid or
//! missing file keeps the old config; the run goes on either way.

use std::path::Path;

use crate::config::{Config, ConfigError};

/// Fields (dotted prefixes) that take effect at the next step.
pub(super) const RELOADABLE: &[&str] = &[
    "loss.",
    "optimizer.lr",
    "schedule.warmup_start_lr",
    "logging.",
    "checkpoint.every_epochs",
    "checkpoint.every_steps",
    "checkpoint.keep_last",
    "validation.",
    "banks.visual_momentum",
    "guards.",
    // The data pipeline and the device stage restart with these at the next step boundary.
    "pipeline.decode_workers",
    "pipeline.decoded_samples",
    "pipeline.host_batches",
    "pipeline.device_batches",
    "pipeline.teacher_outputs",
];

/// What a reload did.
#[derive(Debug)]
pub enum ReloadOutcome {
    /// The new config is in force; the changed fields as `field: old -> new`. Boxed: a config
    /// is large, the other outcomes are small.
    Applied(Box<Config>, Vec<String>),
    /// Nothing changed.
    Unchanged,
    /// Fields that cannot change at run time were changed: the old config stays.
    Refused(Vec<String>),
    /// The file could not be read or is invalid: the old config stays.
    Invalid(ConfigError),
}

/// Dotted leaf paths whose values differ, with both values.
fn differences(old: &toml::Value, new: &toml::Value, prefix: &str, out: &mut Vec<(String, String, String)>) {
    match (old, new) {
        (toml::Value::Table(a), toml::Value::Table(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => differences(x, y, &path, out),
                    (x, y) => out.push((path, show(x), show(y))),
                }
            }
        }
        (a, b) if a != b => out.push((prefix.to_owned(), a.to_string(), b.to_string())),
        _ => {}
    }
}

fn show(value: Option<&toml::Value>) -> String {
    value.map_or_else(|| "(unset)".to_owned(), |v| v.to_string())
}

/// Whether `field` is one of `prefixes` ("a.b") or lies under one ("a.").
pub(super) fn listed(field: &str, prefixes: &[&str]) -> bool {
    prefixes.iter().any(|p| field == p.trim_end_matches('.') || field.starts_with(p))
}

/// Both configs as TOML trees, compared leaf by leaf.
pub(super) fn config_differences(old: &Config, new: &Config) -> Vec<(String, String, String)> {
    let as_value = |c: &Config| toml::Value::try_from(c).expect("a config serialises");
    let mut changed = Vec::new();
    differences(&as_value(old), &as_value(new), "", &mut changed);
    changed
}

/// Reads `path` and decides what of it can be applied over `current`.
pub fn reload(path: &Path, current: &Config) -> ReloadOutcome {
    let new = match Config::load(path) {
        Ok(config) => config,
        Err(error) => return ReloadOutcome::Invalid(error),
    };
    let changed = config_differences(current, &new);
    if changed.is_empty() {
        return ReloadOutcome::Unchanged;
    }
    let refused: Vec<String> =
        changed.iter().filter(|(field, _, _)| !listed(field, RELOADABLE)).map(|(field, _, _)| field.clone()).collect();
    if !refused.is_empty() {
        return ReloadOutcome::Refused(refused);
    }
    ReloadOutcome::Applied(Box::new(new), changed.into_iter().map(|(f, a, b)| format!("{f}: {a} -> {b}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "[data]\ntrain = \"t\"\nbatch_size = 8\n[student]\narch = \"resnet18\"\n[teacher]\nkind = \"supervised\"\nweights = \"w\"\n[banks]\ntext = \"teacher_classifier\"\n[run]\ndevice = \"cpu\"\n[precision]\nautocast = \"fp32\"\n";

    fn outcome(new_text: &str) -> ReloadOutcome {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let unique = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("lgd-reload-{}-{unique}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("run.toml");
        std::fs::write(&path, new_text).unwrap();
        let current = Config::parse(BASE, Path::new("run.toml")).unwrap();
        let result = reload(&path, &current);
        std::fs::remove_dir_all(&dir).unwrap();
        result
    }

    #[test]
    fn reloadable_changes_apply_with_a_diff() {
        match outcome(&format!("{BASE}[loss]\nteacher_temperature = 0.02\n")) {
            ReloadOutcome::Applied(config, diff) => {
                assert_eq!(config.loss.teacher_temperature, 0.02);
                assert_eq!(diff, vec!["loss.teacher_temperature: 0.01 -> 0.02"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(outcome(BASE), ReloadOutcome::Unchanged));
        match outcome(&format!("{BASE}[pipeline]\ndecode_workers = 1\ndevice_batches = 1\n")) {
            ReloadOutcome::Applied(config, diff) => {
                assert_eq!((config.pipeline.decode_workers, config.pipeline.device_batches), (1, 1));
                assert_eq!(diff, vec!["pipeline.decode_workers: 0 -> 1", "pipeline.device_batches: 2 -> 1"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn other_changes_are_refused_and_bad_files_kept_out() {
        match outcome(&BASE.replace("batch_size = 8", "batch_size = 16")) {
            ReloadOutcome::Refused(fields) => assert_eq!(fields, vec!["data.batch_size"]),
            other => panic!("{other:?}"),
        }
        // The checkpoint writer's queue is sized once, at start.
        match outcome(&format!("{BASE}[pipeline]\ncheckpoint_requests = 5\n")) {
            ReloadOutcome::Refused(fields) => assert_eq!(fields, vec!["pipeline.checkpoint_requests"]),
            other => panic!("{other:?}"),
        }
        assert!(matches!(outcome("[data\n"), ReloadOutcome::Invalid(_)));
        assert!(matches!(outcome(&BASE.replace("batch_size = 8", "batch_size = 0")), ReloadOutcome::Invalid(_)));
    }
}
