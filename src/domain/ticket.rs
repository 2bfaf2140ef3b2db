//! The settings of a job ticket and the document formats Folio accepts.

/// IPP `sides`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sides {
    /// "one-sided"
    OneSided = 0,
    /// "two-sided-long-edge"
    TwoSidedLongEdge = 1,
    /// "two-sided-short-edge"
    TwoSidedShortEdge = 2,
}

impl Sides {
    /// Parses the IPP keyword.
    pub fn parse(keyword: &str) -> Option<Sides> {
        match keyword {
            "one-sided" => Some(Sides::OneSided),
            "two-sided-long-edge" => Some(Sides::TwoSidedLongEdge),
            "two-sided-short-edge" => Some(Sides::TwoSidedShortEdge),
            _ => None,
        }
    }

    /// The IPP keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            Sides::OneSided => "one-sided",
            Sides::TwoSidedLongEdge => "two-sided-long-edge",
            Sides::TwoSidedShortEdge => "two-sided-short-edge",
        }
    }

    /// True when both sides of the sheet are printed.
    pub fn is_duplex(self) -> bool {
        self != Sides::OneSided
    }

    /// Database representation.
    pub fn code(self) -> i16 {
        self as i16
    }

    /// Reads the database representation; unknown codes read as duplex (the safe default).
    pub fn from_code(code: i16) -> Sides {
        match code {
            0 => Sides::OneSided,
            2 => Sides::TwoSidedShortEdge,
            _ => Sides::TwoSidedLongEdge,
        }
    }
}

/// IPP `print-color-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColorMode {
    /// "auto": the printer decides from the document.
    Auto = 0,
    /// "color"
    Color = 1,
    /// "monochrome": shades of grey.
    Monochrome = 2,
    /// "bi-level": black and white only.
    BiLevel = 3,
}

impl ColorMode {
    /// Parses the IPP keyword.
    pub fn parse(keyword: &str) -> Option<ColorMode> {
        match keyword {
            "auto" => Some(ColorMode::Auto),
            "color" => Some(ColorMode::Color),
            "monochrome" => Some(ColorMode::Monochrome),
            "bi-level" => Some(ColorMode::BiLevel),
            _ => None,
        }
    }

    /// The IPP keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            ColorMode::Auto => "auto",
            ColorMode::Color => "color",
            ColorMode::Monochrome => "monochrome",
            ColorMode::BiLevel => "bi-level",
        }
    }

    /// True when the mode prints without colour.
    pub fn is_mono(self) -> bool {
        matches!(self, ColorMode::Monochrome | ColorMode::BiLevel)
    }

    /// Database representation.
    pub fn code(self) -> i16 {
        self as i16
    }

    /// Reads the database representation; unknown codes read as monochrome (the safe default).
    pub fn from_code(code: i16) -> ColorMode {
        match code {
            0 => ColorMode::Auto,
            1 => ColorMode::Color,
            3 => ColorMode::BiLevel,
            _ => ColorMode::Monochrome,
        }
    }
}

/// A document format Folio accepts, by its MIME type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocumentFormat {
    /// "application/pdf"
    Pdf = 1,
    /// "image/pwg-raster"
    PwgRaster = 2,
    /// "image/urf" (Apple raster)
    Urf = 3,
    /// "image/jpeg"
    Jpeg = 4,
}

impl DocumentFormat {
    /// Every accepted format, in the order advertised.
    pub const ALL: [DocumentFormat; 4] = [
        DocumentFormat::Pdf,
        DocumentFormat::PwgRaster,
        DocumentFormat::Urf,
        DocumentFormat::Jpeg,
    ];

    /// The MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            DocumentFormat::Pdf => "application/pdf",
            DocumentFormat::PwgRaster => "image/pwg-raster",
            DocumentFormat::Urf => "image/urf",
            DocumentFormat::Jpeg => "image/jpeg",
        }
    }

    /// Parses a MIME type (case-insensitive, parameters ignored).
    pub fn from_mime(mime: &str) -> Option<DocumentFormat> {
        let base = mime.split(';').next().unwrap_or("").trim();
        DocumentFormat::ALL
            .into_iter()
            .find(|f| f.mime().eq_ignore_ascii_case(base))
    }

    /// Recognises a format from the first bytes of a document.
    pub fn sniff(head: &[u8]) -> Option<DocumentFormat> {
        // A PDF may start with a few bytes of garbage (PDF 32000 tolerates up to 1024).
        let window = &head[..head.len().min(1024)];
        if window.windows(5).any(|w| w == b"%PDF-") {
            return Some(DocumentFormat::Pdf);
        }
        if head.starts_with(b"RaS2") {
            return Some(DocumentFormat::PwgRaster);
        }
        if head.starts_with(b"UNIRAST\0") {
            return Some(DocumentFormat::Urf);
        }
        if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
            return Some(DocumentFormat::Jpeg);
        }
        None
    }

    /// Database representation.
    pub fn code(self) -> i16 {
        self as i16
    }

    /// Reads the database representation.
    pub fn from_code(code: i16) -> Option<DocumentFormat> {
        DocumentFormat::ALL.into_iter().find(|f| f.code() == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_sniffed_from_their_magic_bytes() {
        assert_eq!(
            DocumentFormat::sniff(b"%PDF-1.7\n"),
            Some(DocumentFormat::Pdf)
        );
        assert_eq!(
            DocumentFormat::sniff(b"RaS2...."),
            Some(DocumentFormat::PwgRaster)
        );
        assert_eq!(
            DocumentFormat::sniff(b"UNIRAST\0\0\0\0\x01"),
            Some(DocumentFormat::Urf)
        );
        assert_eq!(
            DocumentFormat::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(DocumentFormat::Jpeg)
        );
        assert_eq!(DocumentFormat::sniff(b"hello"), None);
    }

    #[test]
    fn mime_types_parse_case_insensitively_and_ignore_parameters() {
        assert_eq!(
            DocumentFormat::from_mime("Application/PDF; charset=x"),
            Some(DocumentFormat::Pdf)
        );
        assert_eq!(DocumentFormat::from_mime("text/plain"), None);
    }

    #[test]
    fn codes_round_trip() {
        for f in DocumentFormat::ALL {
            assert_eq!(DocumentFormat::from_code(f.code()), Some(f));
        }
        for s in [
            Sides::OneSided,
            Sides::TwoSidedLongEdge,
            Sides::TwoSidedShortEdge,
        ] {
            assert_eq!(Sides::from_code(s.code()), s);
        }
        for c in [
            ColorMode::Auto,
            ColorMode::Color,
            ColorMode::Monochrome,
            ColorMode::BiLevel,
        ] {
            assert_eq!(ColorMode::from_code(c.code()), c);
        }
    }
}
