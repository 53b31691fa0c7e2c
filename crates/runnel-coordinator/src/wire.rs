//! Kafka's primitive encodings for the `__consumer_offsets` record schemas: big-endian
//! integers, int16-length strings, int32-length bytes and arrays, and for flexible versions
//! the compact (varint) forms with tagged fields. Reading is bounded by the input: no length
//! read from a record allocates more than the bytes that remain.

use bytes::Bytes;

use crate::error::CoordinatorError;

/// Appends Kafka primitives to a buffer.
#[derive(Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn finish(self) -> Vec<u8> {
        self.buf
    }

    pub fn i16(&mut self, v: i16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// A non-nullable string. Lengths beyond `i16::MAX` cannot come from Kafka requests (their
    /// own strings are int16-length), so they are clamped rather than panicking.
    pub fn string(&mut self, s: &str) {
        let bytes = clamp(s.as_bytes(), i16::MAX as usize);
        self.i16(bytes.len() as i16);
        self.buf.extend_from_slice(bytes);
    }

    pub fn nullable_string(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.string(s),
            None => self.i16(-1),
        }
    }

    pub fn bytes(&mut self, b: &[u8]) {
        let b = clamp(b, i32::MAX as usize);
        self.i32(b.len() as i32);
        self.buf.extend_from_slice(b);
    }

    pub fn array_len(&mut self, len: usize) {
        self.i32(i32::try_from(len).unwrap_or(i32::MAX));
    }
}

fn clamp(b: &[u8], max: usize) -> &[u8] {
    &b[..b.len().min(max)]
}

