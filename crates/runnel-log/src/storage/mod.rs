//! The file-system surface the log uses, and nothing more (redb style): a [`Storage`] that
//! names, creates, renames and removes files in directories, and a [`StorageFile`] with
//! positional reads and writes, truncation and sync.
//!
//! Implementations:
//! - [`FileStorage`]: `std::fs`, positional IO (`pread`/`pwrite`), so reads go through `&self`
//!   while the caller serialises writers with its own lock; it starts the writeback of each
//!   MiB as writes complete it, so dirty pages never pile up into stalls;
//! - [`MemStorage`]: in memory, for tests; it models what a crash loses (data never synced,
//!   directory entries never made durable with [`Storage::sync_dir`]);
//! - [`FaultStorage`]: wraps another storage and injects failed writes, torn writes, failed
//!   syncs and a "halt" (the process dies: every later call fails), all on a deterministic plan.
//!
//! Contract every implementation keeps: `write_all_at` either writes all bytes or returns an
//! error (after which the file may hold any prefix of them: callers roll back with
//! `truncate`); `sync` makes the file's current contents durable; `sync_dir` makes the
//! directory's current set of names durable (creations, renames and removals). A
//! [`FileSync`] from [`StorageFile::sync_handle`] syncs the same file without borrowing it,
//! so group commit can run the slow fdatasync while appends carry on under the log's lock;
//! it makes durable at least what the file held when its `sync` began.

mod fault;
mod file;
mod mem;

pub use fault::{FaultPlan, FaultStorage};
pub use file::FileStorage;
pub(crate) use file::pread_append;
pub use mem::MemStorage;

use std::io;
use std::path::Path;

/// Directory-level operations. Paths are absolute or relative to the process, as given.
pub trait Storage: Send + Sync + std::fmt::Debug {
    /// Creates `path` and its missing parents; succeeds if it already exists.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Names (not paths) of the entries directly inside `path`, in no particular order.
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>>;
    /// Opens a file for reading and writing; creates it (empty) when absent and `create` is
    /// set, else fails with [`io::ErrorKind::NotFound`].
    fn open_file(&self, path: &Path, create: bool) -> io::Result<Box<dyn StorageFile>>;
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Atomically replaces `to` with `from` (POSIX `rename`).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    fn remove_dir_all(&self, path: &Path) -> io::Result<()>;
    fn exists(&self, path: &Path) -> io::Result<bool>;
    /// Makes the directory's entries durable (fsync on the directory).
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
}

/// One open file. Reads take `&self` so they can run while the owner holds a read lock.
pub trait StorageFile: Send + Sync + std::fmt::Debug {
    fn len(&self) -> io::Result<u64>;
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
    /// Reads up to `buf.len()` bytes at `offset`; returns how many were read (0 at the end).
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    /// Writes all of `buf` at `offset`, extending the file as needed.
    fn write_all_at(&mut self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// Writes `bufs` back to back from `offset` as one write: a fault injected on a write
    /// covers all of them. Implementations that can hand the kernel several buffers at once
    /// override this to skip joining them into one first.
    fn write_all_vectored_at(&mut self, bufs: &[&[u8]], offset: u64) -> io::Result<()> {
        self.write_all_at(&bufs.concat(), offset)
    }
    /// Sets the file's length, dropping or zero-extending its tail.
    fn truncate(&mut self, len: u64) -> io::Result<()>;
    /// Makes the file's contents durable (fdatasync).
    fn sync(&mut self) -> io::Result<()>;
    /// A handle that syncs this file from another thread, without `&mut` access to it.
    fn sync_handle(&self) -> Box<dyn FileSync>;

    /// The open file itself, for a reader that sends its bytes straight from the page cache
    /// (`sendfile`); `None` when there is no such file (in memory) or reads must go through
    /// this implementation (fault injection).
    fn shared_file(&self) -> Option<std::sync::Arc<std::fs::File>> {
        None
    }

    /// Appends `len` bytes read from `offset` to `out`, or fails with
    /// [`io::ErrorKind::UnexpectedEof`] leaving `out` as it was. Implementations that can
    /// read into uninitialised memory override this to skip zero-filling the buffer first.
    fn read_exact_append(&self, out: &mut Vec<u8>, len: usize, offset: u64) -> io::Result<()> {
        let start = out.len();
        out.resize(start + len, 0);
        let result = self.read_exact_at(&mut out[start..], offset);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// Fills `buf` from `offset` or fails with [`io::ErrorKind::UnexpectedEof`].
    fn read_exact_at(&self, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read_at(buf, offset) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("file ends before offset {}", offset + buf.len() as u64),
                    ))
                }
                Ok(n) => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Syncs one file (see [`StorageFile::sync_handle`]).
pub trait FileSync: Send + Sync + std::fmt::Debug {
    /// Makes durable at least the contents the file had when this call began (fdatasync).
    fn sync(&self) -> io::Result<()>;
}

/// The error a full disk gives (ENOSPC on Linux), used by the fault injector.
pub(crate) fn no_space_error() -> io::Error {
    io::Error::new(io::ErrorKind::StorageFull, "no space left on device (injected)")
}
