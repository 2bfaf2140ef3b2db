//! Encryption at rest: one random AES-256 data key per document, wrapped (AES-256-GCM) by the
//! master key; documents are encrypted as a stream of 64 KiB AES-256-GCM chunks (the STREAM
//! construction: a nonce prefix, a chunk counter and a last-chunk flag), so a document of any
//! size is written and read with constant memory and a truncated or reordered file is
//! detected.

use std::io::{self, Read, Write};
use std::path::Path;

use aead::stream::{DecryptorBE32, EncryptorBE32};
use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use rand::RngCore;
use zeroize::Zeroizing;

/// Plaintext bytes per encrypted chunk.
pub const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;
const MAGIC: &[u8; 8] = b"FOLIOEN1";
const NONCE_PREFIX: usize = 7;
/// Bytes before the first chunk: magic and nonce prefix.
pub const HEADER_LEN: usize = MAGIC.len() + NONCE_PREFIX;

/// Errors of the crypto layer.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("master key file {path}: {message}")]
    MasterKey { path: String, message: String },
    #[error("a document key could not be unwrapped (wrong master key or damaged row)")]
    Unwrap,
    #[error("document file is damaged or was tampered with")]
    Damaged,
    #[error("document encryption failed")]
    Encrypt,
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// The master key: wraps and unwraps document keys. Never logged, zeroed on drop.
pub struct MasterKey {
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// Loads the key from `path` (64 hex characters); never creates one.
    pub fn load(path: &Path) -> Result<MasterKey, CryptoError> {
        if !path.exists() {
            return Err(CryptoError::MasterKey {
                path: path.display().to_string(),
                message: "does not exist".into(),
            });
        }
        Self::load_or_create(path)
    }

    /// Loads the key from `path` (64 hex characters), or creates it with mode 0600 when the
    /// file does not exist yet.
    pub fn load_or_create(path: &Path) -> Result<MasterKey, CryptoError> {
        let err = |message: String| CryptoError::MasterKey {
            path: path.display().to_string(),
            message,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let bytes = hex::decode(text.trim())
                    .map_err(|_| err("is not 64 hexadecimal characters".into()))?;
                let key: [u8; 32] = bytes
                    .try_into()
                    .map_err(|_| err("is not 64 hexadecimal characters".into()))?;
                Ok(MasterKey {
                    key: Zeroizing::new(key),
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let mut key = Zeroizing::new([0u8; 32]);
                OsRng.fill_bytes(key.as_mut());
                write_secret_file(path, hex::encode(key.as_ref()).as_bytes())
                    .map_err(|e| err(format!("cannot be created: {e}")))?;
                Ok(MasterKey { key })
            }
            Err(e) => Err(err(format!("cannot be read: {e}"))),
        }
    }

    /// A fixed key for unit tests (a running Folio only loads or creates its key file).
    #[cfg(test)]
    pub(crate) fn from_bytes(key: [u8; 32]) -> MasterKey {
        MasterKey {
            key: Zeroizing::new(key),
        }
    }

    /// Wraps a data key; `context` (the document's file name) is bound as associated data so a
    /// wrapped key cannot be moved to another document.
    pub fn wrap(&self, data_key: &DataKey, context: &str) -> Result<Vec<u8>, CryptoError> {
        self.seal(data_key.0.as_ref(), context)
    }

    /// Unwraps a data key wrapped by [`MasterKey::wrap`] with the same `context`.
    pub fn unwrap(&self, wrapped: &[u8], context: &str) -> Result<DataKey, CryptoError> {
        let plain = Zeroizing::new(self.open(wrapped, context).ok_or(CryptoError::Unwrap)?);
        let key: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::Unwrap)?;
        Ok(DataKey(Zeroizing::new(key)))
    }

    /// AES-256-GCM under the master key: a random nonce followed by the ciphertext.
    fn seal(&self, msg: &[u8], aad: &str) -> Result<Vec<u8>, CryptoError> {
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(self.key.as_ref()));
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Encrypt)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens what [`MasterKey::seal`] made with the same `aad`.
    fn open(&self, sealed: &[u8], aad: &str) -> Option<Vec<u8>> {
        if sealed.len() < 12 {
            return None;
        }
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(self.key.as_ref()));
        let (nonce, ciphertext) = sealed.split_at(12);
        cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .ok()
    }
}

/// Prefix of a text value sealed by [`MasterKey::seal_text`].
const SEALED_TEXT: &str = "enc1:";

