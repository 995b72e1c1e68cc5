//! The generic statement tree of `named.conf`, and the reader that builds it
//! from a file and the files it includes.
//!
//! BIND's grammar is regular enough to read without knowing every option:
//! a statement is a sequence of words, `!` and `{ … }` blocks ended by `;`,
//! and a block holds statements. Only `controls`, `catalog-zones` and
//! `response-policy` put words after a block; for the statements that always
//! end with their block (`zone`, `view`, `acl`, `key`, `options`, …) a
//! missing `;` after `}` is reported the way `named-checkconf` does.
//!
//! `include "path";` is followed where it stands, at any level, and a path
//! with `*`, `?` or `[…]` includes every file it matches, in sorted order,
//! as BIND 9.18 does. BIND resolves a relative path against its working
//! directory, and changes to `directory` the moment it reads that option;
//! so a relative path is looked up in `directory` once a top-level
//! `options` has set it, then next to the including file, then next to the
//! top file (the working directory of an administrator running the audit
//! is not named's). Included files are stacked sources, not recursion:
//! there is no limit on their number or on the depth of includes, and a
//! file that includes itself, directly or not, is an error naming the
//! cycle.
//!
//! The blocks of `dyndb`, `plugin` and `dnsrps-options` are free text to
//! BIND (its "bracketed text"): they are skipped as balanced braces.
//!
//! Bounded only where BIND would exhaust memory or its stack: file size,
//! total size and block nesting have limits ([`Limits`]) far above any real
//! configuration. The words of a `secret` statement (and everything but
//! the algorithm inside a `key` block) are replaced by `<redacted>` as they
//! are read, so no TSIG secret is kept in the tree or quoted in an error;
//! the text itself is dropped once read ([`files`](super::files)).

use std::fmt;
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::check::{Refusal, Rejection};
use super::files::{self, Stamp};
use super::glob;
use super::lexer::{Lexer, Token, TokenKind};
use super::{IncludeProblem, Location, NamedConfError};

/// Text that stands for the value of a `secret` statement.
pub const REDACTED: &str = "<redacted>";

/// One statement: words, negations and blocks, ended by `;`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// What the statement is made of, in order.
    pub items: Vec<Item>,
    /// Where its first token is.
    pub at: Location,
    /// Where its text is, for a `zone` statement read from one file.
    pub(crate) text: TextSpan,
}

/// Where the text of a `zone` statement is, when it is all in one file (no
/// `include` inside) read from disk as it is: the file's number among
/// those read, the bytes, and their hash. The model keeps this rather
/// than the zone's model, and reads the statement again from the file
/// when the zone is asked for ([`read_again`]). It takes no part in
/// comparisons.
#[derive(Debug, Clone, Default)]
pub(crate) struct TextSpan(pub(crate) Option<Span>);

/// Where a statement's bytes are in its file, and their hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Span {
    /// The file's number among those read.
    pub file: u32,
    /// The bytes, in the file.
    pub bytes: Range<u32>,
    /// Their hash ([`files::hash`]).
    pub hash: u64,
}

impl PartialEq for TextSpan {
    fn eq(&self, _: &TextSpan) -> bool {
        true
    }
}

impl Eq for TextSpan {}

/// True for the statements whose text is kept: the zones the model reads,
/// at the top and in views.
fn keeps_text(parent: Option<&str>, statement: &Statement) -> bool {
    statement.is("zone") && parent.is_none_or(|p| p.eq_ignore_ascii_case("view"))
}

/// Reads again the one statement of `text`, kept from a statement read at
/// `at` inside `parent` ([`TextSpan`]): the same statement, with the
/// same places.
pub(crate) fn read_again(
    at: &Location,
    text: String,
    parent: Option<&str>,
) -> Result<Statement, NamedConfError> {
    // The text was read once within the limits: its nesting is known.
    let limits = Limits {
        max_depth: usize::MAX,
        ..Limits::default()
    };
    let mut reader = Reader::new(&at.file, limits);
    reader.sources.push(Source {
        lexer: Some(Lexer::resume(text, at.line, at.column)),
        file: Arc::clone(&at.file),
        dir: PathBuf::new(),
        canonical: PathBuf::new(),
        depth: 0,
        include: None,
        number: 0,
    });
    let (token, start) = reader.next()?;
    reader.statement(0, parent, start, token.kind)
}

/// One part of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A bare word or a quoted string.
    Word(Word),
    /// `!`: the next item is negated (address match lists).
    Not(Location),
    /// `{ statement* }`.
    Block(Block),
}

/// A bare word or a quoted string, quotes removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The text (for a quoted string, `\"` already turned into `"`).
    pub text: String,
    /// Whether it was written between quotes.
    pub quoted: bool,
    /// Where it starts.
    pub at: Location,
}

/// A `{ … }` block and the statements inside it (includes already spliced).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The statements of the block.
    pub statements: Vec<Statement>,
    /// Where the `{` is.
    pub at: Location,
}

