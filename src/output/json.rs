//! JSON for programs: one document per run, `"schema": 1`.

use std::io::{self, Write};

use serde::Serialize;

use super::Document;
use crate::report::SCHEMA_VERSION;

/// Writes `report` as one pretty-printed JSON document.
pub fn render(report: &Document, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    writeln!(out)
}

/// The document printed instead of a report when kmsdns could not run.
#[derive(Debug, Serialize)]
pub struct ErrorDocument<'a> {
    pub schema: u32,
    pub command: Option<&'a str>,
    pub status: &'static str,
    pub error: String,
}

/// Writes an error as a JSON document, so `--format json` consumers always get JSON.
pub fn render_error(command: Option<&str>, error: &str, out: &mut dyn Write) -> io::Result<()> {
    let doc = ErrorDocument {
        schema: SCHEMA_VERSION,
        command,
        status: "unknown",
        error: error.to_string(),
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}
