//! [`FaultStorage`]: a storage wrapper that injects faults on a deterministic plan.
//!
//! Writes and syncs are counted from the moment a plan is set (0-based), across all files
//! opened through the wrapper, so a test names exactly which call fails: "the 3rd write hits a
//! full disk", "the 7th write lands only 10 bytes", "the 2nd sync fails", "the process dies at
//! the 12th write". A halted storage fails every later mutating call, as a dead process would
//! make none; pair it with [`FaultStorage::crash`] (on [`MemStorage`]) to drop what was never
//! synced and then reopen the log.

use std::io;
use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;

use super::{no_space_error, FileSync, MemStorage, Storage, StorageFile};

/// Which calls fail. Indices count calls since [`FaultStorage::set_plan`], from 0.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultPlan {
    /// This write fails with a full-disk error and writes nothing.
    pub fail_write: Option<u64>,
    /// `(index, bytes)`: this write lands only its first `bytes` bytes, then fails.
    pub tear_write: Option<(u64, usize)>,
    /// This sync (file or directory) fails.
    pub fail_sync: Option<u64>,
    /// The process dies at this write: it fails (torn first if `tear_write` names the same
    /// index), and so does every later write, truncate, sync and directory change.
    pub halt_at_write: Option<u64>,
    /// Every write fails with a full-disk error while set (truncation still works).
    pub disk_full: bool,
}

#[derive(Debug, Default)]
struct FaultState {
    plan: FaultPlan,
    writes: u64,
    syncs: u64,
    halted: bool,
}

impl FaultState {
    fn check_alive(&self) -> io::Result<()> {
        if self.halted {
            Err(io::Error::other("storage halted (injected crash)"))
        } else {
            Ok(())
        }
    }
}

/// Fault-injecting wrapper around another storage.
#[derive(Debug, Clone)]
pub struct FaultStorage<S: Storage = MemStorage> {
    inner: S,
    state: Arc<Mutex<FaultState>>,
}

impl<S: Storage> FaultStorage<S> {
    pub fn new(inner: S) -> Self {
        Self { inner, state: Arc::default() }
    }

    /// Replaces the plan and restarts the write and sync counts from zero.
    pub fn set_plan(&self, plan: FaultPlan) {
        let mut state = self.state.lock();
        *state = FaultState { plan, ..FaultState::default() };
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Writes attempted since the plan was set.
    pub fn writes_seen(&self) -> u64 {
        self.state.lock().writes
    }

    /// File and directory syncs attempted since the plan was set.
    pub fn syncs_seen(&self) -> u64 {
        self.state.lock().syncs
    }

    pub fn is_halted(&self) -> bool {
        self.state.lock().halted
    }

    fn check_alive(&self) -> io::Result<()> {
        self.state.lock().check_alive()
    }

}

/// Counts a sync and fails it when the plan names it.
fn before_sync(state: &Mutex<FaultState>) -> io::Result<()> {
    let mut state = state.lock();
    state.check_alive()?;
    let index = state.syncs;
    state.syncs += 1;
    if state.plan.fail_sync == Some(index) {
        return Err(io::Error::other("sync failed (injected)"));
    }
    Ok(())
}

impl FaultStorage<MemStorage> {
    /// Power loss: drops everything never synced and clears the plan, so the test can reopen.
    pub fn crash(&self) {
        self.inner.crash();
        self.set_plan(FaultPlan::default());
    }
}

impl<S: Storage> Storage for FaultStorage<S> {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.check_alive()?;
        self.inner.create_dir_all(path)
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        self.inner.list_dir(path)
    }

    fn open_file(&self, path: &Path, create: bool) -> io::Result<Box<dyn StorageFile>> {
        if create && !self.inner.exists(path)? {
            self.check_alive()?;
        }
        let inner = self.inner.open_file(path, create)?;
        Ok(Box::new(FaultFile { inner, state: self.state.clone() }))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.check_alive()?;
        self.inner.remove_file(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.check_alive()?;
        self.inner.rename(from, to)
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        self.check_alive()?;
        self.inner.remove_dir_all(path)
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        self.inner.exists(path)
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        before_sync(&self.state)?;
        self.inner.sync_dir(path)
    }
}

#[derive(Debug)]
struct FaultFile {
    inner: Box<dyn StorageFile>,
    state: Arc<Mutex<FaultState>>,
}

impl StorageFile for FaultFile {
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.inner.read_at(buf, offset)
    }

