//! Scan masters on disk: the bytes exactly as received, encrypted with their own key (wrapped
//! by the master key), fsynced with their directory before the capture is acknowledged. A
//! master is never changed; every later form of the scan is a rendition pointing back to it.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::spool::crypto::{CryptoError, DataKey, DecryptingReader, EncryptingWriter, MasterKey};

/// Why a master could not be written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the scan is larger than {max_bytes} bytes")]
    TooLarge { max_bytes: u64 },
    #[error("the scan is empty")]
    Empty,
    #[error("storage failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("encryption failed: {0}")]
    Crypto(#[from] CryptoError),
}

/// A master safely on disk.
#[derive(Debug, Clone)]
pub struct StoredMaster {
    pub file_name: String,
    pub wrapped_key: Vec<u8>,
    pub size_bytes: u64,
    /// SHA-256 of the bytes as received.
    pub sha256: String,
}

/// Writes one master. Dropped unfinished, its file is removed.
pub struct MasterWriter {
    writer: Option<EncryptingWriter<BufWriter<File>>>,
    hasher: Sha256,
    size: u64,
    max_bytes: u64,
    path: PathBuf,
    file_name: String,
    wrapped_key: Vec<u8>,
    finished: bool,
}

impl MasterWriter {
    /// Creates the master's file (mode 0600) in `dir`.
    pub fn create(
        dir: &Path,
        master: &MasterKey,
        max_bytes: u64,
    ) -> Result<MasterWriter, StoreError> {
        use std::os::unix::fs::OpenOptionsExt;
        let file_name = format!("{}.scan", uuid::Uuid::new_v4().simple());
        let path = dir.join(&file_name);
        let key = DataKey::generate();
        let wrapped_key = master.wrap(&key, &file_name)?;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        let writer = EncryptingWriter::new(BufWriter::with_capacity(256 * 1024, file), &key)?;
        Ok(MasterWriter {
            writer: Some(writer),
            hasher: Sha256::new(),
            size: 0,
            max_bytes,
            path,
            file_name,
            wrapped_key,
            finished: false,
        })
    }

    pub fn write(&mut self, data: &[u8]) -> Result<(), StoreError> {
        self.size += data.len() as u64;
        if self.size > self.max_bytes {
            return Err(StoreError::TooLarge {
                max_bytes: self.max_bytes,
            });
        }
        self.hasher.update(data);
        match self.writer.as_mut() {
            Some(w) => Ok(w.write(data)?),
            None => Err(StoreError::Io(std::io::Error::other(
                "master already finished",
            ))),
        }
    }

    /// Seals the last chunk, fsyncs the file and its directory.
    pub fn finish(mut self) -> Result<StoredMaster, StoreError> {
        if self.size == 0 {
            return Err(StoreError::Empty);
        }
        let writer = self
            .writer
            .take()
            .ok_or_else(|| StoreError::Io(std::io::Error::other("master already finished")))?;
        let file = writer
            .finish()?
            .into_inner()
            .map_err(|e| StoreError::Io(e.into_error()))?;
        file.sync_all()?;
        if let Some(dir) = self.path.parent() {
            File::open(dir)?.sync_all()?;
        }
        self.finished = true;
        Ok(StoredMaster {
            file_name: self.file_name.clone(),
            wrapped_key: std::mem::take(&mut self.wrapped_key),
            size_bytes: self.size,
            sha256: hex::encode(std::mem::take(&mut self.hasher).finalize()),
        })
    }
}

impl Drop for MasterWriter {
    fn drop(&mut self) {
        if !self.finished {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Reads a master back, decrypted.
pub fn open(
    dir: &Path,
    master: &MasterKey,
    file_name: &str,
    wrapped_key: &[u8],
) -> Result<DecryptingReader<BufReader<File>>, StoreError> {
    let key = master.unwrap(wrapped_key, file_name)?;
    let file = File::open(dir.join(file_name))?;
    let len = file.metadata()?.len();
    Ok(DecryptingReader::new(BufReader::new(file), len, &key)?)
}

/// Reads a whole master into memory, checking it against its recorded hash.
pub fn read_checked(
    dir: &Path,
    master: &MasterKey,
    file_name: &str,
    wrapped_key: &[u8],
    sha256: &str,
) -> Result<Vec<u8>, StoreError> {
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut open(dir, master, file_name, wrapped_key)?, &mut bytes)?;
    let got = hex::encode(Sha256::digest(&bytes));
    if got != sha256 {
        return Err(StoreError::Io(std::io::Error::other(format!(
            "the master {file_name} does not match its recorded hash"
        ))));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_master_round_trips_encrypted_and_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let key = MasterKey::from_bytes([7; 32]);
        let mut w = MasterWriter::create(dir.path(), &key, 1 << 20).unwrap();
        w.write(b"%PDF-1.4 patient DUPONT").unwrap();
        let stored = w.finish().unwrap();
        let on_disk = std::fs::read(dir.path().join(&stored.file_name)).unwrap();
        assert!(!on_disk.windows(6).any(|w| w == b"DUPONT"));
        let back = read_checked(
            dir.path(),
            &key,
            &stored.file_name,
            &stored.wrapped_key,
            &stored.sha256,
        )
        .unwrap();
        assert_eq!(back, b"%PDF-1.4 patient DUPONT");
    }

    #[test]
    fn too_large_and_empty_scans_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let key = MasterKey::from_bytes([7; 32]);
        let mut w = MasterWriter::create(dir.path(), &key, 4).unwrap();
        assert!(matches!(
            w.write(b"12345"),
            Err(StoreError::TooLarge { .. })
        ));
        drop(w);
        let w = MasterWriter::create(dir.path(), &key, 4).unwrap();
        assert!(matches!(w.finish(), Err(StoreError::Empty)));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
