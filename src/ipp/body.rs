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

    async fn next_chunk(&mut self) -> Option<Result<Bytes, IppError>> {
        if !self.leftover.is_empty() {
            return Some(Ok(std::mem::take(&mut self.leftover)));
        }
        if self.ended {
            return None;
        }
        match self.payload.next().await {
            Some(Ok(b)) => Some(Ok(b)),
            Some(Err(e)) => {
                self.ended = true;
                Some(Err(IppError::bad_request(format!(
                    "the request body could not be read: {e}"
                ))))
            }
            None => {
                self.ended = true;
                None
            }
        }
    }

    /// Reads until the attribute section is complete, at most `max` bytes of it.
    pub async fn read_request(
        &mut self,
        max: usize,
    ) -> Result<Request, (Option<Header>, IppError)> {
        let mut buf = BytesMut::new();
        loop {
            let header = (buf.len() >= 8).then(|| {
                (
                    (buf[0], buf[1]),
                    i32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
                    u16::from_be_bytes([buf[2], buf[3]]),
                )
            });
            match wire::decode(&buf) {
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
                Err(DecodeError::Incomplete) => {}
            }
            match self.next_chunk().await {
                Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
                Some(Err(e)) => return Err((header, e)),
                None => {
                    let message = if buf.len() < 8 {
                        "the request is shorter than an IPP header"
                    } else {
                        "the request ends inside its attribute section"
                    };
                    return Err((header, IppError::bad_request(message)));
                }
            }
        }
    }

    /// True when document data follows the attribute section.
    pub async fn has_data(&mut self) -> bool {
        if !self.leftover.is_empty() {
            return true;
        }
        match self.next_chunk().await {
            Some(Ok(chunk)) => {
                self.leftover = chunk;
                !self.leftover.is_empty() || Box::pin(self.has_data()).await
            }
            _ => false,
        }
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
            Abort,
        }
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Msg>(8);
        let spool = spool.clone();
        let worker = tokio::task::spawn_blocking(move || -> Result<StoredDocument, SpoolError> {
            let mut writer = spool.document_writer(declared, compression, max_bytes, name)?;
            while let Some(msg) = rx.blocking_recv() {
                match msg {
                    Msg::Data(chunk) => writer.write(&chunk)?,
                    Msg::Abort => {
                        return Err(SpoolError::NotPossible("the upload was interrupted".into()))
                    }
                }
            }
            writer.finish()
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
                    let _ = tx.send(Msg::Abort).await;
                    read_error = Some(e);
                    break;
                }
            }
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
