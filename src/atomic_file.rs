//! Writing a file so that readers see either the old content or the complete new one, never a
//! torn write: a temporary file in the same folder, fsync, rename over the target, fsync the folder.
//! A failure (full disk, permissions) leaves any previous file intact.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Fault injection: how long to hold a written temporary file before renaming it into place.
static DELAY_BEFORE_RENAME_MS: AtomicU64 = AtomicU64::new(0);

/// Fault injection for tests: every later atomic write waits `delay` between writing its
/// temporary file and renaming it, so that a kill can land inside the write.
pub fn inject_delay_before_rename(delay: Duration) {
    DELAY_BEFORE_RENAME_MS.store(delay.as_millis() as u64, Ordering::Relaxed);
}

/// Replaces `path` with `bytes` atomically and durably.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    let file_name =
        path.file_name().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let temporary = folder.join(format!(".{}.tmp-{}", file_name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let mut file = OpenOptions::new().write(true).create(true).truncate(true).open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        let delay = DELAY_BEFORE_RENAME_MS.load(Ordering::Relaxed);
        if delay > 0 {
            std::thread::sleep(Duration::from_millis(delay));
        }
        fs::rename(&temporary, path)?;
        File::open(&folder)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("lgd-atomic-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let target = dir.join("bank.safetensors");
        write_atomically(&target, b"old").unwrap();
        write_atomically(&target, b"new content").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new content");
        let leftovers: Vec<_> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from("bank.safetensors")]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn failure_keeps_the_previous_file() {
        let dir = std::env::temp_dir().join(format!("lgd-atomic-fail-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let target = dir.join("keep");
        write_atomically(&target, b"precious").unwrap();
        // A target that is a non-empty folder cannot be renamed over: the write must fail cleanly.
        let blocked = dir.join("blocked");
        fs::create_dir_all(blocked.join("inside")).unwrap();
        assert!(write_atomically(&blocked, b"x").is_err());
        assert_eq!(fs::read(&target).unwrap(), b"precious");
        assert!(!dir.join(format!(".blocked.tmp-{}", std::process::id())).exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}
