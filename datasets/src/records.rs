//! The line-oriented reports of files that could not be used — a run's `bad_samples.txt`, a
//! pack's `skipped.txt`: one line per file, `path<TAB>reason`. Error messages lead with the path
//! they concern and a decoder's may span lines; a report line says the path once, first, and the
//! reason on the same line, so each file is one line that splits at its first tab.

/// The report line (newline included) for `path` and `reason`.
pub fn record_line(path: &str, reason: &str) -> String {
    let flat = reason.split(['\n', '\r']).map(str::trim).filter(|part| !part.is_empty()).collect::<Vec<_>>().join("; ");
    let flat = flat.replace('\t', " ");
    let path = path.replace(['\n', '\r', '\t'], " ");
    let reason = without_subject(&flat, &path);
    format!("{path}\t{}\n", if reason.is_empty() { "no reason given" } else { reason })
}

/// `reason` without a leading `<path>: ` — the path as given, or a longer path ending in it (a
/// pack names its samples relative to the source folder, their read errors by the full path).
fn without_subject<'a>(reason: &'a str, path: &str) -> &'a str {
    let subject = format!("{path}: ");
    match reason.find(&subject) {
        Some(at) if at == 0 || (reason[..at].ends_with('/') && !reason[..at].contains(": ")) => {
            &reason[at + subject.len()..]
        }
        _ => reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_file_with_the_path_once() {
        assert_eq!(record_line("/d/a.jpg", "/d/a.jpg: truncated JPEG\n"), "/d/a.jpg\ttruncated JPEG\n");
        assert_eq!(record_line("a/b.png", "/data/a/b.png: cannot read: denied"), "a/b.png\tcannot read: denied\n");
        assert_eq!(
            record_line("x.png", "x.png: cannot decode (PNG):\n  bad\tCRC\r\n"),
            "x.png\tcannot decode (PNG):; bad CRC\n"
        );
        assert_eq!(record_line("/d/c.jpg", "unreadable: No such file"), "/d/c.jpg\tunreadable: No such file\n");
        // A path that merely appears later in the reason stays.
        assert_eq!(record_line("b.png", "other: see b.png: x"), "b.png\tother: see b.png: x\n");
        assert_eq!(record_line("e.jpg", "\n"), "e.jpg\tno reason given\n");
    }
}
