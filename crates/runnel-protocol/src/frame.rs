//! Request frames: the 4-byte size prefix, the request header, and response framing.
//!
//! A frame is `size:i32` followed by `size` bytes. Reading enforces the configured
//! `socket.request.max.bytes` before allocating anything, so a hostile size costs nothing.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, FetchResponse, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable};
use thiserror::Error;

use crate::fetch_response::{External, Splice};

/// Bytes of the size prefix in front of every frame.
pub const FRAME_SIZE_PREFIX_BYTES: usize = 4;

/// Why a frame or request header could not be read.
#[derive(Debug, Error)]
pub enum FrameError {
    #[error("frame of {size} bytes exceeds socket.request.max.bytes={max_bytes}")]
    TooLarge { size: i64, max_bytes: usize },
    #[error("frame has a negative size {0}")]
    NegativeSize(i32),
    #[error("frame of {0} bytes is too short for a request header")]
    TooShort(usize),
    #[error("unknown API key {0}")]
    UnknownApiKey(i16),
    #[error("cannot encode response: {0}")]
    Encode(String),
    #[error("malformed request header for {api_key:?} v{api_version}: {reason}")]
    MalformedHeader { api_key: ApiKey, api_version: i16, reason: String },
}

/// Checks a frame's declared size against the limit, before its body is read.
pub fn check_frame_size(size: i32, max_bytes: usize) -> Result<usize, FrameError> {
    if size < 0 {
        return Err(FrameError::NegativeSize(size));
    }
    let size = size as usize;
    if size > max_bytes {
        return Err(FrameError::TooLarge { size: size as i64, max_bytes });
    }
    Ok(size)
}

/// The fixed fields every request header starts with, readable for any version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestPreamble {
    pub api_key: i16,
    pub api_version: i16,
    pub correlation_id: i32,
}

/// Reads the api key, version and correlation id at the start of a frame body.
pub fn peek_preamble(body: &[u8]) -> Result<RequestPreamble, FrameError> {
    if body.len() < 8 {
        return Err(FrameError::TooShort(body.len()));
    }
    Ok(RequestPreamble {
        api_key: i16::from_be_bytes([body[0], body[1]]),
        api_version: i16::from_be_bytes([body[2], body[3]]),
        correlation_id: i32::from_be_bytes([body[4], body[5], body[6], body[7]]),
    })
}

/// Decodes the full request header of a known API, leaving `body` at the request message.
pub fn decode_request_header(api_key: ApiKey, api_version: i16, body: &mut Bytes) -> Result<RequestHeader, FrameError> {
    let header_version = api_key.request_header_version(api_version);
    RequestHeader::decode(body, header_version).map_err(|error| FrameError::MalformedHeader {
        api_key,
        api_version,
        reason: error.to_string(),
    })
}

/// Appends a complete response frame to `out`: size prefix, response header, then
/// whatever `encode_body` writes. On failure `out` is left as it was.
pub fn write_response<E: std::fmt::Display>(
    out: &mut BytesMut,
    correlation_id: i32,
    header_version: i16,
    encode_body: impl FnOnce(&mut BytesMut) -> Result<(), E>,
) -> Result<(), FrameError> {
    write_frame(out, correlation_id, header_version, |buf| encode_body(buf).map(|()| 0))
}

/// [`write_response`] for a fetch response whose large record sets, and `externals`, stay
/// out of `out`: they are pushed to `splices` (see [`crate::fetch_response`]) and counted in
/// the size prefix.
pub fn write_fetch_response(
    out: &mut BytesMut,
    correlation_id: i32,
    header_version: i16,
    response: &FetchResponse,
    version: i16,
    externals: &[External],
    splices: &mut Vec<Splice>,
) -> Result<(), FrameError> {
    let spliced_before = splices.len();
    let written = write_frame(out, correlation_id, header_version, |buf| {
        crate::fetch_response::encode_spliced(buf, response, version, externals, splices)
    });
    if written.is_err() {
        splices.truncate(spliced_before);
    }
    written
}

