//! Slurm's compressed host lists (`SLURM_JOB_NODELIST`): `gpu[01-04,07],login1` is gpu01, gpu02,
//! gpu03, gpu04, gpu07, login1. Rank 0 runs on the list's first host, which is therefore the
//! rendezvous address of an `srun lgd train` that no launcher gave `MASTER_ADDR`.
//!
//! The syntax, as `scontrol show hostnames` reads it: entries separated by commas outside
//! brackets; an entry is literal text with any number of bracket groups, each a comma-separated
//! list of numbers or `lo-hi` ranges (zero padding kept: `01-04` gives `01`…`04`); several groups
//! in one entry give their cross product (`a[1-2]b[3-4]` is a1b3, a1b4, a2b3, a2b4).

/// Why a host list could not be read; names the whole list and what is wrong in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{list:?} is not a Slurm host list: {problem}")]
pub struct HostListError {
    /// The text as given.
    pub list: String,
    /// What is wrong with it.
    #[source]
    pub problem: HostListProblem,
}

/// What is wrong in a host list, with the byte, range or group at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostListProblem {
    /// `[` inside a bracket group.
    #[error("a `[` inside brackets at byte {0}")]
    NestedBracket(usize),
    /// `]` outside a bracket group.
    #[error("a `]` with no `[` before it at byte {0}")]
    StrayClose(usize),
    /// A group that is never closed.
    #[error("a `[` that is never closed")]
    Unclosed,
    /// Two commas in a row, or one at an end.
    #[error("an empty entry (two commas, or one at an end)")]
    EmptyEntry,
    /// Nothing to expand.
    #[error("no hosts")]
    NoHosts,
    /// The list expands to more than [`MAX_HOSTS`].
    #[error("more than {} hosts", MAX_HOSTS)]
    TooManyHosts,
    /// A number past u64.
    #[error("`{0}` is too large a number")]
    NumberTooLarge(String),
    /// `hi-lo` with hi < lo.
    #[error("the range `{0}` runs backwards")]
    Backwards(String),
    /// One range of more than [`MAX_HOSTS`].
    #[error("the range `{0}` has more than {max} hosts", max = MAX_HOSTS)]
    RangeTooLong(String),
    /// A group part that is neither `N` nor `lo-hi`.
    #[error("`[{group}]` holds `{part}`, which is neither a number nor a range lo-hi")]
    NotNumberOrRange {
        /// The group's inside.
        group: String,
        /// The part at fault.
        part: String,
    },
}

/// No list expands past this many hosts: a typo like `n[1-99999999]` is an error, not an
/// allocation of gigabytes.
const MAX_HOSTS: usize = 1 << 20;

/// Every host of `list`, in order.
pub fn expand(list: &str) -> Result<Vec<String>, HostListError> {
    let fail = |problem: HostListProblem| HostListError { list: list.to_owned(), problem };
    let mut hosts = Vec::new();
    for entry in split_entries(list).map_err(fail)? {
        if entry.is_empty() {
            return Err(fail(HostListProblem::EmptyEntry));
        }
        hosts.extend(expand_entry(entry).map_err(fail)?);
        if hosts.len() > MAX_HOSTS {
            return Err(fail(HostListProblem::TooManyHosts));
        }
    }
    if hosts.is_empty() {
        return Err(fail(HostListProblem::NoHosts));
    }
    Ok(hosts)
}

/// The list's entries: split at commas that are not inside brackets.
fn split_entries(list: &str) -> Result<Vec<&str>, HostListProblem> {
    let (mut entries, mut depth, mut start) = (Vec::new(), 0usize, 0usize);
    for (at, c) in list.char_indices() {
        match c {
            '[' if depth > 0 => return Err(HostListProblem::NestedBracket(at)),
            '[' => depth = 1,
            ']' if depth == 0 => return Err(HostListProblem::StrayClose(at)),
            ']' => depth = 0,
            ',' if depth == 0 => {
                entries.push(list[start..at].trim());
                start = at + 1;
            }
            _ => {}
        }
    }
    if depth > 0 {
        return Err(HostListProblem::Unclosed);
    }
    entries.push(list[start..].trim());
    Ok(entries)
}

