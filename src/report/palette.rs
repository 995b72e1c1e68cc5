//! How text output is styled: colour on a terminal, plain otherwise, and
//! internationalised names in Unicode. Used by every command's text
//! rendering.

use std::borrow::Cow;

use hickory_proto::rr::Name;
use owo_colors::{OwoColorize, Style};

use super::Severity;

/// Whether to colour the output; decided once by the caller from
/// `--color`, `NO_COLOR` and whether stdout is a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Palette {
    pub color: bool,
}

impl Palette {
    /// `text` in `style` when colouring, plain otherwise.
    pub fn paint(&self, text: &str, style: Style) -> String {
        if self.color {
            text.style(style).to_string()
        } else {
            text.to_string()
        }
    }

    /// A severity word, coloured by severity.
    pub fn severity(&self, severity: Severity) -> String {
        let style = match severity {
            Severity::Ok => Style::new().green(),
            Severity::Info => Style::new().blue(),
            Severity::Warning => Style::new().yellow().bold(),
            Severity::Critical => Style::new().red().bold(),
        };
        self.paint(severity_word(severity), style)
    }

    /// The overall status, upper-case, coloured by severity.
    pub fn status(&self, severity: Severity) -> String {
        let word = severity_word(severity).to_uppercase();
        match severity {
            Severity::Ok | Severity::Info => self.paint(&word, Style::new().green().bold()),
            Severity::Warning => self.paint(&word, Style::new().yellow().bold()),
            Severity::Critical => self.paint(&word, Style::new().red().bold()),
        }
    }

    /// A heading (domain names), names in Unicode ([`unicode_names`]).
    pub fn heading(&self, text: &str) -> String {
        self.paint(&unicode_names(text), Style::new().bold())
    }

    /// A heading followed by what is known about it, dimmed and in
    /// parentheses: `corp.example. (zone corp.example., TTL 3600)`, the
    /// first line of a domain or zone in every command's text output.
    pub fn heading_about(&self, heading: &str, about: &[String]) -> String {
        format!(
            "{} {}",
            self.heading(heading),
            self.dim(&format!("({})", about.join(", ")))
        )
    }

    /// Something of secondary importance (hints, ids).
    pub fn dim(&self, text: &str) -> String {
        self.paint(text, Style::new().dimmed())
    }
}

/// `text` with each word that is an internationalised domain name in
/// punycode (RFC 3492, `xn--` labels) written in Unicode, as its users
/// write it: `xn--bcher-kva.example.` reads `bücher.example.`. Headings
/// use it; record lines keep the wire form that zone files and nsupdate
/// take.
pub fn unicode_names(text: &str) -> Cow<'_, str> {
    if !text.to_ascii_lowercase().contains("xn--") {
        return Cow::Borrowed(text);
    }
    let words: Vec<String> = text
        .split(' ')
        .map(|word| match Name::from_ascii(word) {
            Ok(name) if word.to_ascii_lowercase().contains("xn--") => name.to_utf8(),
            _ => word.to_string(),
        })
        .collect();
    Cow::Owned(words.join(" "))
}

/// The lowercase word for a severity.
pub fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Ok => "ok",
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_show_internationalised_names_in_unicode() {
        assert_eq!(unicode_names("xn--bcher-kva.example."), "bücher.example.");
        assert_eq!(
            unicode_names("zone xn--bcher-kva.example (primary 127.0.0.1:53)"),
            "zone bücher.example (primary 127.0.0.1:53)"
        );
        assert_eq!(unicode_names("corp.example."), "corp.example.");
        let palette = Palette { color: false };
        assert_eq!(palette.heading("xn--bcher-kva.example."), "bücher.example.");
    }
}
