//! Raster formats: PWG raster (PWG 5102.4), Apple raster (URF) and JPEG. Pages are counted
//! while the bytes stream past; PWG raster is decoded line by line so that a truncated page
//! is detected.

use super::DocumentError;

const PWG_HEADER: usize = 1796;

#[derive(Debug)]
enum PwgState {
    Sync,
    Header,
    /// Expecting a line-repeat byte (start of a line group).
    LineRepeat,
    /// Expecting a run control byte within the current line.
    Control,
    /// Skipping `n` bytes of pixel data within the current line.
    Pixels(usize),
}

/// Streaming decoder of a PWG raster stream that counts complete pages.
pub struct PwgScan {
    state: PwgState,
    buf: Vec<u8>,
    pages: u32,
    bytes_per_line: usize,
    bytes_per_pixel: usize,
    height: u64,
    lines_done: u64,
    repeat: u64,
    line_bytes: usize,
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl PwgScan {
    pub fn new() -> PwgScan {
        PwgScan {
            state: PwgState::Sync,
            buf: Vec::new(),
            pages: 0,
            bytes_per_line: 0,
            bytes_per_pixel: 1,
            height: 0,
            lines_done: 0,
            repeat: 0,
            line_bytes: 0,
        }
    }

    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), DocumentError> {
        while !data.is_empty() {
            match self.state {
                PwgState::Sync | PwgState::Header => {
                    let need = match self.state {
                        PwgState::Sync => 4,
                        _ => PWG_HEADER,
                    };
                    let take = (need - self.buf.len()).min(data.len());
                    self.buf.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if self.buf.len() == need {
                        self.complete_fixed_part()?;
                    }
                }
                PwgState::LineRepeat => {
                    self.repeat = data[0] as u64 + 1;
                    data = &data[1..];
                    self.line_bytes = 0;
                    self.state = PwgState::Control;
                }
                PwgState::Control => {
                    let c = data[0];
                    data = &data[1..];
                    let left = self.bytes_per_line - self.line_bytes;
                    let pixels_bytes = if c < 128 {
                        // One pixel repeated c+1 times: only its bytes are in the stream.
                        self.advance_line((c as usize + 1) * self.bytes_per_pixel, left)?;
                        self.bytes_per_pixel
                    } else if c == 128 {
                        // The rest of the line is blank.
                        self.advance_line(left, left)?;
                        0
                    } else {
                        let n = (257 - c as usize) * self.bytes_per_pixel;
                        self.advance_line(n, left)?;
                        n
                    };
                    self.state = PwgState::Pixels(pixels_bytes);
                    self.settle();
                }
                PwgState::Pixels(n) => {
                    let take = n.min(data.len());
                    data = &data[take..];
                    self.state = PwgState::Pixels(n - take);
                    self.settle();
                }
            }
        }
        Ok(())
    }

    fn advance_line(&mut self, n: usize, left: usize) -> Result<(), DocumentError> {
        if n > left {
            return Err(DocumentError::Malformed(
                "PWG raster run overflows its line".into(),
            ));
        }
        self.line_bytes += n;
        Ok(())
    }

    /// After pixel bytes are consumed: finish the line group and the page when complete.
    fn settle(&mut self) {
        if !matches!(self.state, PwgState::Pixels(0)) {
            return;
        }
        if self.line_bytes < self.bytes_per_line {
            self.state = PwgState::Control;
            return;
        }
        self.lines_done += self.repeat;
        if self.lines_done >= self.height {
            self.pages += 1;
            self.state = PwgState::Header;
            self.buf.clear();
        } else {
            self.state = PwgState::LineRepeat;
        }
    }

    fn complete_fixed_part(&mut self) -> Result<(), DocumentError> {
        match self.state {
            PwgState::Sync => {
                if self.buf != b"RaS2" {
                    return Err(DocumentError::Malformed(
                        "PWG raster does not start with RaS2".into(),
                    ));
                }
                self.buf.clear();
                self.state = PwgState::Header;
            }
            PwgState::Header => {
                let h = &self.buf;
                let width = be32(h, 372) as usize;
                let height = be32(h, 376) as u64;
                let bits_per_pixel = be32(h, 388) as usize;
                let bytes_per_line = be32(h, 392) as usize;
                if width == 0
                    || height == 0
                    || bits_per_pixel == 0
                    || bits_per_pixel > 64
                    || bytes_per_line == 0
                    || bytes_per_line != (width * bits_per_pixel).div_ceil(8)
                {
                    return Err(DocumentError::Malformed(
                        "PWG raster page header is inconsistent".into(),
                    ));
                }
                self.bytes_per_line = bytes_per_line;
                self.bytes_per_pixel = bits_per_pixel.div_ceil(8);
                self.height = height;
                self.lines_done = 0;
                self.buf.clear();
                self.state = PwgState::LineRepeat;
            }
            _ => {}
        }
        Ok(())
    }

