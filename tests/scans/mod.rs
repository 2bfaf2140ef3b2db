//! Scans received: HTTP uploads, FTP(S), watched folders, TIFF batches.

mod capture;
mod ftp;
mod tiff;
