//! JSON for programs: one document per run, `"schema": 1`.
//!
//! A command run window by window (`--window`) writes its document from
//! spools, so that a run keeps only one window's domains in memory: each
//! window's per-domain and per-zone arrays (any `domains[]` or `zones[]`
//! of its details) and its findings go, pretty-printed at the nesting
//! they have in the document, to unnamed temporary files; the rest of the
//! details (the last window's) is kept as text. At the end the document
//! is written field by field, the arrays copied from the spools: the same
//! bytes as [`render`] writes for a report of the whole estate.

use std::cell::RefCell;
use std::io::{self, BufRead, BufReader, Read, Write};

use serde::Serialize;
use serde_json::ser::{Formatter, PrettyFormatter, Serializer};

use super::spool::Spool;
use super::Document;
use crate::report::{Finding, Severity, Summary, SCHEMA_VERSION};

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

/// The keys of the arrays of details that hold one entry per domain or
/// zone: spooled, wherever they are in the details (`check.domains` in
/// `audit`), but inside another such array (a zone's `domains`).
const ESTATE: [&str; 2] = ["domains", "zones"];

/// A JSON document fed window by window.
pub(super) struct JsonSpool {
    /// Each spooled array, by its path in the details (`check.domains`):
    /// its elements as [`element`] writes them.
    arrays: Vec<(String, Spool)>,
    /// The document's findings, as [`element`] writes them.
    findings: Spool,
    /// The last window's details without their spooled arrays.
    skeleton: Option<Vec<Piece>>,
}

/// A part of the details as written: text, or where a spooled array goes.
enum Piece {
    Text(Vec<u8>),
    /// The array `arrays[at]`, opened at `depth` (objects and arrays
    /// around it, the document's included).
    Array {
        at: usize,
        depth: usize,
    },
}

impl JsonSpool {
    pub(super) fn new() -> io::Result<Self> {
        Ok(JsonSpool {
            arrays: Vec::new(),
            findings: Spool::new()?,
            skeleton: None,
        })
    }

    /// Takes a window's details: their arrays of domains and zones go to
    /// the spools, the rest replaces the previous window's.
    pub(super) fn details(&mut self, details: &impl Serialize) -> io::Result<()> {
        let routes = RefCell::new(Routes {
            arrays: &mut self.arrays,
            skeleton: Vec::new(),
            into: None,
        });
        let mut serializer = Serializer::with_formatter(Router(&routes), Splitter::new(&routes));
        details.serialize(&mut serializer)?;
        drop(serializer);
        self.skeleton = Some(routes.into_inner().skeleton);
        Ok(())
    }

    /// Takes findings, in the document's order.
    pub(super) fn findings<'a>(
        &mut self,
        findings: impl IntoIterator<Item = &'a Finding>,
    ) -> io::Result<()> {
        for finding in findings {
            element(finding, FINDINGS_DEPTH, &mut self.findings)?;
        }
        Ok(())
    }

    /// Why a spool's file took no more (see [`Spool`]).
    pub(super) fn failure(&self) -> Option<&io::Error> {
        let arrays = self.arrays.iter().map(|(_, spool)| spool);
        arrays.chain([&self.findings]).find_map(Spool::failure)
    }

    /// Writes the document: `command`'s, with the run's status and
    /// summary, the details kept and spooled, and the findings spooled
    /// between `before` and `after` (the findings about no domain).
    pub(super) fn write(
        mut self,
        command: &str,
        (status, summary): (Severity, Summary),
        (before, after): (&[Finding], &[Finding]),
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let mut document = inside(0);
        document.begin_object(out)?;
        field(&mut document, true, "schema", &SCHEMA_VERSION, out)?;
        field(&mut document, false, "command", &command, out)?;
        field(&mut document, false, "status", &status, out)?;
        field(&mut document, false, "summary", &summary, out)?;
        if let Some(skeleton) = &self.skeleton {
            key(&mut document, false, "details", out)?;
            for piece in skeleton {
                match piece {
                    Piece::Text(text) => out.write_all(text)?,
                    Piece::Array { at, depth } => {
                        write_array(*depth, self.arrays[*at].1.reader()?, out)?;
                    }
                }
            }
            document.end_object_value(out)?;
        }
        let (mut first, mut last) = (Vec::new(), Vec::new());
        for finding in before {
            element(finding, FINDINGS_DEPTH, &mut first)?;
        }
        for finding in after {
            element(finding, FINDINGS_DEPTH, &mut last)?;
        }
        key(&mut document, false, "findings", out)?;
        let findings = first
            .as_slice()
            .chain(self.findings.reader()?)
            .chain(last.as_slice());
        write_array(1, findings, out)?;
        document.end_object_value(out)?;
        document.end_object(out)?;
        writeln!(out)
    }
}