/// Reads Kafka primitives from a record's key or value.
#[derive(Debug)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    fn take(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], CoordinatorError> {
        if self.rest.len() < len {
            return Err(CoordinatorError::Truncated { what });
        }
        let (head, tail) = self.rest.split_at(len);
        self.rest = tail;
        Ok(head)
    }

    pub fn i16(&mut self, what: &'static str) -> Result<i16, CoordinatorError> {
        let b = self.take(2, what)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    pub fn i32(&mut self, what: &'static str) -> Result<i32, CoordinatorError> {
        let b = self.take(4, what)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn i64(&mut self, what: &'static str) -> Result<i64, CoordinatorError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    fn utf8(&mut self, len: usize, what: &'static str) -> Result<String, CoordinatorError> {
        let b = self.take(len, what)?;
        std::str::from_utf8(b).map(str::to_owned).map_err(|_| CoordinatorError::InvalidUtf8 { what })
    }

    pub fn nullable_string(&mut self, what: &'static str) -> Result<Option<String>, CoordinatorError> {
        let len = self.i16(what)?;
        if len < 0 {
            return Ok(None);
        }
        self.utf8(len as usize, what).map(Some)
    }

    pub fn string(&mut self, what: &'static str) -> Result<String, CoordinatorError> {
        let len = self.i16(what)?;
        if len < 0 {
            return Err(CoordinatorError::InvalidLength { what, length: i64::from(len) });
        }
        self.utf8(len as usize, what)
    }

    pub fn bytes(&mut self, what: &'static str) -> Result<Bytes, CoordinatorError> {
        let len = self.i32(what)?;
        if len < 0 {
            return Err(CoordinatorError::InvalidLength { what, length: i64::from(len) });
        }
        Ok(Bytes::copy_from_slice(self.take(len as usize, what)?))
    }

    /// A non-nullable array's element count, bounded by the bytes left (every element of the
    /// schemas read here takes at least `min_element_bytes`).
    pub fn array_len(
        &mut self,
        what: &'static str,
        min_element_bytes: usize,
    ) -> Result<usize, CoordinatorError> {
        let len = self.i32(what)?;
        self.checked_count(i64::from(len), what, min_element_bytes)
    }

    fn checked_count(
        &self,
        len: i64,
        what: &'static str,
        min_element_bytes: usize,
    ) -> Result<usize, CoordinatorError> {
        let count =
            usize::try_from(len).map_err(|_| CoordinatorError::InvalidLength { what, length: len })?;
        if count.saturating_mul(min_element_bytes.max(1)) > self.rest.len() {
            return Err(CoordinatorError::Truncated { what });
        }
        Ok(count)
    }

    pub fn unsigned_varint(&mut self, what: &'static str) -> Result<u32, CoordinatorError> {
        let mut value: u32 = 0;
        for shift in (0..35).step_by(7) {
            let byte = self.take(1, what)?[0];
            value |= u32::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(CoordinatorError::InvalidLength { what, length: i64::from(value) })
    }

    pub fn compact_nullable_string(
        &mut self,
        what: &'static str,
    ) -> Result<Option<String>, CoordinatorError> {
        let len = self.unsigned_varint(what)?;
        if len == 0 {
            return Ok(None);
        }
        self.utf8((len - 1) as usize, what).map(Some)
    }

    pub fn compact_string(&mut self, what: &'static str) -> Result<String, CoordinatorError> {
        self.compact_nullable_string(what)?.ok_or(CoordinatorError::InvalidLength { what, length: -1 })
    }

    pub fn compact_bytes(&mut self, what: &'static str) -> Result<Bytes, CoordinatorError> {
        let len = self.unsigned_varint(what)?;
        if len == 0 {
            return Err(CoordinatorError::InvalidLength { what, length: -1 });
        }
        Ok(Bytes::copy_from_slice(self.take((len - 1) as usize, what)?))
    }

    pub fn compact_array_len(
        &mut self,
        what: &'static str,
        min_element_bytes: usize,
    ) -> Result<usize, CoordinatorError> {
        let len = self.unsigned_varint(what)?;
        if len == 0 {
            return Err(CoordinatorError::InvalidLength { what, length: -1 });
        }
        self.checked_count(i64::from(len) - 1, what, min_element_bytes)
    }

    /// Skips a tagged-field section: none of the fields these schemas know are tagged.
    pub fn skip_tagged_fields(&mut self, what: &'static str) -> Result<(), CoordinatorError> {
        let count = self.unsigned_varint(what)?;
        for _ in 0..count {
            let _tag = self.unsigned_varint(what)?;
            let size = self.unsigned_varint(what)?;
            self.take(size as usize, what)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_primitives_round_trip() {
        let mut w = Writer::new();
        w.i16(-2);
        w.string("ab");
        w.nullable_string(None);
        w.bytes(&[1, 2]);
        w.i64(7);
        let bytes = w.finish();
        assert_eq!(
            bytes,
            [0xff, 0xfe, 0, 2, b'a', b'b', 0xff, 0xff, 0, 0, 0, 2, 1, 2, 0, 0, 0, 0, 0, 0, 0, 7]
        );
        let mut r = Reader::new(&bytes);
        assert_eq!(r.i16("x").unwrap(), -2);
        assert_eq!(r.string("x").unwrap(), "ab");
        assert_eq!(r.nullable_string("x").unwrap(), None);
        assert_eq!(&r.bytes("x").unwrap()[..], [1, 2]);
        assert_eq!(r.i64("x").unwrap(), 7);
        assert_eq!(r.i16("x"), Err(CoordinatorError::Truncated { what: "x" }));
    }

    #[test]
    fn compact_primitives_and_tagged_fields() {
        // "ab" (len+1 = 3), null string (0), bytes [9] (len+1 = 2), 2 tagged fields.
        let bytes = [3, b'a', b'b', 0, 2, 9, 2, 0, 1, 0xaa, 1, 0];
        let mut r = Reader::new(&bytes);
        assert_eq!(r.compact_string("x").unwrap(), "ab");
        assert_eq!(r.compact_nullable_string("x").unwrap(), None);
        assert_eq!(&r.compact_bytes("x").unwrap()[..], [9]);
        r.skip_tagged_fields("x").unwrap();
        assert!(r.i16("x").is_err());
    }

    #[test]
    fn hostile_lengths_fail_without_allocating() {
        let mut r = Reader::new(&[0x7f, 0xff, 0xff, 0xff]);
        assert_eq!(r.array_len("arr", 1), Err(CoordinatorError::Truncated { what: "arr" }));
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(r.unsigned_varint("v").is_ok());
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
        assert!(r.unsigned_varint("v").is_err());
        let mut r = Reader::new(&[0x80, 0x80, 0x80, 0x80, 0x08]);
        assert_eq!(r.compact_array_len("arr", 4), Err(CoordinatorError::Truncated { what: "arr" }));
    }
}
