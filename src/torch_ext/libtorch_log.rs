//! libtorch's own log messages (its warnings, written to std::cerr by c10) as tracing events of
//! target `libtorch`, so they come out in the product's log format: with `--log-format json`, a
//! libtorch warning is one more JSON object instead of stray text lines in the middle.

use std::os::raw::c_char;

use tch::{Device, Kind, Tensor};

use super::{check, ffi, Result};

/// One message libtorch wrote (its continuation lines included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibtorchLine<'a> {
    /// c10's severity.
    pub level: tracing::Level,
    /// The libtorch source file and line that wrote it, when the line says.
    pub location: Option<&'a str>,
    /// What it said.
    pub message: &'a str,
}

/// Reads c10's `[W1204 21:12:00.545182168 reducer.cpp:332] Warning: text`; a line of any other
/// shape is kept whole, as a warning.
pub fn parse_libtorch_line(line: &str) -> LibtorchLine<'_> {
    let whole = LibtorchLine { level: tracing::Level::WARN, location: None, message: line };
    let Some(rest) = line.strip_prefix('[') else { return whole };
    let Some((header, message)) = rest.split_once("] ") else { return whole };
    let level = match header.chars().next() {
        Some('I') => tracing::Level::INFO,
        Some('W') => tracing::Level::WARN,
        Some('E' | 'F') => tracing::Level::ERROR,
        _ => return whole,
    };
    let fields: Vec<&str> = header.split_whitespace().collect();
    let [_, _, location] = fields[..] else { return whole };
    let message = message.strip_prefix("Warning: ").unwrap_or(message);
    LibtorchLine { level, location: Some(location), message }
}

/// Sends what libtorch writes to std::cerr and std::clog, message by message, to the current
/// tracing subscriber for the rest of the process.
pub fn route_libtorch_log() -> Result<()> {
    // SAFETY: `forward_line` is a plain function that lives as long as the process.
    check("route_libtorch_log", unsafe { ffi::lgd_ext_route_libtorch_log(forward_line) })
}

/// Makes libtorch warn once on this thread (an `out=` tensor of another shape that holds
/// elements is resized): for the tests that follow a libtorch warning into the log.
pub fn provoke_libtorch_warning() {
    let out = Tensor::zeros([3], (Kind::Float, Device::Cpu));
    let ones = Tensor::ones([2, 2], (Kind::Float, Device::Cpu));
    let _ = ones.add_out(&out, &ones);
}

extern "C" fn forward_line(text: *const c_char, length: usize) {
    // SAFETY: the router hands over `length` bytes it owns for the duration of this call.
    let bytes = unsafe { std::slice::from_raw_parts(text.cast::<u8>(), length) };
    let text = String::from_utf8_lossy(bytes);
    // A panic must not unwind into C++; losing one log line is the lesser harm.
    let _ = std::panic::catch_unwind(|| emit(&parse_libtorch_line(text.trim_end())));
}

fn emit(line: &LibtorchLine<'_>) {
    let location = line.location.unwrap_or("");
    match line.level {
        tracing::Level::ERROR => tracing::error!(target: "libtorch", location, "{}", line.message),
        tracing::Level::INFO => tracing::info!(target: "libtorch", location, "{}", line.message),
        _ => tracing::warn!(target: "libtorch", location, "{}", line.message),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn a_c10_line_gives_its_level_location_and_message() {
        let line = parse_libtorch_line(
            "[W1204 21:12:00.545182168 reducer.cpp:332] Warning: Grad strides do not match\ngrad.sizes() = [4]",
        );
        assert_eq!(line.level, tracing::Level::WARN);
        assert_eq!(line.location, Some("reducer.cpp:332"));
        assert_eq!(line.message, "Grad strides do not match\ngrad.sizes() = [4]");
        let error = parse_libtorch_line("[E1204 09:00:01.000000001 ProcessGroupGloo.cpp:140] Gloo connection lost");
        assert_eq!(
            (error.level, error.location, error.message),
            (tracing::Level::ERROR, Some("ProcessGroupGloo.cpp:140"), "Gloo connection lost")
        );
        assert_eq!(parse_libtorch_line("[I1204 09:00:01.1 a.cpp:1] up").level, tracing::Level::INFO);
    }

    #[test]
    fn other_text_is_kept_whole_as_a_warning() {
        for text in ["plain text", "[not a header", "[X1 2 a.cpp:1] unknown level", "[W1204 a.cpp:1] two fields"] {
            assert_eq!(
                parse_libtorch_line(text),
                LibtorchLine { level: tracing::Level::WARN, location: None, message: text }
            );
        }
    }

    /// Everything a JSON subscriber writes, shared with the test.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_libtorch_warning_becomes_one_tracing_event() {
        route_libtorch_log().unwrap();
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber =
            tracing_subscriber::fmt().json().flatten_event(true).with_writer(move || writer.clone()).finish();
        tracing::subscriber::with_default(subscriber, provoke_libtorch_warning);
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let events: Vec<serde_json::Value> = text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
        assert_eq!(events.len(), 1, "one event for one warning: {text}");
        let event = &events[0];
        assert_eq!(event["level"], "WARN", "{event}");
        assert_eq!(event["target"], "libtorch", "{event}");
        assert!(event["message"].as_str().unwrap().contains("was resized"), "{event}");
        assert!(event["location"].as_str().unwrap().contains(".cpp:"), "{event}");
    }
}
