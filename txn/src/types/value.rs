//! User values and how they are shown: the inline (short) value limit, and
//! byte strings rendered for humans in errors and `Display`s.

/// A user value.
pub type Value = Vec<u8>;

/// Values at most this long are stored inline in locks and write records.
pub const SHORT_VALUE_MAX_LEN: usize = 255;

/// Whether `value` is stored inline.
pub fn is_short_value(value: &[u8]) -> bool {
    value.len() <= SHORT_VALUE_MAX_LEN
}

/// Renders a value for humans: [`escape`]d, cut short past 32 bytes.
pub(crate) fn show_value(value: &[u8]) -> String {
    if value.len() <= 32 {
        return escape(value);
    }
    format!("{}...({} bytes)", escape(&value[..16]), value.len())
}

/// Renders bytes for humans: printable ASCII as is, `\\` doubled, anything
/// else as `\xNN`.
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7E => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}