/// The nesting of a finding in the document: in `findings[]`.
const FINDINGS_DEPTH: usize = 2;

/// Writes `value` as an element of an array opened at `depth - 1`: after
/// `,\n` and its indent, as serde_json writes an element but the first,
/// since a spool's first element may follow another window's (the first
/// comma is dropped when the array is written).
fn element(value: &impl Serialize, depth: usize, out: &mut impl Write) -> io::Result<()> {
    let mut formatter = inside(depth);
    formatter.begin_array_value(out, false)?;
    value.serialize(&mut Serializer::with_formatter(out, formatter))?;
    Ok(())
}

/// Writes an array opened at `depth` whose elements are `elements`, as
/// [`element`] writes them.
fn write_array(depth: usize, elements: impl Read, out: &mut dyn Write) -> io::Result<()> {
    let mut formatter = inside(depth);
    let mut elements = BufReader::new(elements);
    formatter.begin_array(out)?;
    if !elements.fill_buf()?.is_empty() {
        // The first element's comma: no element comes before it.
        elements.consume(1);
        io::copy(&mut elements, out)?;
        formatter.end_array_value(out)?;
    }
    formatter.end_array(out)
}

/// Writes a field of an object, `key` and `value`, as serde does.
fn field(
    formatter: &mut PrettyFormatter<'static>,
    first: bool,
    name: &str,
    value: &impl Serialize,
    out: &mut dyn Write,
) -> io::Result<()> {
    key(formatter, first, name, out)?;
    value.serialize(&mut Serializer::with_formatter(
        &mut *out,
        formatter.clone(),
    ))?;
    formatter.end_object_value(out)
}

/// Writes the key of a field, up to its value.
fn key(
    formatter: &mut PrettyFormatter<'static>,
    first: bool,
    name: &str,
    out: &mut dyn Write,
) -> io::Result<()> {
    formatter.begin_object_key(out, first)?;
    serde_json::to_writer(&mut *out, name)?;
    formatter.end_object_key(out)?;
    formatter.begin_object_value(out)
}

/// serde_json's pretty printer as it is inside `depth` objects: what it
/// writes is indented as at that nesting of the document.
fn inside(depth: usize) -> PrettyFormatter<'static> {
    let mut formatter = PrettyFormatter::new();
    for _ in 0..depth {
        // Only its count of open brackets changes.
        let _ = formatter.begin_object(&mut io::sink());
    }
    formatter
}

/// Where the bytes of the details being serialized go: the skeleton, or
/// the spool of the array being written.
struct Routes<'a> {
    arrays: &'a mut Vec<(String, Spool)>,
    skeleton: Vec<Piece>,
    into: Option<usize>,
}

impl Routes<'_> {
    /// Sends what comes to the spool of the array at `path`.
    fn open(&mut self, path: String, depth: usize) -> io::Result<()> {
        let at = match self.arrays.iter().position(|(p, _)| *p == path) {
            Some(at) => at,
            None => {
                self.arrays.push((path, Spool::during_run()));
                self.arrays.len() - 1
            }
        };
        self.skeleton.push(Piece::Array { at, depth });
        self.into = Some(at);
        Ok(())
    }
}

/// The serializer's output: the bytes, where [`Routes`] says.
struct Router<'r, 'a>(&'r RefCell<Routes<'a>>);

