//! HTTP to a test server (IPP over HTTP, pages), and the raw IPP of `testkit::ipp` re-exported:
//! hand-built requests for malformed-input tests and a small response parser for assertions.

pub use testkit::ipp::*;

use super::*;

pub fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(120))
        .build()
}

/// Reads a ureq outcome into (HTTP status, body); HTTP error statuses are not errors here.
pub fn read_response(
    outcome: Result<ureq::Response, ureq::Error>,
) -> Result<(u16, Vec<u8>), String> {
    let response = match outcome {
        Ok(response) | Err(ureq::Error::Status(_, response)) => response,
        Err(ureq::Error::Transport(transport)) => return Err(transport.to_string()),
    };
    let status = response.status();
    let mut body = Vec::new();
    response
        .into_reader()
        .read_to_end(&mut body)
        .map_err(|e| format!("reading the response body: {e}"))?;
    Ok((status, body))
}

/// GET `http://127.0.0.1:PORT{path}`: (HTTP status, body), or the transport error.
pub fn try_http_get(port: u16, path: &str) -> Result<(u16, Vec<u8>), String> {
    read_response(
        agent()
            .get(&format!("http://127.0.0.1:{port}{path}"))
            .call(),
    )
}

/// GET `http://127.0.0.1:PORT{path}`: (HTTP status, body as text); panics on transport errors.
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    let (status, body) =
        try_http_get(port, path).unwrap_or_else(|e| panic!("GET {path} on port {port}: {e}"));
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// POSTs `body` to `http://127.0.0.1:PORT/ipp/print` as `application/ipp`: (HTTP status, body),
/// or the transport error (e.g. the server closed the connection).
pub fn try_post_ipp(port: u16, body: &[u8]) -> Result<(u16, Vec<u8>), String> {
    read_response(
        agent()
            .post(&format!("http://127.0.0.1:{port}/ipp/print"))
            .set("Content-Type", "application/ipp")
            .send_bytes(body),
    )
}

/// Like [`try_post_ipp`], panicking on transport errors.
pub fn post_ipp(port: u16, body: &[u8]) -> (u16, Vec<u8>) {
    try_post_ipp(port, body)
        .unwrap_or_else(|e| panic!("POST /ipp/print on port {port} ({} bytes): {e}", body.len()))
}
