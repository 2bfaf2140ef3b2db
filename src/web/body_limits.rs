//! Every request body is bounded in size and in time, before any handler reads it: a declared
//! `Content-Length` above the route's limit is refused at once (413, nothing read; IPP answers
//! in IPP after the attribute section, see `ipp::handle`), a body
//! without one is cut off when it passes the limit, and a body that has not arrived in full
//! within `limits.body_timeout_secs` is cut off whatever its pace (a client trickling one byte
//! every few seconds cannot hold a connection and a writer for ever).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse};
use bytes::Bytes;
use futures_util::Stream;

/// Largest body of a request that is neither a print job nor a scan (forms, JSON).
const OTHER_BYTES: u64 = 1024 * 1024;
/// Room for a scan upload's form parts and metadata beside the file.
const FORM_OVERHEAD: u64 = 256 * 1024;

/// The limits, from the settings.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// IPP requests: the largest document and its attributes.
    pub print_bytes: u64,
    /// Scan uploads.
    pub scan_bytes: u64,
    /// Time for a whole body to arrive.
    pub deadline: Duration,
}

impl BodyLimits {
    /// The largest body accepted on `path`.
    fn for_path(&self, path: &str) -> u64 {
        if path.starts_with("/ipp/") {
            self.print_bytes
        } else if path == "/api/v1/scans" {
            self.scan_bytes.saturating_add(FORM_OVERHEAD)
        } else {
            OTHER_BYTES
        }
    }
}

/// The middleware.
pub async fn limit(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let Some(limits) = req
        .app_data::<web::Data<BodyLimits>>()
        .map(|l| *l.get_ref())
    else {
        return next.call(req).await.map(|r| r.map_into_left_body());
    };
    let max = limits.for_path(req.path());
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    // IPP answers an oversized request itself, in IPP (`ipp::handle`).
    if declared.is_some_and(|n| n > max) && !req.path().starts_with("/ipp/") {
        tracing::warn!(
            declared,
            max,
            path = req.path(),
            "request body larger than allowed: refused unread"
        );
        let response = HttpResponse::PayloadTooLarge()
            .insert_header((header::CONNECTION, "close"))
            .content_type("text/plain; charset=utf-8")
            .body(format!(
                "the request is larger than the {} MB allowed here\n",
                max.div_ceil(1024 * 1024)
            ));
        return Ok(req.into_response(response).map_into_right_body());
    }
    let inner = req.take_payload();
    let bounded = Bounded {
        inner,
        left: max,
        deadline: Box::pin(tokio::time::sleep(limits.deadline)),
        seconds: limits.deadline.as_secs(),
    };
    req.set_payload(Payload::from(
        Box::pin(bounded) as Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>
    ));
    next.call(req).await.map(|r| r.map_into_left_body())
}

/// A body stream with a size budget and a deadline.
struct Bounded {
    inner: Payload,
    left: u64,
    deadline: Pin<Box<tokio::time::Sleep>>,
    seconds: u64,
}

impl Stream for Bounded {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.deadline.as_mut().poll(cx).is_ready() {
            let secs = self.seconds;
            return Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("the request body did not arrive within {secs} s"),
            )))));
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => match self.left.checked_sub(chunk.len() as u64) {
                Some(left) => {
                    self.left = left;
                    Poll::Ready(Some(Ok(chunk)))
                }
                None => Poll::Ready(Some(Err(PayloadError::Overflow))),
            },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_has_its_limit() {
        let l = BodyLimits {
            print_bytes: 200,
            scan_bytes: 500,
            deadline: Duration::from_secs(1),
        };
        assert_eq!(l.for_path("/ipp/print"), 200);
        assert_eq!(l.for_path("/api/v1/scans"), 500 + FORM_OVERHEAD);
        assert_eq!(l.for_path("/api/v1/devices"), OTHER_BYTES);
    }
}