impl Write for Router<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut routes = self.0.borrow_mut();
        let routes = &mut *routes;
        match routes.into {
            Some(at) => routes.arrays[at].1.write_all(buf)?,
            None => match routes.skeleton.last_mut() {
                Some(Piece::Text(text)) => text.extend_from_slice(buf),
                _ => routes.skeleton.push(Piece::Text(buf.to_vec())),
            },
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// serde_json's pretty printer that sends the elements of each array of
/// domains or zones to its spool, as [`element`] writes them, and the
/// rest to the skeleton.
struct Splitter<'r, 'a> {
    pretty: PrettyFormatter<'static>,
    routes: &'r RefCell<Routes<'a>>,
    /// Objects and arrays open, the document's included.
    depth: usize,
    /// The depth of the spooled array being written.
    spooling: Option<usize>,
    /// The key being written, and the keys of the values being written.
    key: Option<String>,
    keys: Vec<String>,
    /// Whether what comes is the value of the last of `keys`.
    value: bool,
}

impl<'r, 'a> Splitter<'r, 'a> {
    /// The details are the value of the document's `details`.
    fn new(routes: &'r RefCell<Routes<'a>>) -> Self {
        Splitter {
            pretty: inside(1),
            routes,
            depth: 1,
            spooling: None,
            key: None,
            keys: Vec::new(),
            value: false,
        }
    }

    /// Whether the array or object being written is an element of the
    /// spooled array.
    fn in_spooled(&self) -> bool {
        self.spooling.is_some_and(|depth| self.depth == depth + 1)
    }
}

impl Formatter for Splitter<'_, '_> {
    fn begin_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        let spooled = self.spooling.is_none()
            && std::mem::take(&mut self.value)
            && self
                .keys
                .last()
                .is_some_and(|k| ESTATE.contains(&k.as_str()));
        self.depth += 1;
        if !spooled {
            return self.pretty.begin_array(writer);
        }
        let path = self.keys.join(".");
        self.routes.borrow_mut().open(path, self.depth - 1)?;
        self.spooling = Some(self.depth - 1);
        // Written with the spool's other elements, at the end.
        self.pretty.begin_array(&mut io::sink())
    }

    fn end_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.depth -= 1;
        if self.spooling != Some(self.depth) {
            return self.pretty.end_array(writer);
        }
        self.spooling = None;
        self.routes.borrow_mut().into = None;
        self.pretty.end_array(&mut io::sink())
    }

    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        // An element of a spooled array may follow another window's.
        let first = first && !self.in_spooled();
        self.pretty.begin_array_value(writer, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.end_array_value(writer)
    }

    fn begin_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.value = false;
        self.depth += 1;
        self.pretty.begin_object(writer)
    }

    fn end_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.depth -= 1;
        self.pretty.end_object(writer)
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if self.spooling.is_none() {
            self.key = Some(String::new());
        }
        self.pretty.begin_object_key(writer, first)
    }

    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        if let Some(key) = &mut self.key {
            key.push_str(fragment);
        }
        writer.write_all(fragment.as_bytes())
    }

    fn end_object_key<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        if let Some(key) = self.key.take() {
            self.keys.push(key);
            self.value = true;
        }
        self.pretty.end_object_key(writer)
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        if self.spooling.is_none() {
            self.keys.pop();
        }
        self.value = false;
        self.pretty.end_object_value(writer)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.begin_object_value(writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{FindingId, Report};

    /// Details shaped like the commands': arrays of domains and zones at
    /// the top and in a part, a zone's own `domains`, other arrays and
    /// fields around them, strings that need escaping.
    #[derive(Clone, Serialize)]
    struct Estate {
        domains: Vec<Entry>,
        count: usize,
        #[serde(skip_serializing_if = "Option::is_none")]
        part: Option<Part>,
        hosts: Vec<String>,
    }

    #[derive(Clone, Serialize)]
    struct Part {
        resolver: Option<String>,
        zones: Vec<Zone>,
        empty: Vec<u8>,
    }

    #[derive(Clone, Serialize)]
    struct Entry {
        domain: String,
        status: Severity,
        targets: Vec<Vec<u16>>,
        note: String,
    }

    #[derive(Clone, Serialize)]
    struct Zone {
        zone: String,
        domains: Vec<String>,
        servers: Vec<String>,
    }

    fn estate(domains: usize) -> Estate {
        let name = |at: usize| format!("d{at}.corp.test.");
        Estate {
            domains: (0..domains)
                .map(|at| Entry {
                    domain: name(at),
                    status: Severity::Warning,
                    targets: vec![vec![0, 1688], Vec::new()],
                    note: "a \"quote\",\n a line\t and é".into(),
                })
                .collect(),
            count: domains,
            part: Some(Part {
                resolver: Some("127.0.0.1:53".into()),
                zones: (0..domains)
                    .map(|at| Zone {
                        zone: name(at),
                        domains: vec![name(at)],
                        servers: vec!["ns1.".into(), "ns2.".into()],
                    })
                    .collect(),
                empty: Vec::new(),
            }),
            hosts: vec!["kms.corp.test.".into()],
        }
    }

    /// `whole` cut into windows of `size` domains (and their zones).
    fn windows(whole: &Estate, size: usize) -> Vec<Estate> {
        let count = whole.domains.len();
        (0..count.max(1))
            .step_by(size)
            .map(|start| {
                let range = start..count.min(start + size);
                let part = whole.part.as_ref().map(|p| Part {
                    zones: p.zones[range.clone()].to_vec(),
                    ..p.clone()
                });
                Estate {
                    domains: whole.domains[range].to_vec(),
                    part,
                    ..whole.clone()
                }
            })
            .collect()
    }

    fn finding(at: usize) -> Finding {
        Finding::new(FindingId::SrvOk, Severity::Warning, "as configured \"x\"")
            .domain(format!("d{at}.corp.test."))
    }

    fn general() -> Finding {
        Finding::new(FindingId::KeyFilePermissions, Severity::Info, "readable")
    }

    /// What `to_writer_pretty` writes of the report of the whole estate,
    /// and what the spool writes of it fed `size` domains at a time.
    fn both(whole: &Estate, size: usize, general_first: bool) -> (String, String) {
        let domains = whole.domains.len();
        let mut report = Report::new("check");
        if general_first {
            report.push(general());
        }
        report.extend((0..domains).map(finding));
        if !general_first {
            report.push(general());
        }
        let report = report.with_details(whole.clone());
        let mut expected = serde_json::to_vec_pretty(&report).unwrap();
        expected.push(b'\n');

        let mut spool = JsonSpool::new().unwrap();
        for (at, window) in windows(whole, size).iter().enumerate() {
            spool.details(window).unwrap();
            let first = at * size;
            let findings: Vec<Finding> = (first..domains.min(first + size)).map(finding).collect();
            spool.findings(&findings).unwrap();
        }
        let general = [general()];
        let (before, after) = match general_first {
            true => (&general[..], &[][..]),
            false => (&[][..], &general[..]),
        };
        let mut written = Vec::new();
        let totals = (report.status, report.summary);
        spool
            .write("check", totals, (before, after), &mut written)
            .unwrap();
        let text = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap();
        (text(written), text(expected))
    }

    #[test]
    fn the_document_is_the_same_whatever_the_window() {
        for domains in [0, 1, 5] {
            for size in [1, 2, 5, 7] {
                for general_first in [false, true] {
                    let (written, expected) = both(&estate(domains), size, general_first);
                    assert_eq!(written, expected, "{domains} domain(s) by {size}");
                }
            }
        }
    }

    #[test]
    fn empty_arrays_are_written_as_serde_writes_them() {
        let mut whole = estate(0);
        whole.part = None;
        whole.hosts.clear();
        let (written, expected) = both(&whole, 1, false);
        assert_eq!(written, expected);
        assert!(written.contains("\"domains\": [],"), "{written}");
    }

    #[test]
    fn only_the_arrays_of_domains_and_zones_are_spooled() {
        let mut spool = JsonSpool::new().unwrap();
        spool.details(&estate(2)).unwrap();
        let paths: Vec<&str> = spool.arrays.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["domains", "part.zones"]);
        // A zone's own `domains` stays in its element.
        let zones = &mut spool.arrays[1].1;
        let mut text = String::new();
        zones.reader().unwrap().read_to_string(&mut text).unwrap();
        // In the document, `details.part.zones[]`: inside four brackets.
        let first = [
            ",",
            "        {",
            "          \"zone\": \"d0.corp.test.\",",
            "          \"domains\": [",
            "            \"d0.corp.test.\"",
            "          ],",
        ];
        assert!(text.starts_with(&first.join("\n")), "{text}");
    }
}
