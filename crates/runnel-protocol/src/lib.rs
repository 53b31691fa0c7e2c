//! The wire layer shared by every Runnel crate.
//!
//! Owns: reading and writing length-prefixed frames, the table of API versions Runnel
//! advertises, and a zero-copy view of a v2 record batch header. Everything else about
//! encoding and decoding messages belongs to the pinned `kafka-protocol` crate, which is
//! re-exported so that callers use exactly the version this crate was built against.

pub mod batch;
pub mod records;

pub use kafka_protocol;
pub mod frame;
pub mod versions;
