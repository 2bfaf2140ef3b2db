//! Black & white scans as copiers make them: cover sheets printed by `folio scan cover-sheet`
//! and pages rendered by Ghostscript at 300 dpi into a multi-page CCITT Group 4 TIFF
//! (`-sDEVICE=tiffg4`, as a copier's scan-to-TIFF), and the same TIFF wrapped into a PDF by
//! libtiff's `tiff2pdf` (CCITT images inside a PDF, as many copiers' scan-to-PDF). Both are
//! split by their cover sheets, sealed and deposited; the deposited renditions render. The same
//! PDF re-encoded by Ghostscript in CCITT Group 3, which Folio cannot read yet, is quarantined
//! with the reason, never split blind.

use std::path::Path;
use std::process::Command;

use crate::common::archive::{
    add_copier, archive_services, identity_service, tsa, upload_accepted, wait_for,
};
use crate::common::directory::{write_ldif, TestUser};
use crate::common::{both_backends, folio_cli, TestApp, INSTALL_HINT};
use testkit::scan::{scanned_pdf, ScanPage};

/// Runs a tool to completion; a missing tool fails the test and says how to get it.
fn run(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}: {INSTALL_HINT}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs Ghostscript quietly, in safe mode, over `args`.
fn ghostscript(args: &[&str]) {
    let mut all = vec!["-q", "-dNOPAUSE", "-dBATCH", "-dSAFER"];
    all.extend_from_slice(args);
    run("gs", &all);
}

/// The batch a copier would make of: cover sheet 800001, two pages, cover sheet 800004, one
/// page; as a Group 4 TIFF and as that TIFF wrapped in a PDF.
fn black_and_white_batch(dir: &Path) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let path = |name: &str| dir.join(name).display().to_string();
    for (patient, category) in [("800001", "CRH"), ("800004", "BIO")] {
        let cover = folio_cli(
            dir,
            None,
            &[
                "scan",
                "cover-sheet",
                "--patient",
                patient,
                "--encounter",
                "NDA-7",
                "--category",
                category,
                "-o",
                &path(&format!("cover-{patient}.pdf")),
            ],
        );
        assert_eq!(cover.code, 0, "{}", cover.stderr);
    }
    for n in 1..=3 {
        let page = scanned_pdf(&[ScanPage::Text(n)], 150.0).unwrap();
        std::fs::write(path(&format!("text-{n}.pdf")), page).unwrap();
    }
    let tif = path("batch.tif");
    ghostscript(&[
        "-sDEVICE=tiffg4",
        "-r300",
        "-sPAPERSIZE=a4",
        &format!("-sOutputFile={tif}"),
        &path("cover-800001.pdf"),
        &path("text-1.pdf"),
        &path("text-2.pdf"),
        &path("cover-800004.pdf"),
        &path("text-3.pdf"),
    ]);
    let pdf = path("batch.pdf");
    run("tiff2pdf", &["-o", &pdf, &tif]);
    // The same pages in one-dimensional Group 3 (older copiers and fax servers): Ghostscript
    // re-encodes the bilevel images with K 0.
    ghostscript(&[
        "-sDEVICE=pdfwrite",
        "-dAutoFilterMonoImages=false",
        "-dMonoImageFilter=/CCITTFaxEncode",
        &format!("-sOutputFile={}", path("batch-g3.pdf")),
        "-c",
        "<< /MonoImageDict << /K 0 >> >> setdistillerparams",
        "-f",
        &pdf,
    ]);
    let (tif, pdf) = (std::fs::read(tif).unwrap(), std::fs::read(pdf).unwrap());
    assert!(tif.starts_with(b"II*\0") || tif.starts_with(b"MM\0*"));
    assert!(
        pdf.windows(14).any(|w| w == b"CCITTFaxDecode"),
        "tiff2pdf kept the Group 4 pages"
    );
    let g3 = std::fs::read(path("batch-g3.pdf")).unwrap();
    // Ghostscript leaves K out when it is 0 (it may keep some images in Group 4).
    let marker = b"/DecodeParms<</Columns";
    assert!(
        g3.windows(marker.len()).any(|w| w == marker),
        "Ghostscript wrote Group 3 pages"
    );
    (tif, pdf, g3)
}

