//! Writes a fetch response whose record sets stay in the log's files, on plain TCP.
//!
//! The parts in memory (the response's fields, small record sets) go with
//! `sendmsg(MSG_MORE)`, so the kernel holds them for the file bytes that follow instead of
//! sending a small segment on a `TCP_NODELAY` socket; each file slice goes with `sendfile`,
//! which hands page-cache pages to the socket: the record bytes are never copied through
//! the broker's memory (two copies per byte before: `pread`, then the socket write).
//!
//! A slice whose file ends early (a truncation under it) fails the write: the frame's size
//! was already sent, so the only safe answer is to close the connection.
//!
//! All of the crate's `unsafe` for sockets is here: the two syscalls, each on descriptors
//! borrowed for the length of the call.

use std::io::{self, IoSlice};
use std::os::fd::AsRawFd;

use runnel_log::FileSlice;
use runnel_protocol::fetch_response::WirePart;
use tokio::io::Interest;
use tokio::net::TcpStream;

/// Buffers one `sendmsg` hands the kernel at most (Linux takes up to 1024).
pub const WRITE_SLICES_MAX: usize = 512;
/// The most one `sendfile` call is asked to move: Linux moves at most about 2 GiB a call.
const SENDFILE_BYTES_MAX: usize = 1 << 30;

/// Sends `parts` in order, `files[index]` supplying the bytes of each external part.
pub async fn write_parts(stream: &TcpStream, parts: &[WirePart<'_>], files: &[&[FileSlice]]) -> io::Result<()> {
    let mut at = 0;
    while at < parts.len() {
        if let WirePart::External(index) = parts[at] {
            let slices = files.get(index).ok_or_else(|| io::Error::other(format!("no file record set {index}")))?;
            for slice in slices.iter() {
                send_slice(stream, slice).await?;
            }
            at += 1;
            continue;
        }
        let run_end = parts[at..].iter().position(|part| matches!(part, WirePart::External(_))).map_or(parts.len(), |n| at + n);
        let mut slices: Vec<IoSlice<'_>> = parts[at..run_end]
            .iter()
            .map(|part| match part {
                WirePart::Bytes(bytes) => IoSlice::new(bytes),
                WirePart::External(_) => unreachable!("the run ends before the next external part"),
            })
            .collect();
        send_vectored(stream, &mut slices, run_end < parts.len()).await?;
        at = run_end;
    }
    Ok(())
}

/// Sends every byte of `slices`; with `more`, tells the kernel more data follows.
async fn send_vectored(stream: &TcpStream, mut slices: &mut [IoSlice<'_>], more: bool) -> io::Result<()> {
    let flags = libc::MSG_NOSIGNAL | if more { libc::MSG_MORE } else { 0 };
    while !slices.is_empty() {
        let batch = &slices[..slices.len().min(WRITE_SLICES_MAX)];
        let written = when_writable(stream, || {
            // SAFETY: a zeroed msghdr is valid (no name, no control data); its iovec array is
            // `batch`, IoSlice being ABI-compatible with iovec, alive for the call.
            let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
            message.msg_iov = batch.as_ptr() as *mut libc::iovec;
            message.msg_iovlen = batch.len();
            let sent = unsafe { libc::sendmsg(stream.as_raw_fd(), &message, flags) };
            usize::try_from(sent).map_err(|_| io::Error::last_os_error())
        })
        .await?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut slices, written);
    }
    Ok(())
}

/// Sends the bytes of one file slice with `sendfile`.
async fn send_slice(stream: &TcpStream, slice: &FileSlice) -> io::Result<()> {
    let too_far = || io::Error::new(io::ErrorKind::InvalidInput, "file slice beyond off_t");
    let mut offset = libc::off_t::try_from(slice.position()).map_err(|_| too_far())?;
    let end = offset.checked_add(libc::off_t::try_from(slice.len()).map_err(|_| too_far())?).ok_or_else(too_far)?;
    while offset < end {
        let count = usize::try_from(end - offset).unwrap_or(usize::MAX).min(SENDFILE_BYTES_MAX);
        let sent = when_writable(stream, || {
            // SAFETY: both descriptors are open for the call (the stream and the slice's file
            // are borrowed); the kernel advances `offset` by what it sent.
            let sent = unsafe { libc::sendfile(stream.as_raw_fd(), slice.file().as_raw_fd(), &mut offset, count) };
            usize::try_from(sent).map_err(|_| io::Error::last_os_error())
        })
        .await?;
        if sent == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("log file ends at {offset}, inside a fetched record set that runs to {end}"),
            ));
        }
    }
    Ok(())
}

/// Runs a non-blocking write once the socket is writable, again each time it would block.
async fn when_writable(stream: &TcpStream, mut write: impl FnMut() -> io::Result<usize>) -> io::Result<usize> {
    loop {
        stream.writable().await?;
        match stream.try_io(Interest::WRITABLE, &mut write) {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            result => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Arc;

    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    use super::*;

    /// A connected pair of loopback sockets: (writer, reader).
    async fn socket_pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let writer = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (reader, _) = listener.accept().await.unwrap();
        (writer, reader)
    }

    fn file_with(bytes: &[u8]) -> Arc<std::fs::File> {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(bytes).unwrap();
        Arc::new(file)
    }

    #[tokio::test]
    async fn parts_and_file_slices_arrive_in_order_byte_for_byte() {
        let contents: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
        let file = file_with(&contents);
        let first = [FileSlice::new(file.clone(), 10, 2_000_000), FileSlice::new(file.clone(), 0, 5)];
        let second = [FileSlice::new(file, 2_500_000, 500_000)];
        let parts = [
            WirePart::Bytes(b"head"),
            WirePart::External(0),
            WirePart::Bytes(b"mid"),
            WirePart::Bytes(b"dle"),
            WirePart::External(1),
            WirePart::Bytes(b"tail"),
        ];
        let mut expected = b"head".to_vec();
        expected.extend_from_slice(&contents[10..2_000_010]);
        expected.extend_from_slice(&contents[..5]);
        expected.extend_from_slice(b"middle");
        expected.extend_from_slice(&contents[2_500_000..]);
        expected.extend_from_slice(b"tail");
        let (writer, mut reader) = socket_pair().await;
        // The reader drains concurrently: the file bytes are far more than a socket buffer.
        let read = tokio::spawn(async move {
            let mut received = Vec::new();
            reader.read_to_end(&mut received).await.unwrap();
            received
        });
        write_parts(&writer, &parts, &[&first, &second]).await.unwrap();
        drop(writer);
        assert_eq!(read.await.unwrap(), expected);
    }

    #[tokio::test]
    async fn a_file_shorter_than_its_slice_fails_the_write() {
        let file = file_with(&[7u8; 100]);
        let slices = [FileSlice::new(file, 50, 80)];
        let (writer, _reader) = socket_pair().await;
        let error = write_parts(&writer, &[WirePart::External(0)], &[&slices]).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof, "{error}");
    }

    #[tokio::test]
    async fn an_external_part_without_its_files_is_an_error_not_a_panic() {
        let (writer, _reader) = socket_pair().await;
        assert!(write_parts(&writer, &[WirePart::External(3)], &[]).await.is_err());
    }
}