/// Writes the size prefix and header, then the body; `encode_body` returns how many body
/// bytes it left out of `out` (spliced in when written).
fn write_frame<E: std::fmt::Display>(
    out: &mut BytesMut,
    correlation_id: i32,
    header_version: i16,
    encode_body: impl FnOnce(&mut BytesMut) -> Result<usize, E>,
) -> Result<(), FrameError> {
    let start = out.len();
    out.put_i32(0);
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    if let Err(error) = header.encode(out, header_version) {
        out.truncate(start);
        return Err(FrameError::Encode(error.to_string()));
    }
    let spliced_bytes = match encode_body(out) {
        Ok(spliced_bytes) => spliced_bytes,
        Err(error) => {
            out.truncate(start);
            return Err(FrameError::Encode(error.to_string()));
        }
    };
    let size = out.len() - start - FRAME_SIZE_PREFIX_BYTES + spliced_bytes;
    let Ok(size) = i32::try_from(size) else {
        out.truncate(start);
        return Err(FrameError::Encode(format!("response of {size} bytes does not fit a frame")));
    };
    out[start..start + FRAME_SIZE_PREFIX_BYTES].copy_from_slice(&size.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spliced_fetch_frame_counts_its_spliced_records_in_the_size_prefix() {
        use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
        let records = Bytes::from(vec![7u8; 3 * crate::fetch_response::SPLICE_BYTES_MIN]);
        let response = FetchResponse::default().with_responses(vec![FetchableTopicResponse::default()
            .with_partitions(vec![PartitionData::default().with_records(Some(records.clone()))])]);
        let (mut out, mut splices) = (BytesMut::new(), Vec::new());
        write_fetch_response(&mut out, 42, 1, &response, 12, &[], &mut splices).unwrap();
        assert_eq!(splices.len(), 1);
        let frame = crate::fetch_response::flatten(&out, &splices, |_| unreachable!());
        let size = i32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
        assert_eq!(size, frame.len() - FRAME_SIZE_PREFIX_BYTES);
        assert_eq!(out.len() + records.len(), frame.len());
        let mut inline = BytesMut::new();
        write_response(&mut inline, 42, 1, |buf| response.encode(buf, 12)).unwrap();
        assert_eq!(frame, inline.to_vec(), "the same frame as kafka-protocol's, records in place");
    }

    #[test]
    fn oversized_and_negative_frames_are_rejected_before_allocation() {
        assert!(matches!(check_frame_size(101, 100), Err(FrameError::TooLarge { .. })));
        assert!(matches!(check_frame_size(-1, 100), Err(FrameError::NegativeSize(-1))));
        assert_eq!(check_frame_size(100, 100).unwrap(), 100);
    }

    #[test]
    fn preamble_needs_eight_bytes() {
        assert!(peek_preamble(&[0; 7]).is_err());
        let p = peek_preamble(&[0, 18, 0, 3, 0, 0, 0, 9]).unwrap();
        assert_eq!((p.api_key, p.api_version, p.correlation_id), (18, 3, 9));
    }
}

#[cfg(test)]
mod codec_bounds {
    use bytes::{BufMut, Bytes, BytesMut};
    use kafka_protocol::messages::MetadataRequest;
    use kafka_protocol::protocol::Decodable;

    /// Guards the vendored codec patch: an array length claim must not reserve memory for
    /// elements the frame cannot contain (unpatched, this aborts on a 154 GB allocation).
    #[test]
    fn huge_array_length_claim_does_not_allocate() {
        let mut body = BytesMut::new();
        body.put_i32(i32::MAX); // topics: 2^31 - 1 elements claimed
        body.put_slice(&[0; 16]);
        let result = MetadataRequest::decode(&mut Bytes::from(body), 1);
        assert!(result.is_err());
    }
}