impl MasterKey {
    /// A key for `purpose` derived from the master key (HMAC-SHA256 over a label): the same on
    /// every node of a site, and telling nothing of the master key.
    pub fn subkey(&self, purpose: &str) -> Zeroizing<[u8; 32]> {
        use hmac::Mac;
        let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.key[..])
            .expect("HMAC takes keys of any length");
        mac.update(b"folio-subkey-v1:");
        mac.update(purpose.as_bytes());
        Zeroizing::new(mac.finalize().into_bytes().into())
    }

    /// Seals a short text (a job or document name, which can name a patient) for storage in a
    /// database column: `enc1:` then hex of nonce and AES-256-GCM ciphertext, `context` bound
    /// as associated data so a sealed job name cannot pass for another field.
    pub fn seal_text(&self, plain: &str, context: &str) -> Result<String, CryptoError> {
        Ok(format!(
            "{SEALED_TEXT}{}",
            hex::encode(self.seal(plain.as_bytes(), context)?)
        ))
    }

    /// Opens a text sealed by [`MasterKey::seal_text`]; `None` when it does not open.
    pub fn open_text(&self, stored: &str, context: &str) -> Option<String> {
        let bytes = hex::decode(stored.strip_prefix(SEALED_TEXT)?).ok()?;
        String::from_utf8(self.open(&bytes, context)?).ok()
    }
}

/// Writes a small secret file with mode 0600, refusing to overwrite, fsynced.
fn write_secret_file(path: &Path, content: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(content)?;
    file.sync_all()?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// A document's own key. Zeroed on drop.
pub struct DataKey(Zeroizing<[u8; 32]>);

impl DataKey {
    /// A fresh random key.
    pub fn generate() -> DataKey {
        let mut key = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(key.as_mut());
        DataKey(key)
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(self.0.as_ref()))
    }
}

/// Encrypts a stream into `inner`, chunk by chunk. Call [`EncryptingWriter::finish`]: a stream
/// that is not finished has no last chunk and will not decrypt.
pub struct EncryptingWriter<W: Write> {
    inner: W,
    encryptor: Option<EncryptorBE32<Aes256Gcm>>,
    buf: Vec<u8>,
}

impl<W: Write> EncryptingWriter<W> {
    /// Starts the stream: writes the header.
    pub fn new(mut inner: W, key: &DataKey) -> Result<Self, CryptoError> {
        let mut prefix = [0u8; NONCE_PREFIX];
        OsRng.fill_bytes(&mut prefix);
        inner.write_all(MAGIC)?;
        inner.write_all(&prefix)?;
        let encryptor = EncryptorBE32::from_aead(key.cipher(), (&prefix).into());
        Ok(EncryptingWriter {
            inner,
            encryptor: Some(encryptor),
            buf: Vec::with_capacity(CHUNK),
        })
    }

