//! Spool files: a document streams in through decompression, analysis, hashing and
//! encryption into its own file, which is fsynced before anyone is told it is stored.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::crypto::{DataKey, EncryptingWriter, MasterKey};
use super::SpoolError;
use crate::document::{Analysis, Analyzer, PdfInspector};
use crate::domain::DocumentFormat;

/// File name suffix of encrypted documents.
pub const SUFFIX: &str = ".fdoc";

/// How the client compressed the document (IPP "compression").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    /// Raw DEFLATE (RFC 1951), as CUPS sends it.
    Deflate,
    Gzip,
}

impl Compression {
    /// Parses the IPP keyword.
    pub fn parse(keyword: &str) -> Option<Compression> {
        match keyword {
            "none" => Some(Compression::None),
            "deflate" => Some(Compression::Deflate),
            "gzip" => Some(Compression::Gzip),
            _ => None,
        }
    }
}

/// A document safely on disk: encrypted, fsynced (its directory is fsynced at commit).
#[derive(Debug, Clone)]
pub struct StoredDocument {
    pub file_name: String,
    pub wrapped_key: Vec<u8>,
    pub analysis: Analysis,
    pub size_bytes: u64,
    pub encrypted_bytes: u64,
    pub sha256: String,
    /// "document-name" supplied by the client.
    pub name: Option<String>,
}

/// The plaintext side: everything after decompression.
struct PlainSink {
    analyzer: Option<Analyzer>,
    hasher: Sha256,
    writer: Option<EncryptingWriter<BufWriter<File>>>,
    size: u64,
    max_bytes: u64,
    /// The first failure that is not an I/O error, kept to report it precisely.
    failure: Option<SpoolError>,
}

impl PlainSink {
    fn fail(&mut self, e: SpoolError) -> io::Error {
        let err = io::Error::other(e.to_string());
        self.failure.get_or_insert(e);
        err
    }
}

