//! Category names of a downstream task and the prompt templates that turn them into sentences.
//!
//! The text bank (one column per category) is built from these, so the built-in lists are compiled
//! into the binary: a run never depends on files outside the product.

use std::path::{Path, PathBuf};

/// Built-in category-name lists, one name per line (copied from the project's shared data).
const BUILTIN_CLASSNAMES: &[(&str, &str)] = &[
    ("ade20k", include_str!("../data/classnames/ade20k.txt")),
    ("caltech256", include_str!("../data/classnames/caltech256.txt")),
    ("cityscapes", include_str!("../data/classnames/cityscapes.txt")),
    ("coco", include_str!("../data/classnames/coco.txt")),
    ("fashion_mnist", include_str!("../data/classnames/fashion_mnist.txt")),
    ("imagenet", include_str!("../data/classnames/imagenet.txt")),
    ("lvis", include_str!("../data/classnames/lvis.txt")),
    ("oxford_pets", include_str!("../data/classnames/oxford_pets.txt")),
];

/// Built-in prompt-template lists; `{}` marks where the category name goes.
const BUILTIN_TEMPLATES: &[(&str, &str)] =
    &[("openai_imagenet", include_str!("../data/templates/openai_imagenet.txt"))];

/// Why a name list or template list could not be had.
#[derive(Debug, thiserror::Error)]
pub enum NamesError {
    /// Neither a built-in list of that name nor a readable file.
    #[error("{what} `{name}` is neither a built-in list ({builtins}) nor a readable file: {source}")]
    NotFound {
        /// "class-name list" or "template list".
        what: &'static str,
        /// What the user asked for.
        name: String,
        /// The built-in names, comma separated.
        builtins: String,
        /// The file-system error for the path reading.
        source: std::io::Error,
    },
    /// The list has no entries.
    #[error("{path}: the list is empty")]
    Empty {
        /// The file or built-in name.
        path: PathBuf,
    },
    /// A template without exactly one `{}` placeholder.
    #[error("{path}:{line}: template `{template}` must contain `{{}}` exactly once")]
    BadTemplate {
        /// The file or built-in name.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The offending template.
        template: String,
    },
}

/// The ordered category names of a task; column `c` of every bank belongs to `names()[c]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassNames {
    names: Vec<String>,
}

impl ClassNames {
    /// A built-in list by name (`imagenet`, `caltech256`, …) or else a file with one name per line.
    pub fn resolve(spec: &str) -> Result<Self, NamesError> {
        if let Some((_, text)) = BUILTIN_CLASSNAMES.iter().find(|(name, _)| *name == spec) {
            return Self::parse(text, Path::new(spec));
        }
        let text = std::fs::read_to_string(spec).map_err(|source| NamesError::NotFound {
            what: "class-name list",
            name: spec.to_owned(),
            builtins: builtin_names(BUILTIN_CLASSNAMES),
            source,
        })?;
        Self::parse(&text, Path::new(spec))
    }

    /// Parses one name per line; blank lines are skipped, surrounding whitespace trimmed.
    /// Repeated names are kept (ImageNet's list names two classes `missile`); see [`Self::duplicates`].
    pub fn parse(text: &str, origin: &Path) -> Result<Self, NamesError> {
        let names: Vec<String> =
            text.lines().map(str::trim).filter(|name| !name.is_empty()).map(str::to_owned).collect();
        if names.is_empty() {
            return Err(NamesError::Empty { path: origin.to_owned() });
        }
        Ok(Self { names })
    }

    /// The names in bank-column order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Names that occur more than once, with their 0-based class indices: their text-bank columns
    /// are identical, so zero-shot accuracy cannot tell those classes apart (worth a warning).
    pub fn duplicates(&self) -> Vec<(String, Vec<usize>)> {
        let mut seen: Vec<(String, Vec<usize>)> = Vec::new();
        for (index, name) in self.names.iter().enumerate() {
            match seen.iter_mut().find(|(n, _)| n == name) {
                Some((_, indices)) => indices.push(index),
                None => seen.push((name.clone(), vec![index])),
            }
        }
        seen.retain(|(_, indices)| indices.len() > 1);
        seen
    }

    /// Number of categories (C).
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Always false: a parsed list has at least one name.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// Prompt templates such as `a photo of a {}.`; each is rendered once per category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Templates {
    templates: Vec<String>,
}

impl Templates {
    /// A built-in list by name (`openai_imagenet`) or else a file with one template per line.
    pub fn resolve(spec: &str) -> Result<Self, NamesError> {
        if let Some((_, text)) = BUILTIN_TEMPLATES.iter().find(|(name, _)| *name == spec) {
            return Self::parse(text, Path::new(spec));
        }
        let text = std::fs::read_to_string(spec).map_err(|source| NamesError::NotFound {
            what: "template list",
            name: spec.to_owned(),
            builtins: builtin_names(BUILTIN_TEMPLATES),
            source,
        })?;
        Self::parse(&text, Path::new(spec))
    }

    /// Parses one template per line; each must hold exactly one `{}`.
    pub fn parse(text: &str, origin: &Path) -> Result<Self, NamesError> {
        let mut templates = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let template = line.trim();
            if template.is_empty() {
                continue;
            }
            if template.matches("{}").count() != 1 {
                return Err(NamesError::BadTemplate {
                    path: origin.to_owned(),
                    line: index + 1,
                    template: template.to_owned(),
                });
            }
            templates.push(template.to_owned());
        }
        if templates.is_empty() {
            return Err(NamesError::Empty { path: origin.to_owned() });
        }
        Ok(Self { templates })
    }

    /// The templates in file order.
    pub fn templates(&self) -> &[String] {
        &self.templates
    }

    /// Every template with `name` in place of `{}`, in template order.
    pub fn render(&self, name: &str) -> Vec<String> {
        self.templates.iter().map(|t| t.replacen("{}", name, 1)).collect()
    }
}

fn builtin_names(table: &[(&str, &str)]) -> String {
    table.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_lists_have_their_published_sizes() {
        assert_eq!(ClassNames::resolve("imagenet").unwrap().len(), 1000);
        assert_eq!(ClassNames::resolve("caltech256").unwrap().len(), 256);
        assert_eq!(ClassNames::resolve("fashion_mnist").unwrap().len(), 10);
        assert_eq!(Templates::resolve("openai_imagenet").unwrap().templates().len(), 80);
    }

    #[test]
    fn render_puts_the_name_in_the_placeholder() {
        let t = Templates::parse("a photo of a {}.\n\nart of the {}.\n", Path::new("t")).unwrap();
        assert_eq!(t.render("goldfish"), vec!["a photo of a goldfish.", "art of the goldfish."]);
    }

    #[test]
    fn duplicates_are_kept_and_listed() {
        let names = ClassNames::parse("cat\ndog\ncat\n", Path::new("n.txt")).unwrap();
        assert_eq!(names.len(), 3);
        assert_eq!(names.duplicates(), vec![("cat".to_owned(), vec![0, 2])]);
        let imagenet = ClassNames::resolve("imagenet").unwrap();
        assert!(imagenet.duplicates().iter().any(|(name, _)| name == "missile"));
    }

    #[test]
    fn bad_templates_name_the_line() {
        let err = Templates::parse("a {} and a {}\n", Path::new("t.txt")).unwrap_err();
        assert!(err.to_string().starts_with("t.txt:1:"), "{err}");
    }

    #[test]
    fn unknown_spec_lists_the_builtins() {
        let err = ClassNames::resolve("no-such-list").unwrap_err().to_string();
        assert!(err.contains("imagenet") && err.contains("no-such-list"), "{err}");
    }
}
