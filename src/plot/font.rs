//! The font the plot's text is drawn with. plotters' `ab_glyph` backend draws from font bytes we
//! hand it, which avoids building against fontconfig and freetype; we look for a common TTF at
//! the paths distributions install it to, or take the one `LGD_FONT` names.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

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

/// The registered font's file, once per process (plotters keeps fonts in a global table).
static REGISTERED: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// Finds a font and registers it as plotters' `sans-serif`; returns its path.
pub(super) fn register() -> Result<PathBuf, PlotError> {
    REGISTERED.get_or_init(find_and_register).clone().map_err(PlotError::Font)
}

fn find_and_register() -> Result<PathBuf, String> {
    let path = match std::env::var_os(FONT_VARIABLE) {
        Some(path) => {
            let path = PathBuf::from(path);
            load(&path).map_err(|e| format!("{FONT_VARIABLE}: {e}"))?;
            return Ok(path);
        }
        None => CANDIDATES.iter().map(|(path, _)| PathBuf::from(path)).find(|path| path.is_file()).ok_or_else(|| {
            let looked: Vec<String> = CANDIDATES.iter().map(|(path, package)| format!("{path} ({package})")).collect();
            format!(
                "none of {} exists; install one (on Debian/Ubuntu: apt-get install fonts-dejavu-core) or set {FONT_VARIABLE} to a .ttf file",
                looked.join(", ")
            )
        })?,
    };
    load(&path)?;
    Ok(path)
}

/// Reads the file and hands it to plotters; the bytes live as long as the process, as plotters needs.
fn load(path: &Path) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| format!("{} is not a TrueType/OpenType font plotters can read", path.display()))
}