impl Statement {
    /// The words before the first block (`zone "x" in` of a zone statement).
    pub fn head(&self) -> impl Iterator<Item = &Word> {
        self.items
            .iter()
            .take_while(|item| !matches!(item, Item::Block(_)))
            .filter_map(|item| match item {
                Item::Word(word) => Some(word),
                _ => None,
            })
    }

    /// The first word, if the statement starts with one.
    pub fn keyword(&self) -> Option<&Word> {
        match self.items.first() {
            Some(Item::Word(word)) => Some(word),
            _ => None,
        }
    }

    /// True when the first word is `name`, ignoring case as BIND does.
    pub fn is(&self, name: &str) -> bool {
        self.keyword()
            .is_some_and(|w| !w.quoted && w.text.eq_ignore_ascii_case(name))
    }

    /// The first block of the statement.
    pub fn block(&self) -> Option<&Block> {
        self.items.iter().find_map(|item| match item {
            Item::Block(block) => Some(block),
            _ => None,
        })
    }
}

impl fmt::Display for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.quoted {
            write!(f, "\"{}\"", self.text.replace('"', "\\\""))
        } else {
            f.write_str(&self.text)
        }
    }
}

/// Bounds on what one load may read. BIND itself has none; the defaults
/// are far above any real configuration (a hosting setup with one include
/// per zone and 100,000 zones stays well inside them) and only keep hostile
/// input from exhausting memory or the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest `{ … }` nesting (BIND's own grammar needs about 5; nested
    /// address match lists add a few).
    pub max_depth: usize,
    /// Most files read through `include` (none by default).
    pub max_includes: usize,
    /// Deepest chain of includes (none by default: cycles are detected).
    pub max_include_depth: usize,
    /// Largest single file, in bytes.
    pub max_file_bytes: u64,
    /// Most bytes read over all files.
    pub max_total_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 256,
            max_includes: usize::MAX,
            max_include_depth: usize::MAX,
            max_file_bytes: 256 << 20,
            max_total_bytes: 1 << 30,
        }
    }
}

/// Statements that always end right after their block, at every level
/// except inside `catalog-zones` (whose `zone` entries go on after a block).
const ENDS_WITH_BLOCK: &[&str] = &[
    "acl",
    "allow-notify",
    "allow-query",
    "allow-query-cache",
    "allow-query-cache-on",
    "allow-query-on",
    "allow-recursion",
    "allow-recursion-on",
    "allow-transfer",
    "allow-update",
    "allow-update-forwarding",
    "also-notify",
    "blackhole",
    "category",
    "channel",
    "controls",
    "dlz",
    "dnsrps-options",
    "dnssec-policy",
    "dyndb",
    "forwarders",
    "http",
    "key",
    "key-store",
    "listen-on",
    "listen-on-v6",
    "logging",
    "managed-keys",
    "masters",
    "match-clients",
    "match-destinations",
    "options",
    "parental-agents",
    "plugin",
    "primaries",
    "remote-servers",
    "server",
    "statistics-channels",
    "tls",
    "trust-anchors",
    "trusted-keys",
    "update-policy",
    "view",
    "zone",
];

fn ends_with_block(parent: Option<&str>, keyword: Option<&str>) -> bool {
    let Some(keyword) = keyword else {
        return false;
    };
    if parent.is_some_and(|p| p.eq_ignore_ascii_case("catalog-zones")) {
        return false;
    }
    ENDS_WITH_BLOCK
        .iter()
        .any(|k| k.eq_ignore_ascii_case(keyword))
}

/// Statements whose block is bracketed text to BIND (`cfg_type_bracketed_text`):
/// free text handed to a module, read as balanced braces.
const BRACKETED_TEXT: &[&str] = &["dyndb", "plugin", "dnsrps-options"];

fn is_bracketed_text(keyword: Option<&str>) -> bool {
    keyword.is_some_and(|k| BRACKETED_TEXT.iter().any(|b| b.eq_ignore_ascii_case(k)))
}

/// True when the next word may be a TSIG secret: it follows a `secret`
/// word, or it is inside a `key` block and is not the keyword of a statement
/// or the algorithm name (so that a mistyped keyword, or a `;` lost in a
/// comment, does not expose the secret either).
fn redacts(parent: Option<&str>, items: &[Item], quoted: bool) -> bool {
    let is_word = |item: &Item, name: &str| matches!(item, Item::Word(w) if !w.quoted && w.text.eq_ignore_ascii_case(name));
    if items.iter().any(|item| is_word(item, "secret")) {
        return true;
    }
    // In a key block only the keyword and the algorithm name are kept.
    match items {
        // Keywords are never quoted: a quoted first word is a stray value.
        [] => quoted && parent.is_some_and(|p| p.eq_ignore_ascii_case("key")),
        [first] => {
            parent.is_some_and(|p| p.eq_ignore_ascii_case("key")) && !is_word(first, "algorithm")
        }
        _ => parent.is_some_and(|p| p.eq_ignore_ascii_case("key")),
    }
}

