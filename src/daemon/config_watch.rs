//! `run.watch_config = true`: notice that the config file changed on disk (modification time,
//! size, or the file appearing/disappearing) and ask for a reload, as SIGHUP would. Polled at step
//! boundaries, at most once a second: no watcher thread, no platform-specific notification API.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// What identifies a version of the file.
type Fingerprint = Option<(SystemTime, u64)>;

fn fingerprint(path: &Path) -> Fingerprint {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// Polls one file for changes.
#[derive(Debug)]
pub(super) struct ConfigWatch {
    path: PathBuf,
    seen: Fingerprint,
    checked: Instant,
}

impl ConfigWatch {
    pub(super) fn new(path: &Path) -> Self {
        Self { path: path.to_owned(), seen: fingerprint(path), checked: Instant::now() }
    }

    /// Whether the file changed since the last time this said so (checks at most once a second).
    pub(super) fn changed(&mut self) -> bool {
        if self.checked.elapsed() < Duration::from_secs(1) {
            return false;
        }
        self.checked = Instant::now();
        let now = fingerprint(&self.path);
        if now == self.seen {
            return false;
        }
        self.seen = now;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewrite_is_noticed_once() {
        let path = std::env::temp_dir().join(format!("lgd-watch-{}.toml", std::process::id()));
        std::fs::write(&path, "a = 1\n").unwrap();
        let mut watch = ConfigWatch::new(&path);
        watch.checked -= Duration::from_secs(2);
        assert!(!watch.changed(), "unchanged");
        std::fs::write(&path, "a = 22\n").unwrap(); // another size: noticed even within one mtime tick
        watch.checked -= Duration::from_secs(2);
        assert!(watch.changed());
        watch.checked -= Duration::from_secs(2);
        assert!(!watch.changed(), "reported once");
        std::fs::remove_file(&path).unwrap();
        watch.checked -= Duration::from_secs(2);
        assert!(watch.changed(), "a deleted file is a change (the reload then reports it)");
    }
}
