//! Collecting every validation problem of a config at once, each under its full field path, so a
//! user fixes the whole file in one pass instead of one error per run.

use std::fmt;

/// One invalid value: `optimizer.lr: must be > 0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// Dotted path of the field in the TOML file.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// The problems found so far, under a section prefix.
#[derive(Debug, Default)]
pub struct Problems {
    list: Vec<FieldProblem>,
}

impl Problems {
    /// Records a problem unless `ok` holds.
    pub fn require(&mut self, ok: bool, field: &str, message: impl Into<String>) {
        if !ok {
            self.list.push(FieldProblem { field: field.to_owned(), message: message.into() });
        }
    }

    /// Records (field, message) pairs reported by another crate's section, under `section`.
    pub fn extend_section(&mut self, section: &str, pairs: Vec<(String, String)>) {
        for (field, message) in pairs {
            self.list.push(FieldProblem { field: format!("{section}.{field}"), message });
        }
    }

    /// The problems, in the order found.
    pub fn into_vec(self) -> Vec<FieldProblem> {
        self.list
    }
}
