//! [`MemStorage`]: an in-memory file system for tests that models what a power loss keeps.
//!
//! Each file (inode) has its current bytes and the bytes as of its last `sync`. The
//! directory tree has a live namespace and a durable one; `sync_dir` copies a directory's live
//! entries into the durable namespace. [`MemStorage::crash`] then throws away everything not
//! made durable: the namespace reverts to the durable one and every file to its synced bytes.
//! Directories themselves are durable as soon as they are created or removed (the log only
//! creates its own directory once, before anything in it matters).

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use super::{FileSync, Storage, StorageFile};

#[derive(Debug, Default)]
struct Inode {
    data: Vec<u8>,
    synced: Vec<u8>,
}

type InodeRef = Arc<Mutex<Inode>>;

#[derive(Debug, Default)]
struct MemState {
    live: BTreeMap<PathBuf, InodeRef>,
    durable: BTreeMap<PathBuf, InodeRef>,
    dirs: BTreeSet<PathBuf>,
}

/// In-memory storage; clones share the same file system.
#[derive(Debug, Default, Clone)]
pub struct MemStorage {
    state: Arc<Mutex<MemState>>,
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{} does not exist", path.display()))
}

impl MemStorage {
    pub fn new() -> Self {
        Self::default()
    }

    /// Simulates a power loss: every file reverts to its last synced contents and every
    /// directory to its last synced set of names. Handles opened before stay usable but
    /// should be dropped, as a restarted process would.
    pub fn crash(&self) {
        let mut state = self.state.lock();
        state.live = state.durable.clone();
        for inode in state.live.values() {
            let mut inode = inode.lock();
            inode.data = inode.synced.clone();
        }
    }

    /// The current (not necessarily durable) bytes of a file, for test inspection.
    pub fn file_bytes(&self, path: &Path) -> Option<Vec<u8>> {
        self.state.lock().live.get(path).map(|inode| inode.lock().data.clone())
    }
}

impl Storage for MemStorage {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut state = self.state.lock();
        let mut current = Some(path);
        while let Some(dir) = current {
            if dir.as_os_str().is_empty() {
                break;
            }
            state.dirs.insert(dir.to_path_buf());
            current = dir.parent();
        }
        Ok(())
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let state = self.state.lock();
        if !state.dirs.contains(path) {
            return Err(not_found(path));
        }
        let files = state.live.keys();
        let dirs = state.dirs.iter();
        Ok(files
            .chain(dirs)
            .filter(|entry| entry.parent() == Some(path))
            .filter_map(|entry| entry.file_name().and_then(|name| name.to_str()).map(str::to_owned))
            .collect())
    }

    fn open_file(&self, path: &Path, create: bool) -> io::Result<Box<dyn StorageFile>> {
        let mut state = self.state.lock();
        if let Some(inode) = state.live.get(path) {
            return Ok(Box::new(MemFile { inode: inode.clone() }));
        }
        let parent_exists = path.parent().is_some_and(|parent| state.dirs.contains(parent));
        if !create || !parent_exists {
            return Err(not_found(path));
        }
        let inode = InodeRef::default();
        state.live.insert(path.to_path_buf(), inode.clone());
        Ok(Box::new(MemFile { inode }))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.state.lock().live.remove(path).map(|_| ()).ok_or_else(|| not_found(path))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut state = self.state.lock();
        let inode = state.live.remove(from).ok_or_else(|| not_found(from))?;
        state.live.insert(to.to_path_buf(), inode);
        Ok(())
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut state = self.state.lock();
        if !state.dirs.contains(path) {
            return Err(not_found(path));
        }
        state.dirs.retain(|dir| !dir.starts_with(path));
        state.live.retain(|file, _| !file.starts_with(path));
        state.durable.retain(|file, _| !file.starts_with(path));
        Ok(())
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        let state = self.state.lock();
        Ok(state.live.contains_key(path) || state.dirs.contains(path))
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        let mut state = self.state.lock();
        if !state.dirs.contains(path) {
            return Err(not_found(path));
        }
        state.durable.retain(|file, _| file.parent() != Some(path));
        let entries: Vec<(PathBuf, InodeRef)> = state
            .live
            .iter()
            .filter(|(file, _)| file.parent() == Some(path))
            .map(|(file, inode)| (file.clone(), inode.clone()))
            .collect();
        state.durable.extend(entries);
        Ok(())
    }
}

#[derive(Debug)]
struct MemFile {
    inode: InodeRef,
}

impl StorageFile for MemFile {
    fn len(&self) -> io::Result<u64> {
        Ok(self.inode.lock().data.len() as u64)
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let inode = self.inode.lock();
        let Ok(start) = usize::try_from(offset) else { return Ok(0) };
        if start >= inode.data.len() {
            return Ok(0);
        }
        let n = buf.len().min(inode.data.len() - start);
        buf[..n].copy_from_slice(&inode.data[start..start + n]);
        Ok(n)
    }

    fn write_all_at(&mut self, buf: &[u8], offset: u64) -> io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| io::Error::other("offset beyond memory"))?;
        let end = start + buf.len();
        let mut inode = self.inode.lock();
        if inode.data.len() < end {
            inode.data.resize(end, 0);
        }
        inode.data[start..end].copy_from_slice(buf);
        Ok(())
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        let len = usize::try_from(len).map_err(|_| io::Error::other("length beyond memory"))?;
        self.inode.lock().data.resize(len, 0);
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        sync_inode(&self.inode);
        Ok(())
    }

    fn sync_handle(&self) -> Box<dyn FileSync> {
        Box::new(MemSync { inode: self.inode.clone() })
    }
}

fn sync_inode(inode: &InodeRef) {
    let mut inode = inode.lock();
    inode.synced = inode.data.clone();
}

#[derive(Debug)]
struct MemSync {
    inode: InodeRef,
}

impl FileSync for MemSync {
    fn sync(&self) -> io::Result<()> {
        sync_inode(&self.inode);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> PathBuf {
        PathBuf::from("/p")
    }

    #[test]
    fn crash_drops_unsynced_bytes_but_keeps_synced_ones() {
        let storage = MemStorage::new();
        storage.create_dir_all(&dir()).unwrap();
        let path = dir().join("f");
        let mut file = storage.open_file(&path, true).unwrap();
        storage.sync_dir(&dir()).unwrap();
        file.write_all_at(b"abc", 0).unwrap();
        file.sync().unwrap();
        file.write_all_at(b"def", 3).unwrap();
        assert_eq!(storage.file_bytes(&path).unwrap(), b"abcdef");
        storage.crash();
        assert_eq!(storage.file_bytes(&path).unwrap(), b"abc");
    }

    #[test]
    fn crash_forgets_names_never_made_durable() {
        let storage = MemStorage::new();
        storage.create_dir_all(&dir()).unwrap();
        let old = dir().join("old");
        let new = dir().join("new");
        let mut file = storage.open_file(&old, true).unwrap();
        file.write_all_at(b"x", 0).unwrap();
        file.sync().unwrap();
        storage.sync_dir(&dir()).unwrap();
        storage.rename(&old, &new).unwrap();
        storage.open_file(&dir().join("fresh"), true).unwrap();
        storage.crash();
        let mut names = storage.list_dir(&dir()).unwrap();
        names.sort();
        assert_eq!(names, vec!["old".to_owned()]);
        assert_eq!(storage.file_bytes(&old).unwrap(), b"x");
    }

    #[test]
    fn open_without_create_reports_not_found() {
        let storage = MemStorage::new();
        storage.create_dir_all(&dir()).unwrap();
        let err = storage.open_file(&dir().join("nope"), false).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
