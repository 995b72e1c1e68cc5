//! `probe` output: the JSON details type and its text rendering.

use std::io::{self, Write};

use serde::Serialize;

use super::text::Palette;

/// What `probe` shows above its findings.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeDetails {}

/// Writes the details as text.
pub fn render(_details: &ProbeDetails, _palette: Palette, _out: &mut dyn Write) -> io::Result<()> {
    Ok(())
}
