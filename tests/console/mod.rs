//! The IT console and My printing, in headless Chromium and over HTTP.

mod actions;
mod pages;