/// How to show a token in an error message.
fn describe(kind: &TokenKind) -> String {
    match kind {
        TokenKind::Open => "'{'".to_string(),
        TokenKind::Close => "'}'".to_string(),
        TokenKind::Semicolon => "';'".to_string(),
        TokenKind::Bang => "'!'".to_string(),
        TokenKind::End => "the end of the file".to_string(),
        TokenKind::Word { text, quoted } => describe_word(text, *quoted),
    }
}

fn describe_word(text: &str, quoted: bool) -> String {
    const MAX: usize = 40;
    let mut shown: String = text.chars().take(MAX).collect();
    if text.chars().count() > MAX {
        shown.push('…');
    }
    if quoted {
        format!("'\"{shown}\"'")
    } else {
        format!("'{shown}'")
    }
}

fn describe_item(item: &Item) -> String {
    match item {
        Item::Word(word) => describe_word(&word.text, word.quoted),
        Item::Not(_) => "'!'".to_string(),
        Item::Block(_) => "'}'".to_string(),
    }
}

/// Reads a configuration file and everything it includes.
///
/// Included files are read as BIND reads them: as further sources on a
/// stack under the same parser (`parser_openfile`), not by recursion, so a
/// long chain of includes costs no stack. Each source is read when it comes
/// to the top: an `include` of a pattern stacks all its matches, the first
/// on top.
pub(crate) struct Reader {
    limits: Limits,
    /// Every file read, in the order they were opened.
    pub files: Vec<PathBuf>,
    /// What each file read from disk was, by its number in `files`: its
    /// zones are read again from it. `None` for text not read from a file
    /// as it is (given as text, or not UTF-8): its zones keep their model.
    pub stamps: Vec<Option<Stamp>>,
    /// What named would refuse in the text itself (a byte order mark).
    pub rejections: Vec<Rejection>,
    /// The sources being read, the current one last.
    sources: Vec<Source>,
    /// Directory of the top file.
    top_dir: PathBuf,
    /// `directory` from `options`, once seen.
    directory: Option<PathBuf>,
    total_bytes: u64,
}

/// One file on the reader's stack.
struct Source {
    /// `None` until the file is opened, when it comes to the top.
    lexer: Option<Lexer>,
    file: Arc<Path>,
    /// Directory of this file, for relative includes.
    dir: PathBuf,
    /// The canonical path, for cycle detection.
    canonical: PathBuf,
    /// Block depth of the `include` that stacked it (0 for the top file).
    depth: usize,
    /// The `include` statement and its path as written (none for the top).
    include: Option<(Location, String)>,
    /// Its number in `files`, once opened.
    number: usize,
}

fn syntax(at: Location, message: impl Into<String>) -> NamedConfError {
    NamedConfError::Syntax {
        at,
        message: message.into(),
    }
}

impl Reader {
    /// A reader for the file at `path`, with `limits`.
    pub fn new(path: &Path, limits: Limits) -> Self {
        Reader {
            limits,
            files: Vec::new(),
            stamps: Vec::new(),
            rejections: Vec::new(),
            sources: Vec::new(),
            top_dir: parent_dir(path),
            directory: None,
            total_bytes: 0,
        }
    }

    /// Reads the top file into a tree.
    pub fn read_top(&mut self, path: &Path) -> Result<Vec<Statement>, NamedConfError> {
        let mut tree = Vec::new();
        self.read_top_each(path, &mut |statement| tree.push(statement))?;
        Ok(tree)
    }

    /// Reads the top file, handing each top-level statement to `each` as
    /// soon as it is read (includes spliced in): a caller that keeps only
    /// what it needs of each never holds the tree of 100,000 zones.
    pub fn read_top_each(
        &mut self,
        path: &Path,
        each: &mut dyn FnMut(Statement),
    ) -> Result<(), NamedConfError> {
        let (bytes, stamp) = self
            .read_bytes(path)
            .map_err(|source| NamedConfError::Read {
                file: path.to_path_buf(),
                source,
            })?;
        let (text, exact) = text_of(bytes);
        self.parse_source(path, text, Some(stamp).filter(|_| exact), each)
    }

    /// Parses `text` as if it were the file at `path` (includes resolved
    /// from there).
    #[cfg(test)]
    pub fn parse_text(
        &mut self,
        path: &Path,
        text: &str,
    ) -> Result<Vec<Statement>, NamedConfError> {
        let mut tree = Vec::new();
        self.parse_text_each(path, text, &mut |statement| tree.push(statement))?;
        Ok(tree)
    }

    /// Parses `text` as [`Self::read_top_each`] reads a file.
    pub fn parse_text_each(
        &mut self,
        path: &Path,
        text: impl Into<String>,
        each: &mut dyn FnMut(Statement),
    ) -> Result<(), NamedConfError> {
        self.parse_source(path, text.into(), None, each)
    }

