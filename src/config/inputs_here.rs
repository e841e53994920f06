//! The files and folders a config names that this machine cannot provide. A config is often
//! checked where it is written and run elsewhere, so `lgd check-config` reports these as
//! warnings; `lgd train` fails on the first one it meets.

use std::path::Path;

use lgd_datasets::classnames::{ClassNames, Templates};

use super::{Config, TeacherKind, TextBankSource};

impl Config {
    /// One line per input missing here or unreadable, naming its field (relative paths are taken
    /// from the working directory, as `lgd train` takes them).
    pub fn inputs_missing_here(&self) -> Vec<String> {
        let mut missing = Vec::new();
        let mut exists = |field: &str, path: &Path| {
            if !path.exists() {
                missing.push(format!("{field}: {} does not exist here", path.display()));
            }
        };
        exists("data.train", &self.data.train);
        if let Some(val) = &self.data.val {
            exists("data.val", val);
        }
        exists("teacher.weights", &self.teacher.weights);
        if let TextBankSource::File(bank) = &self.banks.text {
            exists("banks.text", bank);
        }
        let clip = self.teacher.kind == TeacherKind::Clip;
        // A supervised teacher reads its class names only to follow a guidance list.
        if clip || !self.banks.guidance.is_empty() {
            if let Err(e) = ClassNames::resolve(&self.banks.classnames) {
                missing.push(format!("banks.classnames: {e}"));
            }
        }
        if clip && self.banks.text == TextBankSource::Prompts {
            if let Err(e) = Templates::resolve(&self.banks.templates) {
                missing.push(format!("banks.templates: {e}"));
            }
        }
        missing
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::Config;

    #[test]
    fn each_missing_input_is_named_by_its_field() {
        let dir = std::env::temp_dir().join(format!("lgd-inputs-here-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("train")).unwrap();
        let text = format!(
            "[data]\ntrain = \"{0}/train\"\nval = \"{0}/val\"\nbatch_size = 4\n[student]\narch = \"resnet18\"\n\
             [teacher]\nkind = \"clip\"\nweights = \"{0}/rn50.pt\"\n[banks]\nclassnames = \"{0}/names.txt\"\n",
            dir.display()
        );
        let config = Config::parse(&text, Path::new("run.toml")).unwrap();
        let missing = config.inputs_missing_here();
        assert_eq!(missing.len(), 3, "{missing:?}");
        assert_eq!(missing[0], format!("data.val: {}/val does not exist here", dir.display()));
        assert_eq!(missing[1], format!("teacher.weights: {}/rn50.pt does not exist here", dir.display()));
        assert!(missing[2].starts_with("banks.classnames: ") && missing[2].contains("names.txt"), "{missing:?}");

        std::fs::create_dir_all(dir.join("val")).unwrap();
        std::fs::write(dir.join("rn50.pt"), b"").unwrap();
        std::fs::write(dir.join("names.txt"), "cat\ndog\n").unwrap();
        std::fs::write(dir.join("templates.txt"), "a photo of a dog.\n").unwrap();
        let with_templates = format!("{text}templates = \"{}/templates.txt\"\n", dir.display());
        let config = Config::parse(&with_templates, Path::new("run.toml")).unwrap();
        let missing = config.inputs_missing_here();
        assert_eq!(missing.len(), 1, "{missing:?}");
        assert!(missing[0].starts_with("banks.templates: ") && missing[0].contains("{}"), "a template without its slot: {missing:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
