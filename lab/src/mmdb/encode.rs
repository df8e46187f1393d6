//! Encoding of values in the MaxMind DB data-section format (spec v2.0, "Output Data Section").
//!
//! Only the types this writer needs are supported: UTF-8 strings, unsigned integers, maps and
//! arrays. Every value is written inline; pointers are not used.

use super::MmdbError;

/// Type number of a UTF-8 string.
const TYPE_UTF8_STRING: u8 = 2;
/// Type number of an unsigned 16-bit integer.
const TYPE_UINT16: u8 = 5;
/// Type number of an unsigned 32-bit integer.
const TYPE_UINT32: u8 = 6;
/// Type number of a map.
const TYPE_MAP: u8 = 7;
/// Type number of an unsigned 64-bit integer (an extended type).
const TYPE_UINT64: u8 = 9;
/// Type number of an array (an extended type).
const TYPE_ARRAY: u8 = 11;

/// Payload sizes below this fit in the control byte itself.
const SIZE_INLINE_LIMIT: usize = 29;
/// First size that needs two extra size bytes (29 + 256).
const SIZE_TWO_BYTES_BASE: usize = 285;
/// First size that needs three extra size bytes (285 + 65,536).
const SIZE_THREE_BYTES_BASE: usize = 65_821;
/// Largest payload size (or map/array entry count) the format can express.
pub(crate) const MAX_PAYLOAD_SIZE: usize = SIZE_THREE_BYTES_BASE + (1 << 24) - 1;

