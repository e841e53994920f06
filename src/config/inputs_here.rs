//! The files and folders a config names that this machine cannot provide, or provides in a form
//! `lgd train` would refuse (a folder where a file belongs, a file it may not read). A config is
//! often checked where it is written and run elsewhere, so `lgd check-config` reports a missing
//! input as a warning and an unusable one as an error; `lgd train` refuses either before it loads
//! anything. Every line names its field.

use std::path::Path;

use lgd_datasets::classnames::{ClassNames, Templates};

use super::{Config, TeacherKind, TextBankSource};

/// What the config's inputs look like on this machine.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct InputsHere {
    /// Inputs that do not exist here (maybe they do where the run will train).
    pub missing: Vec<String>,
    /// Inputs that exist but cannot be used: the wrong kind (file or folder), unreadable, or a
    /// list that does not parse.
    pub unusable: Vec<String>,
}

impl InputsHere {
    /// Whether every input is here and usable.
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.unusable.is_empty()
    }

    /// Every problem, missing inputs first.
    pub fn all(&self) -> Vec<String> {
        self.missing.iter().chain(&self.unusable).cloned().collect()
    }
}

/// What a field names.
#[derive(Clone, Copy)]
enum Kind {
    File,
    Folder,
}

impl InputsHere {
    /// Files and folders are looked at as `lgd train` opens them: followed through links, read
    /// as this user.
    fn check(&mut self, field: &str, path: &Path, kind: Kind) {
        let shown = path.display();
        let meta = match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return self.missing.push(format!("{field}: {shown} does not exist here"));
            }
            Err(e) => return self.unusable.push(format!("{field}: {shown}: {e}")),
            Ok(meta) => meta,
        };
        let readable = match kind {
            Kind::File if meta.is_dir() => {
                return self.unusable.push(format!("{field}: {shown} is a folder, but a file is expected"))
            }
            Kind::Folder if !meta.is_dir() => {
                return self.unusable.push(format!("{field}: {shown} is a file, but a folder is expected"))
            }
            Kind::File => std::fs::File::open(path).map(drop),
            Kind::Folder => std::fs::read_dir(path).map(drop),
        };
        if let Err(e) = readable {
            self.unusable.push(format!("{field}: {shown} cannot be read here: {e}"));
        }
    }
}

impl Config {
    /// The inputs this config names, checked here (relative paths are taken from the working
    /// directory, as `lgd train` takes them).
    pub fn inputs_here(&self) -> InputsHere {
        let mut here = InputsHere::default();
        // Both formats are folders: root/<class>/<images>, or the shards and index of a pack.
        here.check("data.train", &self.data.train, Kind::Folder);
        if let Some(val) = &self.data.val {
            here.check("data.val", val, Kind::Folder);
        }
        here.check("teacher.weights", &self.teacher.weights, Kind::File);
        if let TextBankSource::File(bank) = &self.banks.text {
            here.check("banks.text", bank, Kind::File);
        }
        let clip = self.teacher.kind == TeacherKind::Clip;
        // A supervised teacher reads its class names only to follow a guidance list.
        if clip || !self.banks.guidance.is_empty() {
            if let Err(e) = ClassNames::resolve(&self.banks.classnames) {
                list_problem(&mut here, "banks.classnames", &self.banks.classnames, e.to_string());
            }
        }
        if clip && self.banks.text == TextBankSource::Prompts {
            if let Err(e) = Templates::resolve(&self.banks.templates) {
                list_problem(&mut here, "banks.templates", &self.banks.templates, e.to_string());
            }
        }
        here
    }
}

/// A list (built-in name or file) that did not resolve: missing when it names no file here.
fn list_problem(here: &mut InputsHere, field: &str, list: &str, error: String) {
    let line = format!("{field}: {error}");
    let path = Path::new(list);
    if (path.components().count() > 1 || path.extension().is_some()) && !path.exists() {
        return here.missing.push(line);
    }
    here.unusable.push(line);
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
        let here = config.inputs_here();
        assert!(here.unusable.is_empty(), "{here:?}");
        let missing = here.missing;
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
        let here = config.inputs_here();
        assert!(here.missing.is_empty(), "{here:?}");
        assert_eq!(here.unusable.len(), 1, "{here:?}");
        assert!(
            here.unusable[0].starts_with("banks.templates: ") && here.unusable[0].contains("{}"),
            "a template without its slot: {here:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_input_of_the_wrong_kind_is_unusable_and_named_by_its_field() {
        let dir = std::env::temp_dir().join(format!("lgd-inputs-kind-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("weights.pt")).unwrap();
        std::fs::write(dir.join("train"), b"a file").unwrap();
        let text = format!(
            "[data]\ntrain = \"{0}/train\"\nbatch_size = 4\n[student]\narch = \"resnet18\"\n\
             [teacher]\nkind = \"supervised\"\nweights = \"{0}/weights.pt\"\n[banks]\ntext = \"teacher_classifier\"\n",
            dir.display()
        );
        let here = Config::parse(&text, Path::new("run.toml")).unwrap().inputs_here();
        assert!(here.missing.is_empty(), "{here:?}");
        assert_eq!(
            here.unusable,
            [
                format!("data.train: {}/train is a file, but a folder is expected", dir.display()),
                format!("teacher.weights: {}/weights.pt is a folder, but a file is expected", dir.display()),
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
