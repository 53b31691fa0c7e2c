//! The wire layer shared by every Runnel crate.
//!
//! Owns: reading and writing length-prefixed frames, the table of API versions Runnel
//! advertises, a zero-copy view of a v2 record batch header, and fetch responses encoded
//! without copying their records. Everything else about
//! encoding and decoding messages belongs to the pinned `kafka-protocol` crate, which is
//! re-exported so that callers use exactly the version this crate was built against.

pub mod batch;
pub mod fetch_response;
pub mod records;

pub use kafka_protocol;
pub mod frame;
pub mod versions;
