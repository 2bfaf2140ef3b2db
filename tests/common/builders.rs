//! Builders for what the tests make again and again: print jobs (`TestJob`) and devices
//! (`TestDevice`). Users are [`super::directory::TestUser`], servers
//! [`super::TestApp::builder`], scanned batches `testkit::scan::ScanPage`.

use super::{op, parse_response, status, tag, IppResponse, RawIpp, TestApp};

/// A print job to submit over IPP (Print-Job).
#[derive(Clone)]
pub struct TestJob {
    document: Vec<u8>,
    format: Option<String>,
    owner: Option<String>,
    name: Option<String>,
    colour: bool,
    sides: Option<String>,
    copies: Option<i32>,
    keywords: Vec<(String, String)>,
}

impl TestJob {
    /// A PDF of `pages` pages (`testkit::sample_pdf`), declared as `application/pdf`.
    pub fn pdf(pages: usize) -> TestJob {
        TestJob::document(testkit::sample_pdf(pages)).format("application/pdf")
    }

    /// Any bytes, with no declared format (the server sniffs it) unless [`TestJob::format`].
    pub fn document(bytes: Vec<u8>) -> TestJob {
        TestJob {
            document: bytes,
            format: None,
            owner: None,
            name: None,
            colour: false,
            sides: None,
            copies: None,
            keywords: Vec::new(),
        }
    }

    /// `document-format`.
    pub fn format(mut self, mime: &str) -> TestJob {
        self.format = Some(mime.to_owned());
        self
    }

    /// `requesting-user-name` (none: anonymous).
    pub fn owner(mut self, user: &str) -> TestJob {
        self.owner = Some(user.to_owned());
        self
    }

    /// `job-name`.
    pub fn name(mut self, name: &str) -> TestJob {
        self.name = Some(name.to_owned());
        self
    }

    /// Asks for colour (`print-color-mode=color`).
    pub fn colour(mut self) -> TestJob {
        self.colour = true;
        self
    }

    /// `sides` (`one-sided`, `two-sided-long-edge`…).
    pub fn sides(mut self, sides: &str) -> TestJob {
        self.sides = Some(sides.to_owned());
        self
    }

    /// `copies`.
    pub fn copies(mut self, n: i32) -> TestJob {
        self.copies = Some(n);
        self
    }

    /// Any other job-template keyword (`media-col` excepted): `print-quality`, `finishings`…
    pub fn keyword(mut self, name: &str, value: &str) -> TestJob {
        self.keywords.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The encoded Print-Job request for `server`'s queue.
    pub fn request(&self, server: &TestApp) -> Vec<u8> {
        let mut req = RawIpp::new(op::PRINT_JOB).operation_prelude(&server.ipp_uri());
        if let Some(owner) = &self.owner {
            req = req.attr_str(tag::NAME_WITHOUT_LANGUAGE, "requesting-user-name", owner);
        }
        if let Some(name) = &self.name {
            req = req.attr_str(tag::NAME_WITHOUT_LANGUAGE, "job-name", name);
        }
        if let Some(format) = &self.format {
            req = req.attr_str(tag::MIME_MEDIA_TYPE, "document-format", format);
        }
        if self.colour || self.sides.is_some() || self.copies.is_some() || !self.keywords.is_empty()
        {
            req = req.group(tag::JOB_ATTRIBUTES);
            if self.colour {
                req = req.attr_str(tag::KEYWORD, "print-color-mode", "color");
            }
            if let Some(sides) = &self.sides {
                req = req.attr_str(tag::KEYWORD, "sides", sides);
            }
            if let Some(n) = self.copies {
                req = req.attr_i32(tag::INTEGER, "copies", n);
            }
            for (name, value) in &self.keywords {
                req = req.attr_str(tag::KEYWORD, name, value);
            }
        }
        req.document(&self.document).build()
    }

    /// Submits it; the IPP answer (whatever its status).
    pub fn submit(&self, server: &TestApp) -> IppResponse {
        let (http, body) = server.post_ipp(&self.request(server));
        assert_eq!(http, 200, "IPP answers travel in an HTTP 200");
        parse_response(&body).expect("a well-formed IPP response")
    }

    /// Submits it, expecting it held; its job id.
    pub fn held(&self, server: &TestApp) -> i32 {
        let r = self.submit(server);
        assert_eq!(
            r.status,
            status::SUCCESSFUL_OK,
            "{:?}",
            r.text("status-message")
        );
        r.integer("job-id").expect("an accepted job has an id")
    }
}

/// A device added with the command line, as IT adds one.
pub struct TestDevice {
    name: String,
    uri: String,
    driver: String,
    site: Option<String>,
}

impl TestDevice {
    /// A copier named `name` at `uri`, with the IPP Everywhere profile.
    pub fn new(name: &str, uri: &str) -> TestDevice {
        TestDevice {
            name: name.to_owned(),
            uri: uri.to_owned(),
            driver: "ipp-everywhere".into(),
            site: None,
        }
    }

    /// Its driver profile.
    pub fn driver(mut self, driver: &str) -> TestDevice {
        self.driver = driver.to_owned();
        self
    }

    /// The site it stands at (rules may keep documents to a site).
    pub fn site(mut self, site: &str) -> TestDevice {
        self.site = Some(site.to_owned());
        self
    }

    /// Adds it on `server`'s data directory and database; its token.
    pub fn add(&self, server: &TestApp) -> String {
        self.add_to(&server.data_dir, server.db_url.as_deref())
    }

    /// Adds it on a data directory and database (before or between servers); its token.
    pub fn add_to(&self, data: &std::path::Path, db_url: Option<&str>) -> String {
        let mut args = vec![
            "device",
            "add",
            "--json",
            "--name",
            &self.name,
            "--uri",
            &self.uri,
            "--driver",
            &self.driver,
        ];
        if let Some(site) = &self.site {
            args.extend(["--site", site]);
        }
        let out = super::folio_cli(data, db_url, &args);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        v["token"].as_str().unwrap().to_owned()
    }
}