    /// Parses `text`, the file `path` as `stamp` says it was read (`None`:
    /// not from disk as it is).
    fn parse_source(
        &mut self,
        path: &Path,
        text: String,
        stamp: Option<Stamp>,
        each: &mut dyn FnMut(Statement),
    ) -> Result<(), NamedConfError> {
        self.files.push(path.to_path_buf());
        self.stamps.push(stamp);
        let file: Arc<Path> = Arc::from(path);
        let mut lexer = Lexer::new(text);
        self.note_byte_order_mark(&mut lexer, &file);
        self.sources.push(Source {
            lexer: Some(lexer),
            file,
            dir: parent_dir(path),
            canonical: fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()),
            depth: 0,
            include: None,
            number: self.files.len() - 1,
        });
        let result = self.each_statement(0, None, None, each);
        self.sources.clear();
        result
    }

    fn note_byte_order_mark(&mut self, lexer: &mut Lexer, file: &Arc<Path>) {
        if lexer.skip_byte_order_mark() {
            self.rejections.push(Rejection {
                at: Location {
                    file: Arc::clone(file),
                    line: 1,
                    column: 1,
                },
                refusal: Refusal::ByteOrderMark,
            });
        }
    }

    fn read_bytes(&mut self, path: &Path) -> std::io::Result<(Vec<u8>, Stamp)> {
        use std::io::Read;
        let file = crate::local_file::open(path)?;
        let metadata = file.metadata()?;
        let size = metadata.len();
        let too_big = |what: &str, limit: u64| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{what} exceeds the limit of {limit} bytes"),
            )
        };
        if size > self.limits.max_file_bytes {
            return Err(too_big("file size", self.limits.max_file_bytes));
        }
        // Its size ahead: doubling would hold it twice while it is read.
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        // Read at most one byte past the limit: the file may grow while read.
        (&file)
            .take(self.limits.max_file_bytes + 1)
            .read_to_end(&mut bytes)?;
        if bytes.len() as u64 > self.limits.max_file_bytes {
            return Err(too_big("file size", self.limits.max_file_bytes));
        }
        self.total_bytes += bytes.len() as u64;
        if self.total_bytes > self.limits.max_total_bytes {
            return Err(too_big(
                "total size of the configuration",
                self.limits.max_total_bytes,
            ));
        }
        let stamp = Stamp::new(&metadata, bytes.len() as u64);
        Ok((bytes, stamp))
    }

    /// The current source, opened.
    fn current(&mut self) -> Result<&mut Source, NamedConfError> {
        let needs_open = self.sources.last().is_some_and(|s| s.lexer.is_none());
        if needs_open {
            self.open_top()?;
        }
        self.sources.last_mut().ok_or_else(|| NamedConfError::Read {
            file: PathBuf::new(),
            source: std::io::Error::other("no source left to read"),
        })
    }

    /// Opens the included file that came to the top of the stack.
    fn open_top(&mut self) -> Result<(), NamedConfError> {
        let Some(index) = self.sources.len().checked_sub(1) else {
            return Ok(());
        };
        let (at, name) = self.sources[index]
            .include
            .clone()
            .unwrap_or_else(|| (self.top_location(), String::new()));
        let problem = |problem| NamedConfError::Include {
            at: at.clone(),
            path: name.clone(),
            problem,
        };
        let opened = self.sources[..index]
            .iter()
            .filter(|s| s.lexer.is_some())
            .count();
        if self.files.len() > self.limits.max_includes {
            return Err(problem(IncludeProblem::TooMany {
                limit: self.limits.max_includes,
            }));
        }
        if opened >= self.limits.max_include_depth {
            return Err(problem(IncludeProblem::TooDeep {
                limit: self.limits.max_include_depth,
            }));
        }
        let canonical = self.sources[index].canonical.clone();
        let active: Vec<&Source> = self.sources[..index]
            .iter()
            .filter(|s| s.lexer.is_some())
            .collect();
        if let Some(first) = active.iter().position(|s| s.canonical == canonical) {
            let mut chain: Vec<PathBuf> = active[first..]
                .iter()
                .map(|s| s.canonical.clone())
                .collect();
            chain.push(canonical);
            return Err(problem(IncludeProblem::Cycle { chain }));
        }
        let path = self.sources[index].file.to_path_buf();
        let bytes = self.read_bytes(&path).map_err(|source| {
            problem(IncludeProblem::Unreadable {
                path: path.clone(),
                source,
            })
        })?;
        let (bytes, stamp) = bytes;
        let (text, exact) = text_of(bytes);
        let mut lexer = Lexer::new(text);
        let file = Arc::clone(&self.sources[index].file);
        self.note_byte_order_mark(&mut lexer, &file);
        self.files.push(path);
        self.stamps.push(Some(stamp).filter(|_| exact));
        self.sources[index].lexer = Some(lexer);
        self.sources[index].number = self.files.len() - 1;
        Ok(())
    }

    fn top_location(&self) -> Location {
        Location {
            file: self.sources.first().map_or_else(
                || Arc::from(Path::new("named.conf")),
                |s| Arc::clone(&s.file),
            ),
            line: 1,
            column: 1,
        }
    }

    /// The next token of the current source and where it is.
    fn next(&mut self) -> Result<(Token, Location), NamedConfError> {
        let source = self.current()?;
        let file = Arc::clone(&source.file);
        let token = match &mut source.lexer {
            Some(lexer) => lexer.next_token(),
            None => Ok(Token {
                kind: TokenKind::End,
                line: 1,
                column: 1,
            }),
        };
        let at = |line, column| Location {
            file: Arc::clone(&file),
            line,
            column,
        };
        match token {
            Ok(token) => {
                let location = at(token.line, token.column);
                Ok((token, location))
            }
            Err(e) => Err(NamedConfError::Syntax {
                at: at(e.line, e.column),
                message: e.message,
            }),
        }
    }

    /// Skips the bracketed text of a block whose `{` is at `open`.
    fn skip_bracketed_text(&mut self, open: &Location) -> Result<(), NamedConfError> {
        let source = self.current()?;
        match &mut source.lexer {
            Some(lexer) => lexer
                .skip_bracketed_text(open.line, open.column)
                .map_err(|e| syntax(open.clone(), e.message)),
            None => Ok(()),
        }
    }

    /// Statements until the `}` that closes the block opened at `open`.
    fn statements(
        &mut self,
        depth: usize,
        parent: Option<&str>,
        open: &Location,
    ) -> Result<Vec<Statement>, NamedConfError> {
        let mut out = Vec::new();
        self.each_statement(depth, parent, Some(open), &mut |s| out.push(s))?;
        Ok(out)
    }

    /// Each statement until the end of the file (`open` is `None`) or
    /// until the `}` that closes the block opened at `open`.
    fn each_statement(
        &mut self,
        depth: usize,
        parent: Option<&str>,
        open: Option<&Location>,
        each: &mut dyn FnMut(Statement),
    ) -> Result<(), NamedConfError> {
        loop {
            let (token, at) = self.next()?;
            let source_depth = self.sources.last().map_or(0, |s| s.depth);
            let included = self.sources.len() > 1;
            match token.kind {
                TokenKind::End => {
                    // The end of an included file goes on in the file that
                    // included it, if no block of its own is left open.
                    if included && source_depth == depth {
                        self.sources.pop();
                        continue;
                    }
                    return match open {
                        None => Ok(()),
                        Some(open) => {
                            let message = format!(
                                "unexpected end of file: the '{{' opened at {} is never closed",
                                place(open, &at)
                            );
                            Err(syntax(at, message))
                        }
                    };
                }
                TokenKind::Close => {
                    return match open {
                        Some(_) if !(included && source_depth == depth) => Ok(()),
                        Some(open) => Err(syntax(
                            at,
                            format!(
                                "unexpected '}}': the block it would close was opened in another file ({open})"
                            ),
                        )),
                        None => Err(syntax(at, "unexpected '}': no block is open here")),
                    };
                }
                TokenKind::Semicolon => {
                    return Err(syntax(at, "unexpected ';': empty statement"));
                }
                kind => {
                    let before = self.mark();
                    let mut statement = self.statement(depth, parent, at, kind)?;
                    if keeps_text(parent, &statement) {
                        statement.text = self.text_since(before);
                    }
                    if statement.is("include") {
                        self.include(&statement, depth)?;
                    } else {
                        if depth == 0 && statement.is("options") {
                            self.note_directory(&statement);
                        }
                        each(statement);
                    }
                }
            }
        }
    }

    /// One statement whose first token, at `start`, has been read.
    fn statement(
        &mut self,
        depth: usize,
        parent: Option<&str>,
        start: Location,
        first: TokenKind,
    ) -> Result<Statement, NamedConfError> {
        let mut items: Vec<Item> = Vec::new();
        let mut kind = first;
        let mut at = start.clone();
        loop {
            match kind {
                TokenKind::Word { text, quoted } => {
                    let text = if redacts(parent, &items, quoted) {
                        REDACTED.to_string()
                    } else {
                        text
                    };
                    items.push(Item::Word(Word { text, quoted, at }));
                }
                TokenKind::Bang => items.push(Item::Not(at)),
                TokenKind::Open => {
                    if depth + 1 > self.limits.max_depth {
                        return Err(NamedConfError::Limit {
                            at,
                            message: format!(
                                "blocks nested more than {} deep",
                                self.limits.max_depth
                            ),
                        });
                    }
                    let keyword = match items.first() {
                        Some(Item::Word(w)) if !w.quoted => Some(w.text.clone()),
                        _ => None,
                    };
                    let statements = if is_bracketed_text(keyword.as_deref()) {
                        self.skip_bracketed_text(&at)?;
                        Vec::new()
                    } else {
                        self.statements(depth + 1, keyword.as_deref(), &at)?
                    };
                    items.push(Item::Block(Block {
                        statements,
                        at: at.clone(),
                    }));
                    if ends_with_block(parent, keyword.as_deref()) {
                        let (next, next_at) = self.next()?;
                        if next.kind != TokenKind::Semicolon {
                            let name = keyword.unwrap_or_default();
                            return Err(syntax(
                                next_at,
                                format!(
                                    "missing ';' after the '}}' that closes '{name}' (opened at {}:{}), found {}",
                                    at.line,
                                    at.column,
                                    describe(&next.kind)
                                ),
                            ));
                        }
                        break;
                    }
                }
                TokenKind::Semicolon => break,
                TokenKind::Close | TokenKind::End => {
                    let after = items
                        .last()
                        .map(describe_item)
                        .unwrap_or_else(|| "the statement".to_string());
                    return Err(syntax(
                        at,
                        format!("missing ';' after {after}, found {}", describe(&kind)),
                    ));
                }
            }
            let (token, token_at) = self.next()?;
            at = token_at;
            kind = token.kind;
        }
        Ok(Statement {
            items,
            at: start,
            text: TextSpan::default(),
        })
    }

    /// Where the reader is: how many sources and files, and the number of
    /// the current file and where its last token started.
    fn mark(&self) -> (usize, usize, Option<(usize, usize)>) {
        let source = self.sources.last();
        let start = source.and_then(|s| Some((s.number, s.lexer.as_ref()?.token_start())));
        (self.sources.len(), self.files.len(), start)
    }

    /// Where the text read since `mark` is, when it is all in one file
    /// read from disk as it is.
    fn text_since(&self, mark: (usize, usize, Option<(usize, usize)>)) -> TextSpan {
        let (sources, files, start) = mark;
        let lexer = self.sources.last().and_then(|s| s.lexer.as_ref());
        let (Some(lexer), Some((number, start))) = (lexer, start) else {
            return TextSpan(None);
        };
        let one_file = self.sources.len() == sources && self.files.len() == files;
        let from_disk = self.stamps.get(number).is_some_and(Option::is_some);
        let span = || {
            let text = lexer.text().get(start..lexer.position())?;
            Some(Span {
                file: u32::try_from(number).ok()?,
                bytes: u32::try_from(start).ok()?..u32::try_from(lexer.position()).ok()?,
                hash: files::hash(text.as_bytes()),
            })
        };
        TextSpan((one_file && from_disk).then(span).flatten())
    }

    /// Records `directory` of a top-level `options` statement, for includes.
    fn note_directory(&mut self, options: &Statement) {
        let Some(block) = options.block() else {
            return;
        };
        let dir_here = self
            .sources
            .last()
            .map_or_else(|| self.top_dir.clone(), |s| s.dir.clone());
        for statement in &block.statements {
            if statement.is("directory") {
                if let Some(dir) = statement.head().nth(1) {
                    let dir = PathBuf::from(&dir.text);
                    self.directory = Some(if dir.is_absolute() {
                        dir
                    } else {
                        dir_here.join(dir)
                    });
                }
            }
        }
    }

    /// Stacks the file, or the files of the pattern, that an `include`
    /// statement names; the first is read next.
    fn include(&mut self, statement: &Statement, depth: usize) -> Result<(), NamedConfError> {
        let at = statement.at.clone();
        let name = match statement.items.as_slice() {
            [Item::Word(_), Item::Word(path)] => path.text.clone(),
            _ => {
                return Err(syntax(
                    at,
                    "'include' takes exactly one file name: include \"path\";",
                ))
            }
        };
        let including_dir = self
            .sources
            .last()
            .map_or_else(|| self.top_dir.clone(), |s| s.dir.clone());
        let (paths, tried) = self.resolve(&including_dir, &name);
        if paths.is_empty() {
            return Err(NamedConfError::Include {
                at,
                path: name,
                problem: IncludeProblem::NotFound { tried },
            });
        }
        for path in paths.into_iter().rev() {
            let canonical = fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            self.sources.push(Source {
                lexer: None,
                dir: parent_dir(&path),
                file: Arc::from(path.as_path()),
                canonical,
                depth,
                include: Some((at.clone(), name.clone())),
                number: 0,
            });
        }
        Ok(())
    }

    /// The files an include names, and every place looked at. BIND
    /// resolves a relative path against its working directory, which is
    /// `directory` once `options` set it; kmsdns also looks next to the
    /// including file and next to the top file (the administrator's working
    /// directory is not named's). A pattern (BIND 9.18 globs includes)
    /// gives all its matches from the first of those places that has any.
    fn resolve(&self, including_dir: &Path, name: &str) -> (Vec<PathBuf>, Vec<PathBuf>) {
        let path = PathBuf::from(name);
        let dirs: Vec<PathBuf> = if path.is_absolute() {
            vec![PathBuf::from("/")]
        } else {
            let mut dirs: Vec<PathBuf> = Vec::new();
            for dir in [
                self.directory.clone(),
                Some(including_dir.to_path_buf()),
                Some(self.top_dir.clone()),
            ]
            .into_iter()
            .flatten()
            {
                if !dirs.contains(&dir) {
                    dirs.push(dir);
                }
            }
            dirs
        };
        let tried: Vec<PathBuf> = if path.is_absolute() {
            vec![path.clone()]
        } else {
            dirs.iter().map(|d| d.join(&path)).collect()
        };
        if glob::is_pattern(name) {
            for dir in &dirs {
                let found = glob::expand(dir, name);
                if !found.is_empty() {
                    return (found, tried);
                }
            }
            return (Vec::new(), tried);
        }
        // Something there that is not a file is named as such when read.
        match tried.iter().find(|p| crate::local_file::is_present(p)) {
            Some(found) => (vec![found.clone()], tried),
            None => (Vec::new(), tried),
        }
    }
}