    /// Encrypts and writes `data`.
    pub fn write(&mut self, mut data: &[u8]) -> Result<(), CryptoError> {
        while !data.is_empty() {
            // A full buffer is sealed only when more data follows, so the last chunk is
            // always sealed by `finish` with the last-chunk flag.
            if self.buf.len() == CHUNK {
                let enc = self.encryptor.as_mut().ok_or(CryptoError::Encrypt)?;
                let sealed = enc
                    .encrypt_next(self.buf.as_slice())
                    .map_err(|_| CryptoError::Encrypt)?;
                self.inner.write_all(&sealed)?;
                self.buf.clear();
            }
            let take = (CHUNK - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
        }
        Ok(())
    }

    /// Seals the last chunk and returns the inner writer (not yet synced).
    pub fn finish(mut self) -> Result<W, CryptoError> {
        let enc = self.encryptor.take().ok_or(CryptoError::Encrypt)?;
        let sealed = enc
            .encrypt_last(self.buf.as_slice())
            .map_err(|_| CryptoError::Encrypt)?;
        self.inner.write_all(&sealed)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

/// Decrypts a stream written by [`EncryptingWriter`], chunk by chunk, failing on any damage.
pub struct DecryptingReader<R: Read> {
    inner: R,
    remaining: u64,
    decryptor: Option<DecryptorBE32<Aes256Gcm>>,
    plain: Vec<u8>,
    pos: usize,
}

impl<R: Read> DecryptingReader<R> {
    /// Reads the header of a stream of `total_len` bytes.
    pub fn new(mut inner: R, total_len: u64, key: &DataKey) -> Result<Self, CryptoError> {
        let mut header = [0u8; HEADER_LEN];
        inner
            .read_exact(&mut header)
            .map_err(|_| CryptoError::Damaged)?;
        if &header[..MAGIC.len()] != MAGIC || total_len < (HEADER_LEN + TAG) as u64 {
            return Err(CryptoError::Damaged);
        }
        let prefix: [u8; NONCE_PREFIX] = header[MAGIC.len()..]
            .try_into()
            .map_err(|_| CryptoError::Damaged)?;
        Ok(DecryptingReader {
            inner,
            remaining: total_len - HEADER_LEN as u64,
            decryptor: Some(DecryptorBE32::from_aead(key.cipher(), (&prefix).into())),
            plain: Vec::new(),
            pos: 0,
        })
    }

    fn next_chunk(&mut self) -> Result<bool, CryptoError> {
        let Some(dec) = self.decryptor.as_mut() else {
            return Ok(false);
        };
        let sealed_len = (CHUNK + TAG) as u64;
        let is_last = self.remaining <= sealed_len;
        let len = self.remaining.min(sealed_len) as usize;
        let mut sealed = vec![0u8; len];
        self.inner
            .read_exact(&mut sealed)
            .map_err(|_| CryptoError::Damaged)?;
        self.remaining -= len as u64;
        self.plain = if is_last {
            let dec = self.decryptor.take().ok_or(CryptoError::Damaged)?;
            dec.decrypt_last(sealed.as_slice())
                .map_err(|_| CryptoError::Damaged)?
        } else {
            dec.decrypt_next(sealed.as_slice())
                .map_err(|_| CryptoError::Damaged)?
        };
        self.pos = 0;
        Ok(true)
    }
}

impl<R: Read> Read for DecryptingReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.plain.len() {
            if !self.next_chunk().map_err(io::Error::other)? {
                return Ok(0);
            }
        }
        let n = out.len().min(self.plain.len() - self.pos);
        out[..n].copy_from_slice(&self.plain[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(len: usize) -> Vec<u8> {
        let key = DataKey::generate();
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut w = EncryptingWriter::new(Vec::new(), &key).unwrap();
        for part in data.chunks(1000) {
            w.write(part).unwrap();
        }
        let sealed = w.finish().unwrap();
        assert!(!sealed.windows(8).any(|w| w == &data[..8.min(len)]) || len < 8);
        let mut r = DecryptingReader::new(sealed.as_slice(), sealed.len() as u64, &key).unwrap();
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
        sealed
    }

    #[test]
    fn documents_of_every_size_round_trip() {
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17] {
            round_trip(len);
        }
    }

    #[test]
    fn a_truncated_document_is_detected() {
        let key = DataKey::generate();
        let mut w = EncryptingWriter::new(Vec::new(), &key).unwrap();
        w.write(&vec![7u8; 3 * CHUNK]).unwrap();
        let sealed = w.finish().unwrap();
        // Cut at a chunk boundary: the remaining chunk is not flagged as last.
        let cut = &sealed[..HEADER_LEN + CHUNK + TAG];
        let mut r = DecryptingReader::new(cut, cut.len() as u64, &key).unwrap();
        assert!(r.read_to_end(&mut Vec::new()).is_err());
    }

    #[test]
    fn a_wrapped_key_only_opens_for_its_own_document() {
        let master = MasterKey::from_bytes([9; 32]);
        let key = DataKey::generate();
        let wrapped = master.wrap(&key, "a.fdoc").unwrap();
        assert!(master.unwrap(&wrapped, "a.fdoc").is_ok());
        assert!(master.unwrap(&wrapped, "b.fdoc").is_err());
        let other = MasterKey::from_bytes([8; 32]);
        assert!(other.unwrap(&wrapped, "a.fdoc").is_err());
    }

    #[test]
    fn sealed_names_open_only_with_their_key_and_context() {
        let master = MasterKey::from_bytes([3; 32]);
        let sealed = master.seal_text("Compte rendu Dupont", "job-name").unwrap();
        assert!(!sealed.contains("Dupont"));
        assert_eq!(
            master.open_text(&sealed, "job-name").as_deref(),
            Some("Compte rendu Dupont")
        );
        assert_eq!(master.open_text(&sealed, "document-name"), None);
        assert_eq!(
            MasterKey::from_bytes([4; 32]).open_text(&sealed, "job-name"),
            None
        );
    }

    #[test]
    fn the_master_key_file_is_created_private_and_reloaded() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let first = MasterKey::load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let second = MasterKey::load_or_create(&path).unwrap();
        assert_eq!(first.key.as_ref(), second.key.as_ref());
    }
}
