//! The few protobuf messages an event file of scalars needs, encoded by hand (a protobuf code
//! generator would be a build step for three messages). Field numbers follow tensorboard's
//! `event.proto` and `summary.proto`:
//! `Event { double wall_time = 1; int64 step = 2; oneof { string file_version = 3;
//! Summary summary = 5; SessionLog session_log = 7; } }`, `Summary { repeated Value value = 1; }`,
//! `Summary.Value { string tag = 1; float simple_value = 2; }`, `SessionLog { status = 1; }`.

/// Protobuf wire types.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LENGTH_DELIMITED: u8 = 2;
const FIXED32: u8 = 5;

/// `SessionLog.SessionStatus.START`.
const SESSION_START: u64 = 1;

/// Appends `value` as a base-128 varint (7 bits a byte, low bits first, high bit = more follow).
pub fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_key(out: &mut Vec<u8>, field: u32, wire_type: u8) {
    put_varint(out, u64::from(field) << 3 | u64::from(wire_type));
}

fn put_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_key(out, field, LENGTH_DELIMITED);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// The fields every event starts with. `step` is an `int64` on the wire; steps are never near
/// 2^63, so the `u64` is encoded as is.
fn event_header(wall_time: f64, step: u64) -> Vec<u8> {
    let mut event = Vec::with_capacity(64);
    put_key(&mut event, 1, FIXED64);
    event.extend_from_slice(&wall_time.to_le_bytes());
    if step != 0 {
        put_key(&mut event, 2, VARINT);
        put_varint(&mut event, step);
    }
    event
}

/// The first event of every file: readers use `file_version` to pick their parsing rules
/// (version 2 means restarts are marked by `SessionLog.START`, not guessed from steps).
pub fn file_version_event(wall_time: f64, version: &str) -> Vec<u8> {
    let mut event = event_header(wall_time, 0);
    put_bytes(&mut event, 3, version.as_bytes());
    event
}

/// One scalar as a `Summary` with a single `simple_value` (stored as `float`, as TensorBoard does).
pub fn scalar_event(wall_time: f64, step: u64, tag: &str, value: f32) -> Vec<u8> {
    let mut summary_value = Vec::with_capacity(tag.len() + 8);
    put_bytes(&mut summary_value, 1, tag.as_bytes());
    put_key(&mut summary_value, 2, FIXED32);
    summary_value.extend_from_slice(&value.to_le_bytes());
    let mut summary = Vec::with_capacity(summary_value.len() + 4);
    put_bytes(&mut summary, 1, &summary_value);
    let mut event = event_header(wall_time, step);
    put_bytes(&mut event, 5, &summary);
    event
}

/// `SessionLog { status: START }` at `step`: tells readers that events logged earlier at `step`
/// or later belong to an abandoned attempt and are to be dropped.
pub fn session_start_event(wall_time: f64, step: u64) -> Vec<u8> {
    let mut session_log = Vec::with_capacity(2);
    put_key(&mut session_log, 1, VARINT);
    put_varint(&mut session_log, SESSION_START);
    let mut event = event_header(wall_time, step);
    put_bytes(&mut event, 7, &session_log);
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(value: u64) -> Vec<u8> {
        let mut out = Vec::new();
        put_varint(&mut out, value);
        out
    }

    #[test]
    fn varint_edge_cases() {
        assert_eq!(varint(0), [0x00]);
        assert_eq!(varint(1), [0x01]);
        assert_eq!(varint(127), [0x7f]);
        assert_eq!(varint(128), [0x80, 0x01]);
        assert_eq!(varint(300), [0xac, 0x02]);
        assert_eq!(varint(16_383), [0xff, 0x7f]);
        assert_eq!(varint(16_384), [0x80, 0x80, 0x01]);
        assert_eq!(varint(1_000_000_000), [0x80, 0x94, 0xeb, 0xdc, 0x03]);
        assert_eq!(varint(i64::MAX as u64), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
        // int64 -1 (two's complement) and u64::MAX: the 10-byte maximum.
        assert_eq!(varint(u64::MAX), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Expected bytes from tensorboard's generated Python classes (`SerializeToString`).
    #[test]
    fn events_match_tensorboard_protobuf_bytes() {
        assert_eq!(hex(&scalar_event(1.5, 3, "a", 2.0)), "09000000000000f83f10032a0a0a080a01611500000040");
        assert_eq!(hex(&file_version_event(1.5, "brain.Event:2")), "09000000000000f83f1a0d627261696e2e4576656e743a32");
        assert_eq!(hex(&session_start_event(1.5, 7)), "09000000000000f83f10073a020801");
    }
}
