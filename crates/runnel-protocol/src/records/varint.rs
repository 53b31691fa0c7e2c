//! Zig-zag varints as Kafka's record format writes them, read from a slice or a stream.
//!
//! Mirrors Kafka's `ByteUtils.readVarint`/`readVarlong`: at most 5 (or 10) bytes, a
//! continuation bit on the last allowed byte is an error, and bits shifted past 32 (or 64)
//! are dropped rather than rejected.

use std::io::{self, BufRead};

const VARINT_MAX_BYTES: u32 = 5;
const VARLONG_MAX_BYTES: u32 = 10;
const CONTINUATION_BIT: u8 = 0x80;
const PAYLOAD_BITS: u8 = 0x7f;

/// Why a varint could not be read from a slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VarintError {
    /// The bytes ran out mid-varint.
    Underflow,
    TooLong,
}

/// A read position over a byte slice. Never indexes out of bounds.
#[derive(Clone)]
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Cursor<'a> {
    #[inline]
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, position: 0 }
    }

    #[inline]
    pub(crate) fn position(&self) -> usize {
        self.position
    }

    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.position
    }

    #[inline]
    pub(crate) fn read_u8(&mut self) -> Option<u8> {
        let byte = *self.bytes.get(self.position)?;
        self.position += 1;
        Some(byte)
    }

    /// The next `length` bytes, or `None` when fewer remain.
    #[inline]
    pub(crate) fn read_slice(&mut self, length: usize) -> Option<&'a [u8]> {
        let end = self.position.checked_add(length)?;
        let slice = self.bytes.get(self.position..end)?;
        self.position = end;
        Some(slice)
    }

    #[inline]
    pub(crate) fn read_varint(&mut self) -> Result<i32, VarintError> {
        let raw = self.read_unsigned(VARINT_MAX_BYTES)?;
        Ok(zigzag_i32(raw as u32))
    }

    #[inline]
    pub(crate) fn read_varlong(&mut self) -> Result<i64, VarintError> {
        let raw = self.read_unsigned(VARLONG_MAX_BYTES)?;
        Ok(zigzag_i64(raw))
    }

    #[inline]
    fn read_unsigned(&mut self, max_bytes: u32) -> Result<u64, VarintError> {
        // Small deltas, lengths and header counts are one byte; reading varints is most of
        // the per-record cost of validating a produce.
        if let Some(&byte) = self.bytes.get(self.position) {
            if byte & CONTINUATION_BIT == 0 {
                self.position += 1;
                return Ok(u64::from(byte));
            }
        }
        self.read_unsigned_multi_byte(max_bytes)
    }

    #[inline]
    fn read_unsigned_multi_byte(&mut self, max_bytes: u32) -> Result<u64, VarintError> {
        let mut value: u64 = 0;
        for index in 0..max_bytes {
            let byte = self.read_u8().ok_or(VarintError::Underflow)?;
            value |= u64::from(byte & PAYLOAD_BITS).wrapping_shl(7 * index);
            if byte & CONTINUATION_BIT == 0 {
                return Ok(value);
            }
        }
        Err(VarintError::TooLong)
    }
}

/// Why a varint could not be read from a stream.
#[derive(Debug)]
pub(crate) enum StreamVarintError {
    /// The stream ended before the first byte: a clean end.
    End,
    /// The stream ended mid-varint.
    Truncated,
    TooLong,
    Io(io::Error),
}

/// Reads one varint from a buffered stream, a byte at a time from its buffer; returns it
/// with the number of bytes it took.
pub(crate) fn read_stream_varint<R: BufRead>(reader: &mut R) -> Result<(i32, usize), StreamVarintError> {
    let mut value: u32 = 0;
    for index in 0..VARINT_MAX_BYTES {
        let byte = match read_stream_byte(reader).map_err(StreamVarintError::Io)? {
            Some(byte) => byte,
            None if index == 0 => return Err(StreamVarintError::End),
            None => return Err(StreamVarintError::Truncated),
        };
        value |= u32::from(byte & PAYLOAD_BITS).wrapping_shl(7 * index);
        if byte & CONTINUATION_BIT == 0 {
            return Ok((zigzag_i32(value), index as usize + 1));
        }
    }
    Err(StreamVarintError::TooLong)
}

/// The next byte of a buffered stream, `None` at its end.
pub(crate) fn read_stream_byte<R: BufRead>(reader: &mut R) -> io::Result<Option<u8>> {
    loop {
        match reader.fill_buf() {
            Ok(buffer) => {
                let Some(&byte) = buffer.first() else { return Ok(None) };
                reader.consume(1);
                return Ok(Some(byte));
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        }
    }
}

fn zigzag_i32(raw: u32) -> i32 {
    ((raw >> 1) as i32) ^ -((raw & 1) as i32)
}

fn zigzag_i64(raw: u64) -> i64 {
    ((raw >> 1) as i64) ^ -((raw & 1) as i64)
}

/// Appends `value` as a zigzag varlong, the encoding of every length and delta in a record.
pub fn put_varint(out: &mut Vec<u8>, value: i64) {
    let mut zigzag = ((value << 1) ^ (value >> 63)) as u64;
    while zigzag >= 0x80 {
        out.push((zigzag as u8) | 0x80);
        zigzag >>= 7;
    }
    out.push(zigzag as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(value: i64) -> Vec<u8> {
        let mut out = Vec::new();
        put_varint(&mut out, value);
        out
    }

    #[test]
    fn varints_round_trip_at_the_edges() {
        for value in [0, 1, -1, 63, -64, 64, i64::from(i32::MAX), i64::from(i32::MIN)] {
            let bytes = encode(value);
            assert_eq!(Cursor::new(&bytes).read_varint(), Ok(value as i32), "{value}");
            assert_eq!(read_stream_varint(&mut &bytes[..]).ok(), Some((value as i32, bytes.len())));
        }
        for value in [i64::MAX, i64::MIN, 0, -1, 1 << 40] {
            assert_eq!(Cursor::new(&encode(value)).read_varlong(), Ok(value));
        }
    }

    #[test]
    fn sixth_varint_byte_is_too_long() {
        let bytes = [0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(Cursor::new(&bytes).read_varint(), Err(VarintError::TooLong));
        assert!(matches!(read_stream_varint(&mut &bytes[..]), Err(StreamVarintError::TooLong)));
        let long = [0xffu8; 11];
        assert_eq!(Cursor::new(&long).read_varlong(), Err(VarintError::TooLong));
    }

    #[test]
    fn unfinished_varint_underflows() {
        assert_eq!(Cursor::new(&[0x80, 0x80]).read_varint(), Err(VarintError::Underflow));
        assert!(matches!(read_stream_varint(&mut &[0x80u8][..]), Err(StreamVarintError::Truncated)));
        assert!(matches!(read_stream_varint(&mut &[][..]), Err(StreamVarintError::End)));
    }
}
