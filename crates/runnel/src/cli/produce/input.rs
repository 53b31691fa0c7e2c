//! The lines `runnel produce` sends: read from stdin or `--file` on a thread of their own.
//!
//! Owns: reading lines with a bound on each line's length (a longer line is skipped and
//! reported, never held in memory whole), the input's size when it is a regular file (for
//! the progress bar), and whether it is a terminal (someone typing: no progress bar).
//! The reader is a plain thread rather than a runtime task: a read blocked on a terminal
//! must not keep the runtime from shutting down.

use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Read};
use std::os::fd::AsFd;
use std::path::Path;

use anyhow::Context;
use tokio::sync::mpsc;

use super::line::trim_terminator;

/// Lines read ahead of the producer.
const INPUT_QUEUE_LINES: usize = 1_024;
/// Read buffer of the input.
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// One thing the reader found.
#[derive(Debug)]
pub enum Item {
    /// A line, without its terminator. `number` counts from 1; `raw_len` includes the terminator.
    Line { number: u64, bytes: Vec<u8>, raw_len: u64 },
    /// A line longer than the bound; its bytes were skipped.
    TooLong { number: u64, raw_len: u64 },
    /// Reading failed; nothing follows.
    Failed(io::Error),
}

/// The input, being read.
pub struct Input {
    pub items: mpsc::Receiver<Item>,
    /// Size in bytes when the input is a regular file.
    pub total_bytes: Option<u64>,
    /// Whether the input is a terminal.
    pub interactive: bool,
}

/// Starts reading `file` (stdin when `None`); lines longer than `line_bytes_max` (without
/// their terminator) are reported as `TooLong`.
pub fn open(file: Option<&Path>, line_bytes_max: usize) -> anyhow::Result<Input> {
    let (sender, items) = mpsc::channel(INPUT_QUEUE_LINES);
    let (reader, total_bytes, interactive): (Box<dyn Read + Send>, Option<u64>, bool) = match file {
        Some(path) => {
            let opened = File::open(path).with_context(|| format!("opening {}", path.display()))?;
            let size = opened.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
            (Box::new(opened), size, false)
        }
        None => {
            let stdin = io::stdin();
            (Box::new(stdin), stdin_file_size(), io::stdin().is_terminal())
        }
    };
    std::thread::Builder::new()
        .name("produce-input".into())
        .spawn(move || read_all(BufReader::with_capacity(READ_BUFFER_BYTES, reader), line_bytes_max, &sender))
        .context("starting the input reader")?;
    Ok(Input { items, total_bytes, interactive })
}

/// The size of stdin when it is redirected from a regular file.
fn stdin_file_size() -> Option<u64> {
    let fd = io::stdin().as_fd().try_clone_to_owned().ok()?;
    let metadata = File::from(fd).metadata().ok()?;
    metadata.is_file().then_some(metadata.len())
}

fn read_all(mut reader: impl BufRead, line_bytes_max: usize, sender: &mpsc::Sender<Item>) {
    let mut number = 0u64;
    let mut buffer = Vec::new();
    loop {
        let item = match read_line(&mut reader, line_bytes_max, &mut buffer) {
            Ok(None) => return,
            Ok(Some(read)) => {
                number += 1;
                if read.too_long {
                    Item::TooLong { number, raw_len: read.raw_len }
                } else {
                    Item::Line { number, bytes: trim_terminator(&buffer).to_vec(), raw_len: read.raw_len }
                }
            }
            Err(error) => Item::Failed(error),
        };
        let failed = matches!(item, Item::Failed(_));
        // The receiver is gone when the command stopped early; nothing more to do.
        if sender.blocking_send(item).is_err() || failed {
            return;
        }
    }
}

struct LineRead {
    raw_len: u64,
    too_long: bool,
}

/// Reads one line into `buffer` (terminator included), keeping at most `line_bytes_max`
/// bytes of content plus `\r\n`. `None` at the end of the input.
fn read_line(reader: &mut impl BufRead, line_bytes_max: usize, buffer: &mut Vec<u8>) -> io::Result<Option<LineRead>> {
    buffer.clear();
    let mut raw_len = 0u64;
    let mut too_long = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        if available.is_empty() {
            return Ok((raw_len > 0).then_some(LineRead { raw_len, too_long }));
        }
        let (take, ends_line) = match available.iter().position(|&b| b == b'\n') {
            Some(at) => (at + 1, true),
            None => (available.len(), false),
        };
        if !too_long {
            if buffer.len() + take > line_bytes_max.saturating_add(2) {
                too_long = true;
                buffer.clear();
            } else {
                buffer.extend_from_slice(&available[..take]);
            }
        }
        reader.consume(take);
        raw_len += take as u64;
        if ends_line {
            // Only a terminator may use the two spare bytes.
            if !too_long && trim_terminator(buffer).len() > line_bytes_max {
                too_long = true;
                buffer.clear();
            }
            return Ok(Some(LineRead { raw_len, too_long }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<(Vec<u8>, u64, bool)> {
        let mut reader = BufReader::with_capacity(4, input);
        let mut buffer = Vec::new();
        let mut out = Vec::new();
        while let Some(read) = read_line(&mut reader, max, &mut buffer).unwrap() {
            out.push((trim_terminator(&buffer).to_vec(), read.raw_len, read.too_long));
        }
        out
    }

    #[test]
    fn lines_split_at_newlines_with_or_without_a_final_one() {
        let got = lines(b"a\r\nbb\n\nccc", 100);
        assert_eq!(
            got,
            vec![
                (b"a".to_vec(), 3, false),
                (b"bb".to_vec(), 3, false),
                (b"".to_vec(), 1, false),
                (b"ccc".to_vec(), 3, false)
            ]
        );
        assert!(lines(b"", 100).is_empty());
    }

    #[test]
    fn overlong_lines_are_flagged_and_skipped_whole() {
        let got = lines(b"12345\n123456789\nab\n", 5);
        assert_eq!(got, vec![(b"12345".to_vec(), 6, false), (vec![], 10, true), (b"ab".to_vec(), 3, false)]);
        // The bound is on the content: "12345\r\n" fits, "123456\n" does not.
        let got = lines(b"12345\r\n123456\n", 5);
        assert_eq!(got, vec![(b"12345".to_vec(), 7, false), (vec![], 7, true)]);
    }

    #[tokio::test]
    async fn the_reader_thread_numbers_lines_and_ends() {
        let (sender, mut items) = mpsc::channel(2);
        let thread = std::thread::spawn(move || read_all(BufReader::new(&b"x\nyy\n"[..]), 10, &sender));
        let mut seen = Vec::new();
        while let Some(item) = items.recv().await {
            match item {
                Item::Line { number, bytes, raw_len } => seen.push((number, bytes, raw_len)),
                other => panic!("unexpected {other:?}"),
            }
        }
        thread.join().unwrap();
        assert_eq!(seen, vec![(1, b"x".to_vec(), 2), (2, b"yy".to_vec(), 3)]);
    }
}