    fn write_all_at(&mut self, buf: &[u8], offset: u64) -> io::Result<()> {
        let mut state = self.state.lock();
        state.check_alive()?;
        let index = state.writes;
        state.writes += 1;
        let plan = &state.plan;
        let tear = plan.tear_write.filter(|(at, _)| *at == index).map(|(_, bytes)| bytes.min(buf.len()));
        let halt = plan.halt_at_write == Some(index);
        if plan.disk_full || plan.fail_write == Some(index) {
            if halt {
                state.halted = true;
            }
            return Err(no_space_error());
        }
        if let Some(bytes) = tear {
            if halt {
                state.halted = true;
            }
            drop(state);
            self.inner.write_all_at(&buf[..bytes], offset)?;
            return Err(io::Error::other(format!("torn write: {bytes} of {} bytes landed (injected)", buf.len())));
        }
        if halt {
            state.halted = true;
            return Err(io::Error::other("storage halted (injected crash)"));
        }
        drop(state);
        self.inner.write_all_at(buf, offset)
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.state.lock().check_alive()?;
        self.inner.truncate(len)
    }

    fn sync(&mut self) -> io::Result<()> {
        before_sync(&self.state)?;
        self.inner.sync()
    }

    fn sync_handle(&self) -> Box<dyn FileSync> {
        Box::new(FaultSync { inner: self.inner.sync_handle(), state: self.state.clone() })
    }
}

/// A sync handle counted and failed by the same plan as the file's own syncs.
#[derive(Debug)]
struct FaultSync {
    inner: Box<dyn FileSync>,
    state: Arc<Mutex<FaultState>>,
}

impl FileSync for FaultSync {
    fn sync(&self) -> io::Result<()> {
        before_sync(&self.state)?;
        self.inner.sync()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn setup() -> (FaultStorage, Box<dyn StorageFile>, PathBuf) {
        let storage = FaultStorage::new(MemStorage::new());
        let dir = PathBuf::from("/d");
        storage.create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        let file = storage.open_file(&path, true).unwrap();
        (storage, file, path)
    }

    #[test]
    fn named_write_fails_with_storage_full_and_writes_nothing() {
        let (storage, mut file, path) = setup();
        storage.set_plan(FaultPlan { fail_write: Some(1), ..FaultPlan::default() });
        file.write_all_at(b"aa", 0).unwrap();
        let err = file.write_all_at(b"bb", 2).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        file.write_all_at(b"cc", 2).unwrap();
        assert_eq!(storage.inner().file_bytes(&path).unwrap(), b"aacc");
    }

    #[test]
    fn torn_write_lands_only_its_prefix() {
        let (storage, mut file, path) = setup();
        storage.set_plan(FaultPlan { tear_write: Some((0, 3)), ..FaultPlan::default() });
        assert!(file.write_all_at(b"abcdef", 0).is_err());
        assert_eq!(storage.inner().file_bytes(&path).unwrap(), b"abc");
    }

    #[test]
    fn halt_fails_every_later_mutation_until_crash() {
        let (storage, mut file, _) = setup();
        storage.set_plan(FaultPlan { halt_at_write: Some(0), fail_sync: Some(0), ..FaultPlan::default() });
        assert!(file.write_all_at(b"x", 0).is_err());
        assert!(file.truncate(0).is_err());
        assert!(file.sync().is_err());
        assert!(storage.is_halted());
        storage.crash();
        file.write_all_at(b"x", 0).unwrap();
    }

    #[test]
    fn named_sync_fails_once() {
        let (storage, mut file, _) = setup();
        storage.set_plan(FaultPlan { fail_sync: Some(1), ..FaultPlan::default() });
        file.sync().unwrap();
        assert!(file.sync().is_err());
        file.sync().unwrap();
        assert_eq!(storage.syncs_seen(), 3);
    }
}