/// One entry: literal text and bracket groups, expanded as a cross product.
fn expand_entry(entry: &str) -> Result<Vec<String>, HostListProblem> {
    let mut hosts = vec![String::new()];
    let mut rest = entry;
    while let Some(open) = rest.find('[') {
        let close = open + rest[open..].find(']').expect("brackets were checked to pair up");
        let values = expand_group(&rest[open + 1..close])?;
        let prefix = &rest[..open];
        if hosts.len() * values.len() > MAX_HOSTS {
            return Err(HostListProblem::TooManyHosts);
        }
        hosts =
            hosts.iter().flat_map(|host| values.iter().map(move |value| format!("{host}{prefix}{value}"))).collect();
        rest = &rest[close + 1..];
    }
    Ok(hosts.into_iter().map(|host| host + rest).collect())
}

/// The inside of one bracket group: `01-04,07` → 01, 02, 03, 04, 07.
fn expand_group(group: &str) -> Result<Vec<String>, HostListProblem> {
    let mut values = Vec::new();
    for part in group.split(',').map(str::trim) {
        let digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        match part.split_once('-') {
            None if digits(part) => values.push(part.to_owned()),
            Some((lo, hi)) if digits(lo) && digits(hi) => {
                let number =
                    |text: &str| text.parse::<u64>().map_err(|_| HostListProblem::NumberTooLarge(text.to_owned()));
                let (low, high) = (number(lo)?, number(hi)?);
                if low > high {
                    return Err(HostListProblem::Backwards(part.to_owned()));
                }
                if (high - low) as usize >= MAX_HOSTS {
                    return Err(HostListProblem::RangeTooLong(part.to_owned()));
                }
                // Slurm pads every number of a range to the width of its first bound.
                values.extend((low..=high).map(|n| format!("{n:0width$}", width = lo.len())));
            }
            _ => return Err(HostListProblem::NotNumberOrRange { group: group.to_owned(), part: part.to_owned() }),
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(list: &str) -> Vec<String> {
        expand(list).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn plain_names_and_ip_addresses() {
        assert_eq!(hosts("node7"), ["node7"]);
        assert_eq!(hosts("127.0.0.1"), ["127.0.0.1"]);
        assert_eq!(hosts("a,b-2, c"), ["a", "b-2", "c"]);
    }

    #[test]
    fn ranges_keep_their_zero_padding() {
        assert_eq!(hosts("gpu[01-04,07]"), ["gpu01", "gpu02", "gpu03", "gpu04", "gpu07"]);
        assert_eq!(hosts("n[8-11]"), ["n8", "n9", "n10", "n11"]);
        assert_eq!(hosts("n[098-101]"), ["n098", "n099", "n100", "n101"]);
        assert_eq!(hosts("gpu[3]"), ["gpu3"]);
    }

    #[test]
    fn commas_inside_brackets_do_not_separate_entries() {
        assert_eq!(hosts("gpu[01-02,05],cpu[1,3]"), ["gpu01", "gpu02", "gpu05", "cpu1", "cpu3"]);
    }

    #[test]
    fn several_groups_are_a_cross_product_with_a_suffix() {
        assert_eq!(hosts("a[1-2]b[3-4]"), ["a1b3", "a1b4", "a2b3", "a2b4"]);
        assert_eq!(hosts("rack[1-2]-n[01]-ib"), ["rack1-n01-ib", "rack2-n01-ib"]);
    }

    #[test]
    fn bad_syntax_is_an_error_naming_the_text() {
        for (list, problem) in [
            ("gpu[01-04", "never closed"),
            ("gpu]01", "with no `[`"),
            ("gpu[[1]]", "inside brackets"),
            ("gpu[4-1]", "runs backwards"),
            ("gpu[a-b]", "neither a number nor a range"),
            ("gpu[]", "neither a number nor a range"),
            ("gpu[1-]", "neither a number nor a range"),
            ("a,,b", "empty entry"),
            ("", "empty entry"),
            ("n[0-99999999]", "more than"),
        ] {
            let error = expand(list).unwrap_err();
            assert_eq!(error.list, list);
            let text = error.to_string();
            assert!(text.contains(&format!("{list:?}")) && text.contains(problem), "{list}: {text}");
        }
    }
}