/// The text of a file's bytes, copied only when they are not UTF-8: named
/// reads bytes, and text outside UTF-8 (Latin-1 comments) is read as
/// replacement characters. True when the text is the bytes: its places
/// are the file's, and a statement can be read again from the file.
fn text_of(bytes: Vec<u8>) -> (String, bool) {
    match String::from_utf8(bytes) {
        Ok(text) => (text, true),
        Err(invalid) => (
            String::from_utf8_lossy(invalid.as_bytes()).into_owned(),
            false,
        ),
    }
}

/// The generic statement tree of the file at `path` and the files it
/// includes, within `limits`: what is in it beside what the audit models.
pub fn read_tree(path: &Path, limits: Limits) -> Result<Vec<Statement>, NamedConfError> {
    Reader::new(path, limits).read_top(path)
}

/// `line:column` of `open`, with its file when it is not the file of `here`.
fn place(open: &Location, here: &Location) -> String {
    if open.file == here.file {
        format!("{}:{}", open.line, open.column)
    } else {
        open.to_string()
    }
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Vec<Statement>, NamedConfError> {
        Reader::new(Path::new("t.conf"), Limits::default()).parse_text(Path::new("t.conf"), text)
    }

    fn words(statements: &[Statement]) -> Vec<String> {
        let mut out = Vec::new();
        for statement in statements {
            for item in &statement.items {
                match item {
                    Item::Word(w) => out.push(w.text.clone()),
                    Item::Not(_) => out.push("!".to_string()),
                    Item::Block(b) => out.extend(words(&b.statements)),
                }
            }
        }
        out
    }

    #[test]
    fn generic_statements_and_blocks() {
        let tree = read("controls { inet 127.0.0.1 port 953 allow { !localhost; } keys { k; }; };")
            .unwrap_or_default();
        assert_eq!(tree.len(), 1);
        assert_eq!(
            words(&tree),
            [
                "controls",
                "inet",
                "127.0.0.1",
                "port",
                "953",
                "allow",
                "!",
                "localhost",
                "keys",
                "k"
            ]
        );
    }

    #[test]
    fn secrets_are_redacted_however_written() {
        let cases = [
            "key k { algorithm hmac-sha256; secret \"S3CR3T\"; };",
            "key k { secret S3CR3T; algorithm hmac-sha256; };",
            // a `;` lost in a comment joins the two statements
            "key k { algorithm h#x;\n secret \"S3CR3T\"; };",
            // a mistyped keyword
            "key k { algorithm hmac-sha256; secrte \"S3CR3T\"; };",
            // a lost keyword
            "key k { algorithm hmac-sha256; \"S3CR3T\"; };",
            "secret \"S3CR3T\";",
        ];
        for case in cases {
            let tree = read(case).unwrap_or_else(|e| panic!("{case}: {e}"));
            assert!(!format!("{tree:?}").contains("S3CR3T"), "{case}");
        }
        let kept = read("key k { algorithm hmac-sha256; secret \"S3CR3T\"; };").unwrap_or_default();
        assert!(words(&kept).contains(&"hmac-sha256".to_string()));
    }

    #[test]
    fn errors_do_not_quote_secrets() {
        for case in [
            "key k { secret \"S3CR3T\" };",
            "key k { algorithm a; secret \"S3CR3T\"",
            "key k { secret \"S3CR3T",
        ] {
            let message = read(case).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(!message.is_empty(), "{case}");
            assert!(!message.contains("S3CR3T"), "{case}: {message}");
        }
    }

    #[test]
    fn empty_statement_is_an_error() {
        let error = read("zone \"a\" { type primary;; };").err();
        assert!(
            error
                .as_ref()
                .is_some_and(|e| e.to_string() == "t.conf:1:25: unexpected ';': empty statement"),
            "{error:?}"
        );
    }

    fn load(path: &Path) -> Result<Vec<Statement>, NamedConfError> {
        Reader::new(path, Limits::default()).read_top(path)
    }

    fn write(path: &Path, text: &str) {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
        }
        fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    fn zone_names(tree: &[Statement]) -> Vec<String> {
        tree.iter()
            .filter(|s| s.is("zone"))
            .filter_map(|s| s.head().nth(1).map(|w| w.text.clone()))
            .collect()
    }

    #[test]
    fn includes_follow_glob_patterns_in_order() {
        // Issue 18: `include "zones/*.conf";` (BIND 9.18 globs includes).
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let top = dir.path().join("named.conf");
        write(
            &top,
            "include \"zones/*.conf\";\ninclude \"zones/[!b]*.extra\";\n",
        );
        for name in ["b", "a", "c"] {
            write(
                &dir.path().join(format!("zones/{name}.conf")),
                &format!("zone \"{name}.example\" {{ type primary; file \"db\"; }};\n"),
            );
        }
        write(
            &dir.path().join("zones/a.extra"),
            "zone \"extra.example\" { type primary; file \"db\"; };\n",
        );
        write(
            &dir.path().join("zones/b.extra"),
            "zone \"not.example\" { type primary; file \"db\"; };\n",
        );
        let tree = load(&top).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            zone_names(&tree),
            ["a.example", "b.example", "c.example", "extra.example"]
        );

        write(&top, "include \"nothere/*.conf\";\n");
        let error = load(&top).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("file not found"), "{error}");
        assert!(
            error.contains(":1:1: include \"nothere/*.conf\""),
            "{error}"
        );
    }

    #[test]
    fn no_limit_on_the_number_or_depth_of_includes() {
        // Issue 18: one include per zone, and deep include chains.
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let top = dir.path().join("named.conf");
        let mut text = String::new();
        for i in 0..600 {
            text.push_str(&format!("include \"zones/z{i}.conf\";\n"));
            write(
                &dir.path().join(format!("zones/z{i}.conf")),
                &format!("zone \"z{i}.example\" {{ type primary; file \"db\"; }};\n"),
            );
        }
        // A chain of 300 includes, each in its own file.
        text.push_str("include \"chain/0.conf\";\n");
        for i in 0..300 {
            write(
                &dir.path().join(format!("chain/{i}.conf")),
                &format!("include \"chain/{}.conf\";\n", i + 1),
            );
        }
        write(
            &dir.path().join("chain/300.conf"),
            "zone \"deep.example\" { type primary; file \"db\"; };\n",
        );
        write(&top, &text);
        let mut reader = Reader::new(&top, Limits::default());
        let tree = reader.read_top(&top).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(zone_names(&tree).len(), 601);
        assert_eq!(reader.files.len(), 1 + 600 + 301);
        // …with loops still found.
        write(
            &dir.path().join("chain/300.conf"),
            "include \"chain/150.conf\";\n",
        );
        let error = load(&top).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("include cycle"), "{error}");
        assert!(error.contains("chain/300.conf:1:1"), "{error}");
    }

    #[test]
    fn nesting_and_sizes_fit_any_real_configuration() {
        // Issue 18: 32 levels and 16 MiB were refused.
        let nested = format!("acl a {{ {}any;{} }};", "{ ".repeat(100), " };".repeat(100));
        assert!(read(&nested).is_ok());
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let top = dir.path().join("named.conf");
        let mut big = String::with_capacity(20 << 20);
        let line = format!("# {}\n", "x".repeat(1021));
        while big.len() < (20 << 20) {
            big.push_str(&line);
        }
        big.push_str("zone \"big.example\" { type primary; file \"db\"; };\n");
        write(&top, &big);
        let tree = load(&top).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(zone_names(&tree), ["big.example"]);
    }

    #[test]
    fn module_parameters_are_free_text() {
        // Issue 18: `dyndb x "x.so" { a. b. };` is bracketed text to BIND.
        let tree = read(
            "dyndb x \"x.so\" { a. b. { c } };\nplugin query \"filter-aaaa.so\" { filter-aaaa-on-v4 yes; };\nzone \"z.example\" { type primary; file \"db\"; };",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(tree.len(), 3);
        assert_eq!(zone_names(&tree), ["z.example"]);
    }

    #[test]
    fn latin1_comments_are_read() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let top = dir.path().join("named.conf");
        let mut bytes = b"# cl\xe9 de l'\xe9quipe\n".to_vec();
        bytes.extend_from_slice(b"zone \"z.example\" { type primary; file \"db\"; };\n");
        fs::write(&top, bytes).unwrap_or_else(|e| panic!("{e}"));
        let tree = load(&top).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(zone_names(&tree), ["z.example"]);
    }

    #[test]
    fn a_byte_order_mark_is_noted_and_skipped() {
        let mut reader = Reader::new(Path::new("t.conf"), Limits::default());
        let tree = reader
            .parse_text(
                Path::new("t.conf"),
                "\u{feff}zone \"z.example\" { type primary; file \"db\"; };",
            )
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(zone_names(&tree), ["z.example"]);
        assert_eq!(reader.rejections.len(), 1);
        assert_eq!(reader.rejections[0].refusal, Refusal::ByteOrderMark);
    }

    #[test]
    fn a_block_does_not_close_across_files() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let top = dir.path().join("named.conf");
        write(&top, "options {\n include \"closes.conf\";\n");
        write(&dir.path().join("closes.conf"), "};\n");
        let error = load(&top).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("closes.conf:1:1: unexpected '}'"), "{error}");
    }

    #[test]
    fn catalog_zones_entries_go_on_after_a_block() {
        let text = "options { catalog-zones { zone \"cat\" default-primaries { 192.0.2.1; } in-memory no; }; };";
        assert!(read(text).is_ok());
    }
}