    pub fn finish(self) -> Result<u32, DocumentError> {
        match self.state {
            PwgState::Header if self.buf.is_empty() && self.pages > 0 => Ok(self.pages),
            _ if self.pages == 0 => Err(DocumentError::Malformed(
                "PWG raster contains no complete page".into(),
            )),
            _ => Err(DocumentError::Malformed(
                "PWG raster ends in the middle of a page".into(),
            )),
        }
    }
}

/// Apple raster: the file header carries the page count.
pub struct UrfScan {
    head: Vec<u8>,
    len: u64,
}

impl UrfScan {
    pub fn new() -> UrfScan {
        UrfScan {
            head: Vec::new(),
            len: 0,
        }
    }

    pub fn feed(&mut self, data: &[u8]) -> Result<(), DocumentError> {
        self.len += data.len() as u64;
        if self.head.len() < 12 {
            let take = (12 - self.head.len()).min(data.len());
            self.head.extend_from_slice(&data[..take]);
        }
        Ok(())
    }

    pub fn finish(self) -> Result<u32, DocumentError> {
        if self.head.len() < 12 || &self.head[..8] != b"UNIRAST\0" {
            return Err(DocumentError::Malformed(
                "Apple raster header is missing".into(),
            ));
        }
        let pages = be32(&self.head, 8);
        // Each page has at least a 32-byte header.
        if pages == 0 || self.len < 12 + 32 * pages as u64 {
            return Err(DocumentError::Malformed(
                "Apple raster is shorter than its page count".into(),
            ));
        }
        Ok(pages)
    }
}

/// JPEG: one page; the end-of-image marker must be present.
pub struct JpegScan {
    tail: Vec<u8>,
}

impl JpegScan {
    pub fn new() -> JpegScan {
        JpegScan { tail: Vec::new() }
    }

    pub fn feed(&mut self, data: &[u8]) {
        self.tail.extend_from_slice(data);
        if self.tail.len() > 64 {
            self.tail.drain(..self.tail.len() - 64);
        }
    }

    pub fn finish(self) -> Result<u32, DocumentError> {
        if self.tail.windows(2).any(|w| w == [0xFF, 0xD9]) {
            Ok(1)
        } else {
            Err(DocumentError::Malformed(
                "the JPEG has no end-of-image marker (truncated?)".into(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One PWG raster page of `width`×`height` 8-bit grey, compressed as blank lines.
    fn pwg_page(width: u32, height: u32) -> Vec<u8> {
        let mut h = vec![0u8; PWG_HEADER];
        h[372..376].copy_from_slice(&width.to_be_bytes());
        h[376..380].copy_from_slice(&height.to_be_bytes());
        h[388..392].copy_from_slice(&8u32.to_be_bytes());
        h[392..396].copy_from_slice(&width.to_be_bytes());
        let mut page = h;
        // Line groups of up to 256 lines, each a run of `width` identical pixels.
        let mut left = height;
        while left > 0 {
            let n = left.min(256);
            page.push((n - 1) as u8);
            let mut px = width;
            while px > 0 {
                let run = px.min(128);
                page.push((run - 1) as u8);
                page.push(0xFF);
                px -= run;
            }
            left -= n;
        }
        page
    }

    fn scan(data: &[u8], chunk: usize) -> Result<u32, DocumentError> {
        let mut s = PwgScan::new();
        for c in data.chunks(chunk) {
            s.feed(c)?;
        }
        s.finish()
    }

    #[test]
    fn pwg_raster_pages_are_counted_whatever_the_chunking() {
        let mut doc = b"RaS2".to_vec();
        for _ in 0..3 {
            doc.extend(pwg_page(300, 700));
        }
        for chunk in [1, 7, 4096] {
            assert_eq!(scan(&doc, chunk), Ok(3));
        }
    }

    #[test]
    fn a_truncated_pwg_page_is_malformed() {
        let mut doc = b"RaS2".to_vec();
        doc.extend(pwg_page(300, 700));
        doc.extend(pwg_page(300, 700));
        doc.truncate(doc.len() - 3);
        assert!(scan(&doc, 512).is_err());
    }

    #[test]
    fn urf_page_count_comes_from_its_header() {
        let mut doc = b"UNIRAST\0".to_vec();
        doc.extend(2u32.to_be_bytes());
        doc.extend([0u8; 200]);
        let mut s = UrfScan::new();
        s.feed(&doc).unwrap();
        assert_eq!(s.finish(), Ok(2));
    }

    #[test]
    fn a_jpeg_without_end_marker_is_malformed() {
        let mut s = JpegScan::new();
        s.feed(&[0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]);
        assert!(s.finish().is_err());
    }
}
