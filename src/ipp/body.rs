//! The HTTP body of an IPP request: first the attribute section (bounded), then the document
//! data, streamed into the spool with backpressure so memory stays flat whatever the size.

use actix_web::web;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use super::wire::{self, DecodeError, Request};
use super::{status, IppError};
use crate::domain::DocumentFormat;
use crate::spool::{Compression, Spool, SpoolError, StoredDocument};

/// Header facts known before the attribute section is complete: version, request-id,
/// operation (to answer even a request that fails to decode).
pub type Header = ((u8, u8), i32, u16);

/// Longest silence accepted from a client in the middle of a request body.
const IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

pub struct Body {
    payload: web::Payload,
    /// Document bytes that arrived with the attribute section.
    leftover: Bytes,
    ended: bool,
}

impl Body {
    pub fn new(payload: web::Payload) -> Body {
        Body {
            payload,
            leftover: Bytes::new(),
            ended: false,
        }
    }

    /// The next piece of the body. A client that sends nothing for [`IDLE_TIMEOUT`] is cut
    /// off, so a trickling upload cannot hold a writer thread forever.
    async fn next_chunk(&mut self) -> Option<Result<Bytes, IppError>> {
        if !self.leftover.is_empty() {
            return Some(Ok(std::mem::take(&mut self.leftover)));
        }
        if self.ended {
            return None;
        }
        let next = tokio::time::timeout(IDLE_TIMEOUT, self.payload.next()).await;
        if !matches!(next, Ok(Some(Ok(_)))) {
            self.ended = true;
        }
        match next {
            Ok(Some(Ok(b))) => Some(Ok(b)),
            Ok(Some(Err(e))) => Some(Err(IppError::bad_request(format!(
                "the request body could not be read: {e}"
            )))),
            Ok(None) => None,
            Err(_) => Some(Err(IppError::bad_request(format!(
                "the client sent nothing for {} seconds",
                IDLE_TIMEOUT.as_secs()
            )))),
        }
    }

    /// Reads until the attribute section is complete, at most `max` bytes of it.
    pub async fn read_request(
        &mut self,
        max: usize,
    ) -> Result<Request, (Option<Header>, IppError)> {
        let mut buf = BytesMut::new();
        // Decoding is retried only once the buffer has doubled (or the body ended), so a
        // client sending its attributes byte by byte costs O(n log n), not O(n²).
        let mut next_try = 0;
        let mut ended = false;
        loop {
            let header = (buf.len() >= 8).then(|| {
                (
                    (buf[0], buf[1]),
                    i32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
                    u16::from_be_bytes([buf[2], buf[3]]),
                )
            });
            let attempt = if ended || buf.len() >= next_try {
                next_try = buf.len().saturating_mul(2).max(4096);
                wire::decode(&buf)
            } else {
                Err(DecodeError::Incomplete)
            };
            match attempt {
                Ok((req, used)) => {
                    self.leftover = buf.split_off(used).freeze();
                    return Ok(req);
                }
                Err(DecodeError::Malformed(m)) => return Err((header, IppError::bad_request(m))),
                Err(DecodeError::Incomplete) if buf.len() > max => {
                    return Err((
                        header,
                        IppError::new(
                            status::REQUEST_ENTITY_TOO_LARGE,
                            format!("the attribute section is larger than {} KiB", max / 1024),
                        ),
                    ))
                }
                Err(DecodeError::Incomplete) if ended => {
                    let message = if buf.len() < 8 {
                        "the request is shorter than an IPP header"
                    } else {
                        "the request ends inside its attribute section"
                    };
                    return Err((header, IppError::bad_request(message)));
                }
                Err(DecodeError::Incomplete) => {}
            }
            match self.next_chunk().await {
                Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
                Some(Err(e)) => return Err((header, e)),
                None => ended = true,
            }
        }
    }

    /// True when document data follows the attribute section.
    pub async fn has_data(&mut self) -> bool {
        while self.leftover.is_empty() {
            match self.next_chunk().await {
                Some(Ok(chunk)) => self.leftover = chunk,
                _ => return false,
            }
        }
        true
    }

    /// Streams the document data into the spool and returns it stored and fsynced.
    pub async fn receive_document(
        &mut self,
        spool: &Spool,
        declared: Option<DocumentFormat>,
        compression: Compression,
        max_bytes: u64,
        name: Option<String>,
    ) -> Result<StoredDocument, IppError> {
        enum Msg {
            Data(Bytes),
            /// The whole document was received.
            End,
        }
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Msg>(8);
        let spool = spool.clone();
        let worker = tokio::task::spawn_blocking(move || -> Result<StoredDocument, SpoolError> {
            let mut writer = spool.document_writer(declared, compression, max_bytes, name)?;
            // Only an explicit End completes the document: a channel closed without it means
            // the request was abandoned, and dropping the writer removes the partial file.
            while let Some(msg) = rx.blocking_recv() {
                match msg {
                    Msg::Data(chunk) => writer.write(&chunk)?,
                    Msg::End => return writer.finish(),
                }
            }
            Err(SpoolError::NotPossible("the upload was interrupted".into()))
        });
        let mut read_error = None;
        while let Some(chunk) = self.next_chunk().await {
            match chunk {
                Ok(data) => {
                    if tx.send(Msg::Data(data)).await.is_err() {
                        break; // The writer stopped: its error says why.
                    }
                }
                Err(e) => {
                    read_error = Some(e);
                    break;
                }
            }
        }
        if read_error.is_none() {
            let _ = tx.send(Msg::End).await;
        }
        drop(tx);
        let stored = worker.await.map_err(|_| {
            IppError::new(status::INTERNAL_ERROR, "the document could not be stored")
        })?;
        if let Some(e) = read_error {
            return Err(e);
        }
        stored.map_err(IppError::from)
    }

    /// Reads and discards what is left, so the client sees the response on a healthy
    /// connection. Bounded: a client sending forever is cut off after 16 MiB.
    pub async fn drain(&mut self) {
        let mut left: usize = 16 * 1024 * 1024;
        self.leftover = Bytes::new();
        while let Some(Ok(chunk)) = self.next_chunk().await {
            left = left.saturating_sub(chunk.len());
            if left == 0 {
                break;
            }
        }
    }
}
