//! `check` output: the JSON details type and its text rendering.

use std::io::{self, Write};

use serde::Serialize;

use super::text::Palette;

/// What `check` shows above its findings.
#[derive(Debug, Clone, Serialize)]
pub struct CheckDetails {}

/// Writes the details as text.
pub fn render(_details: &CheckDetails, _palette: Palette, _out: &mut dyn Write) -> io::Result<()> {
    Ok(())
}
