//! The frames between the server and a worker, over the worker's stdin and stdout: a JSON
//! header (what to do, or what came of it) and the document's bytes, each behind its length.
//!
//! ```text
//! u32 header length (big-endian) | header (JSON) | u64 payload length | payload
//! ```

use std::io::{self, Read, Write};

/// Largest header accepted: headers carry parameters and answers, never documents.
const MAX_HEADER: u32 = 16 * 1024 * 1024;
/// Largest payload accepted: a document or a rendition.
const MAX_PAYLOAD: u64 = 4 * 1024 * 1024 * 1024;

/// What the server asks a worker.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Request {
    /// The job's name, e.g. `pdf.inspect`.
    pub job: String,
    /// Seconds of processor time this job may use.
    pub cpu_secs: u64,
    /// The job's parameters.
    pub params: serde_json::Value,
}

/// What a worker answers.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Reply {
    /// The job's answer, or why the document was refused (the reader's own words).
    pub result: Result<serde_json::Value, String>,
    /// The worker stops after this reply (its reader panicked: its state is not trusted).
    pub retire: bool,
}

/// Writes one frame and flushes it.
pub fn write<T: serde::Serialize>(
    out: &mut impl Write,
    header: &T,
    payload: &[u8],
) -> io::Result<()> {
    let header = serde_json::to_vec(header).map_err(io::Error::other)?;
    let len = u32::try_from(header.len())
        .ok()
        .filter(|l| *l <= MAX_HEADER)
        .ok_or_else(|| io::Error::other("frame header too large"))?;
    out.write_all(&len.to_be_bytes())?;
    out.write_all(&header)?;
    out.write_all(&(payload.len() as u64).to_be_bytes())?;
    out.write_all(payload)?;
    out.flush()
}

/// Reads one frame; `Ok(None)` when the other side closed cleanly before a new frame.
pub fn read<T: serde::de::DeserializeOwned>(
    input: &mut impl Read,
) -> io::Result<Option<(T, Vec<u8>)>> {
    let mut len = [0u8; 4];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len);
    if len > MAX_HEADER {
        return Err(io::Error::other("frame header too large"));
    }
    let mut header = vec![0u8; len as usize];
    input.read_exact(&mut header)?;
    let header = serde_json::from_slice(&header).map_err(io::Error::other)?;
    let mut len = [0u8; 8];
    input.read_exact(&mut len)?;
    let len = u64::from_be_bytes(len);
    if len > MAX_PAYLOAD {
        return Err(io::Error::other("frame payload too large"));
    }
    // Read in pieces: a damaged length must not reserve memory it will never fill.
    let mut payload = Vec::new();
    input.take(len).read_to_end(&mut payload)?;
    if payload.len() as u64 != len {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(Some((header, payload)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_reads_back_as_written() {
        let mut buf = Vec::new();
        let req = Request {
            job: "pdf.inspect".into(),
            cpu_secs: 5,
            params: serde_json::json!({ "a": 1 }),
        };
        write(&mut buf, &req, b"%PDF-1.7").unwrap();
        let (back, payload): (Request, Vec<u8>) = read(&mut buf.as_slice()).unwrap().unwrap();
        assert_eq!(back.job, "pdf.inspect");
        assert_eq!(back.cpu_secs, 5);
        assert_eq!(payload, b"%PDF-1.7");
    }

    #[test]
    fn a_closed_pipe_is_the_end_and_a_cut_frame_an_error() {
        assert!(read::<Request>(&mut &b""[..]).unwrap().is_none());
        let mut buf = Vec::new();
        write(&mut buf, &serde_json::json!({}), &[1, 2, 3]).unwrap();
        let cut = &buf[..buf.len() - 1];
        assert!(read::<serde_json::Value>(&mut &cut[..]).is_err());
    }
}