/// How much of a page rendered by Ghostscript at 20 dpi is ink (0 to 1).
fn ink_share(pdf: &Path, page: usize, dir: &Path) -> f64 {
    let pgm = dir.join(format!("page-{page}.pgm"));
    ghostscript(&[
        "-dPDFSTOPONERROR",
        "-sDEVICE=pgmraw",
        "-r20",
        &format!("-dFirstPage={page}"),
        &format!("-dLastPage={page}"),
        &format!("-sOutputFile={}", pgm.display()),
        &pdf.display().to_string(),
    ]);
    let bytes = std::fs::read(&pgm).unwrap();
    // "P5\n<w> <h>\n255\n" then the pixels.
    let mut fields = 0;
    let mut at = 0;
    while fields < 4 {
        while bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        while !bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        fields += 1;
    }
    let pixels = &bytes[at + 1..];
    pixels.iter().filter(|p| **p < 128).count() as f64 / pixels.len() as f64
}

both_backends!(
    black_and_white_tiff_and_ccitt_pdf_scans_are_split_sealed_and_deposited,
    |backend| {
        let data = tempfile::tempdir().unwrap();
        write_ldif(
            &data.path().join("directory.ldif"),
            &[TestUser::new("nina")],
        );
        let work = tempfile::tempdir().unwrap();
        let (tif, pdf, g3) = black_and_white_batch(work.path());
        let tsa_dir = tempfile::tempdir().unwrap();
        let tsa_url = tsa(tsa_dir.path());
        let ca = tsa_dir.path().join("ca.pem").display().to_string();
        let deposit = tempfile::tempdir().unwrap();
        let deposit_dir = deposit.path().display().to_string();
        let identity = identity_service(false);
        let server = TestApp::builder(backend)
            .data_dir(data.path())
            .settings(|s| {
                archive_services(s, &identity, &tsa_url);
                s.archive.identity_system = "urn:oid:1.2.250.1.999.1.1".into();
                s.archive.tsa_ca_file = ca.clone().into();
                s.archive.deposit_dir = deposit_dir.clone().into();
            })
            .start();
        let token = add_copier(&server, "records-copier");
        for (batch, content_type, format) in [
            (&tif, "image/tiff", "tiff"),
            (&pdf, "application/pdf", "pdf"),
        ] {
            let id = upload_accepted(
                &server,
                &token,
                batch,
                &[
                    ("Content-Type", content_type),
                    ("X-Folio-Metadata", r#"{"user":"nina"}"#),
                ],
            );
            let v = wait_for(&server, &token, id, |v| {
                v["documents"].as_array().is_some_and(|d| {
                    d.len() == 2
                        && d.iter()
                            .all(|x| x["stage"] == "done" || x["stage"] == "quarantined")
                })
            });
            assert_eq!(v["format"], format, "{v}");
            assert_eq!(v["pages"], 5, "{v}");
            let docs = v["documents"].as_array().unwrap();
            for d in docs {
                assert_eq!(d["stage"], "done", "{format}: {d}");
            }
            assert_eq!(docs[0]["patient"], "800001");
            assert_eq!(docs[0]["pages"], serde_json::json!([1, 2]));
            assert_eq!(docs[0]["category"], "CRH");
            assert_eq!(docs[1]["patient"], "800004");
            assert_eq!(docs[1]["pages"], serde_json::json!([4]));
        }

        // Group 3 pages: quarantined at the split, saying why.
        let id = upload_accepted(
            &server,
            &token,
            &g3,
            &[("X-Folio-Metadata", r#"{"user":"nina"}"#)],
        );
        let v = wait_for(&server, &token, id, |v| v["stage"] == "quarantined");
        assert_eq!(v["quarantine"]["stage"], "split", "{v}");
        assert!(
            v["quarantine"]["reason"]
                .as_str()
                .unwrap()
                .contains("CCITT Group 3, which Folio cannot read yet"),
            "{v}"
        );

        // Four renditions deposited; each renders, with ink on a white page.
        let renditions: Vec<std::path::PathBuf> = crate::common::files_under(deposit.path())
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
            .collect();
        assert_eq!(renditions.len(), 4, "{renditions:?}");
        let mut pages_seen = 0;
        for r in &renditions {
            let doc = lopdf::Document::load(r).unwrap();
            let pages = doc.get_pages().len();
            assert!(pages == 1 || pages == 2, "{}: {pages} pages", r.display());
            for page in 1..=pages {
                let ink = ink_share(r, page, work.path());
                assert!(
                    (0.002..0.5).contains(&ink),
                    "{} page {page}: {ink} of the page is ink",
                    r.display()
                );
                pages_seen += 1;
            }
        }
        assert_eq!(pages_seen, 6);
    }
);