impl Write for PlainSink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.size += data.len() as u64;
        if self.size > self.max_bytes {
            let max = self.max_bytes;
            return Err(self.fail(SpoolError::TooLarge { max_bytes: max }));
        }
        if let Some(a) = self.analyzer.as_mut() {
            if let Err(e) = a.feed(data) {
                return Err(self.fail(SpoolError::Document(e)));
            }
        }
        self.hasher.update(data);
        if let Some(w) = self.writer.as_mut() {
            if let Err(e) = w.write(data) {
                return Err(self.fail(e.into()));
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

enum Decoder {
    Plain(PlainSink),
    Deflate(flate2::write::DeflateDecoder<PlainSink>),
    Gzip(flate2::write::GzDecoder<PlainSink>),
}

/// Writes one document into the spool. Dropped without [`DocumentWriter::finish`], its file
/// is removed: nothing half-written stays behind.
pub struct DocumentWriter {
    decoder: Option<Decoder>,
    path: PathBuf,
    file_name: String,
    wrapped_key: Vec<u8>,
    name: Option<String>,
    finished: bool,
    inspector: std::sync::Arc<dyn PdfInspector + Send + Sync>,
}

impl DocumentWriter {
    /// Creates the document's file (mode 0600) in `dir`; a PDF is read by `inspector` at the
    /// end.
    pub fn create(
        dir: &Path,
        master: &MasterKey,
        declared: Option<DocumentFormat>,
        compression: Compression,
        max_bytes: u64,
        name: Option<String>,
        inspector: std::sync::Arc<dyn PdfInspector + Send + Sync>,
    ) -> Result<DocumentWriter, SpoolError> {
        use std::os::unix::fs::OpenOptionsExt;
        let file_name = format!("{}{SUFFIX}", uuid::Uuid::new_v4().simple());
        let path = dir.join(&file_name);
        let key = DataKey::generate();
        let wrapped_key = master.wrap(&key, &file_name)?;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        let writer = EncryptingWriter::new(BufWriter::with_capacity(128 * 1024, file), &key)?;
        let sink = PlainSink {
            analyzer: Some(Analyzer::new(declared)),
            hasher: Sha256::new(),
            writer: Some(writer),
            size: 0,
            max_bytes,
            failure: None,
        };
        let decoder = match compression {
            Compression::None => Decoder::Plain(sink),
            Compression::Deflate => Decoder::Deflate(flate2::write::DeflateDecoder::new(sink)),
            Compression::Gzip => Decoder::Gzip(flate2::write::GzDecoder::new(sink)),
        };
        Ok(DocumentWriter {
            decoder: Some(decoder),
            path,
            file_name,
            wrapped_key,
            name,
            finished: false,
            inspector,
        })
    }

    /// Writes the next bytes as received from the client.
    pub fn write(&mut self, data: &[u8]) -> Result<(), SpoolError> {
        let result = match self.decoder.as_mut() {
            Some(Decoder::Plain(s)) => s.write_all(data).map_err(|e| (e, Some(s))),
            Some(Decoder::Deflate(d)) => d.write_all(data).map_err(|e| (e, d.get_mut().into())),
            Some(Decoder::Gzip(d)) => d.write_all(data).map_err(|e| (e, d.get_mut().into())),
            None => return Err(SpoolError::NotPossible("document already finished".into())),
        };
        result.map_err(|(e, sink)| {
            sink.and_then(|s| s.failure.take())
                .unwrap_or(compression_or_io(e))
        })
    }

    /// Ends the document: checks it, seals the last chunk and fsyncs the file.
    pub fn finish(mut self) -> Result<StoredDocument, SpoolError> {
        let sink = match self.decoder.take() {
            Some(Decoder::Plain(s)) => Ok(s),
            Some(Decoder::Deflate(d)) => d.finish(),
            Some(Decoder::Gzip(d)) => d.finish(),
            None => return Err(SpoolError::NotPossible("document already finished".into())),
        };
        let mut sink = sink.map_err(compression_or_io)?;
        if let Some(failure) = sink.failure.take() {
            return Err(failure);
        }
        let analysis = sink
            .analyzer
            .take()
            .ok_or_else(|| SpoolError::NotPossible("no analysis".into()))?
            .finish(&*self.inspector)?;
        let writer = sink
            .writer
            .take()
            .ok_or_else(|| SpoolError::NotPossible("no writer".into()))?;
        let file = writer
            .finish()?
            .into_inner()
            .map_err(|e| SpoolError::Storage(e.into_error()))?;
        // fdatasync: the data and the size needed to read it back, in parallel with other
        // uploads; the new directory entries are made durable once per batch (`make_durable`).
        file.sync_data()?;
        let encrypted_bytes = file.metadata()?.len();
        self.finished = true;
        Ok(StoredDocument {
            file_name: self.file_name.clone(),
            wrapped_key: std::mem::take(&mut self.wrapped_key),
            analysis,
            size_bytes: sink.size,
            encrypted_bytes,
            sha256: hex::encode(sink.hasher.finalize()),
            name: self.name.take(),
        })
    }
}

/// A decompression failure is the client's; anything else is storage.
fn compression_or_io(e: io::Error) -> SpoolError {
    match e.kind() {
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => {
            SpoolError::Compression(e.to_string())
        }
        _ => SpoolError::Storage(e),
    }
}

impl Drop for DocumentWriter {
    fn drop(&mut self) {
        if !self.finished {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Free bytes for unprivileged writers on the filesystem holding `path`.
pub fn free_bytes(path: &std::path::Path) -> std::io::Result<u64> {
    let s = rustix::fs::statvfs(path)?;
    Ok(s.f_bavail.saturating_mul(s.f_frsize))
}

/// Makes the directory entries of the documents written to `dir` durable: one directory fsync
/// per batch (each document's data was already fsynced by its writer). `syncfs` would flush a
/// batch in one call, but its cost grows with everything else cached on the filesystem.
pub fn make_durable(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Removes spool files (after their keys were destroyed), ignoring ones already gone.
pub fn remove_files(dir: &Path, names: &[String]) {
    for name in names {
        if let Err(e) = std::fs::remove_file(dir.join(name)) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(file = %name, error = %e, "could not remove a purged spool file");
            }
        }
    }
}
