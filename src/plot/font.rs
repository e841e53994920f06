//! The font the plot's text is drawn with. plotters' `ab_glyph` backend draws from font bytes we
//! hand it, which avoids building against fontconfig and freetype; we look for a common TTF at
//! the paths distributions install it to, or take the one `LGD_FONT` names.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use plotters::style::FontStyle;

use super::PlotError;

/// Environment variable naming a TTF/OTF file to use instead of the search.
pub const FONT_VARIABLE: &str = "LGD_FONT";

/// Where distributions put a sans-serif TTF, with the package that installs it.
const CANDIDATES: &[(&str, &str)] = &[
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "Debian/Ubuntu: fonts-dejavu-core"),
    ("/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf", "Fedora: dejavu-sans-fonts"),
    ("/usr/share/fonts/TTF/DejaVuSans.ttf", "Arch: ttf-dejavu"),
    ("/usr/share/fonts/dejavu/DejaVuSans.ttf", "Alpine: font-dejavu"),
    ("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf", "Debian/Ubuntu: fonts-liberation"),
    ("/System/Library/Fonts/Supplemental/Arial.ttf", "macOS"),
];

/// Why no font could be registered. Cloneable (the I/O error shared) because the outcome is
/// kept for the whole process and handed to every plot.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FontError {
    /// The font file cannot be read.
    #[error("{path}: {source}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: Arc<std::io::Error>,
    },
    /// The file is no font plotters can use.
    #[error("{path} is not a TrueType/OpenType font plotters can read")]
    NotAFont {
        /// The file.
        path: PathBuf,
    },
    /// The file `LGD_FONT` names is unusable.
    #[error("{FONT_VARIABLE}: {0}", FONT_VARIABLE = FONT_VARIABLE)]
    Variable(#[source] Box<FontError>),
    /// No candidate path exists and `LGD_FONT` is not set.
    #[error(
        "none of {looked} exists; install one (on Debian/Ubuntu: apt-get install fonts-dejavu-core) or set {FONT_VARIABLE} to a .ttf file",
        FONT_VARIABLE = FONT_VARIABLE
    )]
    NotFound {
        /// The paths tried, each with the package that installs it.
        looked: String,
    },
}

/// The registered font's file, once per process (plotters keeps fonts in a global table).
static REGISTERED: OnceLock<Result<PathBuf, FontError>> = OnceLock::new();

/// Finds a font and registers it as plotters' `sans-serif`; returns its path.
pub(super) fn register() -> Result<PathBuf, PlotError> {
    Ok(REGISTERED.get_or_init(find_and_register).clone()?)
}

fn find_and_register() -> Result<PathBuf, FontError> {
    let path = match std::env::var_os(FONT_VARIABLE) {
        Some(path) => {
            let path = PathBuf::from(path);
            load(&path).map_err(|e| FontError::Variable(Box::new(e)))?;
            return Ok(path);
        }
        None => {
            CANDIDATES.iter().map(|(path, _)| PathBuf::from(path)).find(|path| path.is_file()).ok_or_else(|| {
                let looked: Vec<String> =
                    CANDIDATES.iter().map(|(path, package)| format!("{path} ({package})")).collect();
                FontError::NotFound { looked: looked.join(", ") }
            })?
        }
    };
    load(&path)?;
    Ok(path)
}

/// Reads the file and hands it to plotters; the bytes live as long as the process, as plotters needs.
fn load(path: &Path) -> Result<(), FontError> {
    let bytes =
        std::fs::read(path).map_err(|e| FontError::Unreadable { path: path.to_owned(), source: Arc::new(e) })?;
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| FontError::NotAFont { path: path.to_owned() })
}