/// A value that can be written to the data section or the metadata section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value<'a> {
    /// UTF-8 string (type 2).
    Str(&'a str),
    /// Unsigned 16-bit integer (type 5).
    U16(u16),
    /// Unsigned 32-bit integer (type 6).
    U32(u32),
    /// Unsigned 64-bit integer (type 9).
    U64(u64),
    /// Map with UTF-8 string keys (type 7), written in the given order.
    Map(Vec<(&'a str, Value<'a>)>),
    /// Array (type 11).
    Array(Vec<Value<'a>>),
}

/// Appends the encoding of `value` to `out`.
pub(crate) fn encode(value: &Value<'_>, out: &mut Vec<u8>) -> Result<(), MmdbError> {
    match value {
        Value::Str(s) => {
            write_control(out, TYPE_UTF8_STRING, s.len())?;
            out.extend_from_slice(s.as_bytes());
        }
        Value::U16(n) => write_uint(out, TYPE_UINT16, &n.to_be_bytes())?,
        Value::U32(n) => write_uint(out, TYPE_UINT32, &n.to_be_bytes())?,
        Value::U64(n) => write_uint(out, TYPE_UINT64, &n.to_be_bytes())?,
        Value::Map(entries) => {
            write_control(out, TYPE_MAP, entries.len())?;
            for (key, val) in entries {
                encode(&Value::Str(key), out)?;
                encode(val, out)?;
            }
        }
        Value::Array(items) => {
            write_control(out, TYPE_ARRAY, items.len())?;
            for item in items {
                encode(item, out)?;
            }
        }
    }
    Ok(())
}

/// Writes an unsigned integer of type `type_num` with its leading zero bytes dropped
/// (a zero-length payload means 0).
fn write_uint(out: &mut Vec<u8>, type_num: u8, be_bytes: &[u8]) -> Result<(), MmdbError> {
    let first_nonzero = be_bytes
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(be_bytes.len());
    let payload = be_bytes.get(first_nonzero..).unwrap_or(&[]);
    write_control(out, type_num, payload.len())?;
    out.extend_from_slice(payload);
    Ok(())
}

/// Writes the control byte(s) for a field of type `type_num` whose payload size (or entry
/// count, for maps and arrays) is `size`.
///
/// Types 1..=7 are stored in the top three bits of the control byte; larger types are
/// "extended": the top three bits are zero and the next byte holds `type_num - 7`. Sizes of
/// 29 or more use 1, 2 or 3 extra bytes after the type byte(s).
fn write_control(out: &mut Vec<u8>, type_num: u8, size: usize) -> Result<(), MmdbError> {
    let (size_bits, extra): (u8, Vec<u8>) = if size < SIZE_INLINE_LIMIT {
        (to_u8(size)?, Vec::new())
    } else if size < SIZE_TWO_BYTES_BASE {
        (29, vec![to_u8(size - SIZE_INLINE_LIMIT)?])
    } else if size < SIZE_THREE_BYTES_BASE {
        let rest = u16::try_from(size - SIZE_TWO_BYTES_BASE).map_err(|_| too_large(size))?;
        (30, rest.to_be_bytes().to_vec())
    } else if size <= MAX_PAYLOAD_SIZE {
        let rest = u32::try_from(size - SIZE_THREE_BYTES_BASE).map_err(|_| too_large(size))?;
        let [_, b1, b2, b3] = rest.to_be_bytes();
        (31, vec![b1, b2, b3])
    } else {
        return Err(too_large(size));
    };
    if (1..=7).contains(&type_num) {
        out.push((type_num << 5) | size_bits);
    } else {
        out.push(size_bits);
        out.push(type_num - 7);
    }
    out.extend_from_slice(&extra);
    Ok(())
}

/// Converts a size already known to be small into a byte.
fn to_u8(n: usize) -> Result<u8, MmdbError> {
    u8::try_from(n).map_err(|_| too_large(n))
}

/// The error for a field whose size the format cannot express.
fn too_large(size: usize) -> MmdbError {
    MmdbError::TooLarge(format!(
        "a field of size {size} exceeds the format's limit of {MAX_PAYLOAD_SIZE}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(value: &Value<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        encode(value, &mut out).unwrap();
        out
    }

    #[test]
    fn short_string_has_inline_size() {
        assert_eq!(bytes(&Value::Str("DE")), vec![0x42, b'D', b'E']);
        assert_eq!(bytes(&Value::Str("")), vec![0x40]);
    }

    #[test]
    fn string_sizes_use_the_extra_size_bytes_of_the_spec() {
        // Examples from the spec: 80, 13,392 and 3,421,264 byte strings.
        let s80 = "x".repeat(80);
        assert_eq!(bytes(&Value::Str(&s80))[..2], [0b0101_1101, 0b0011_0011]);
        let s13392 = "x".repeat(13_392);
        assert_eq!(
            bytes(&Value::Str(&s13392))[..3],
            [0b0101_1110, 0b0011_0011, 0b0011_0011]
        );
        let s3421264 = "x".repeat(3_421_264);
        let encoded = bytes(&Value::Str(&s3421264));
        assert_eq!(encoded[..4], [0b0101_1111, 0x33, 0x33, 0x33]);
        assert_eq!(encoded.len(), 4 + 3_421_264);
        // Boundaries between the size forms.
        assert_eq!(bytes(&Value::Str(&"x".repeat(28)))[0], 0x40 | 28);
        assert_eq!(bytes(&Value::Str(&"x".repeat(29)))[..2], [0x40 | 29, 0]);
        assert_eq!(bytes(&Value::Str(&"x".repeat(284)))[..2], [0x40 | 29, 255]);
        assert_eq!(bytes(&Value::Str(&"x".repeat(285)))[..3], [0x40 | 30, 0, 0]);
        assert_eq!(
            bytes(&Value::Str(&"x".repeat(65_820)))[..3],
            [0x40 | 30, 255, 255]
        );
        assert_eq!(
            bytes(&Value::Str(&"x".repeat(65_821)))[..4],
            [0x40 | 31, 0, 0, 0]
        );
    }

    #[test]
    fn oversized_string_is_rejected() {
        let s = "x".repeat(MAX_PAYLOAD_SIZE + 1);
        let mut out = Vec::new();
        assert!(matches!(
            encode(&Value::Str(&s), &mut out),
            Err(MmdbError::TooLarge(_))
        ));
    }

    #[test]
    fn integers_drop_leading_zero_bytes() {
        assert_eq!(bytes(&Value::U16(0)), vec![0xA0]);
        assert_eq!(bytes(&Value::U16(2)), vec![0xA1, 2]);
        assert_eq!(bytes(&Value::U16(0x0102)), vec![0xA2, 1, 2]);
        assert_eq!(bytes(&Value::U32(0x0001_0000)), vec![0xC3, 1, 0, 0]);
        assert_eq!(bytes(&Value::U64(0)), vec![0x00, 0x02]);
        assert_eq!(
            bytes(&Value::U64(1_700_000_000)),
            vec![0x04, 0x02, 0x65, 0x53, 0xF1, 0x00]
        );
    }

    #[test]
    fn containers_count_entries() {
        let map = Value::Map(vec![("en", Value::Str("x"))]);
        assert_eq!(bytes(&map), vec![0xE1, 0x42, b'e', b'n', 0x41, b'x']);
        let array = Value::Array(vec![Value::Str("en")]);
        assert_eq!(bytes(&array), vec![0x01, 0x04, 0x42, b'e', b'n']);
    }
}
