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
//! `include "path";` is followed where it stands, at any level. BIND
//! resolves a relative path against its working directory, and changes to
//! `directory` the moment it reads that option; so a relative path is
//! looked up in `directory` once a top-level `options` has set it, then
//! next to the including file, then next to the top file (the working
//! directory of an administrator running the audit is not named's).
//!
//! Bounded: file size, total size, number of includes, include depth and
//! block nesting all have limits ([`Limits`]), and the words of a `secret`
//! statement (and everything but the algorithm inside a `key` block) are
//! replaced by `<redacted>` as they are read, so no TSIG secret is kept in
//! the tree or quoted in an error.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

/// Bounds on what one load may read; the defaults are far above any real
/// configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest `{ … }` nesting (BIND's own grammar needs about 5).
    pub max_depth: usize,
    /// Most files read through `include`.
    pub max_includes: usize,
    /// Deepest chain of includes.
    pub max_include_depth: usize,
    /// Largest single file, in bytes.
    pub max_file_bytes: u64,
    /// Most bytes read over all files.
    pub max_total_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 32,
            max_includes: 256,
            max_include_depth: 16,
            max_file_bytes: 16 << 20,
            max_total_bytes: 64 << 20,
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
pub(crate) struct Reader {
    limits: Limits,
    /// Every file read, in the order they were opened.
    pub files: Vec<PathBuf>,
    /// Canonical paths of the files being read, outermost first.
    stack: Vec<PathBuf>,
    /// Directory of the top file.
    top_dir: PathBuf,
    /// `directory` from `options`, once seen.
    directory: Option<PathBuf>,
    total_bytes: u64,
}

/// Where the reader is in one file.
struct Cursor<'t> {
    lexer: Lexer<'t>,
    file: Arc<Path>,
    /// Directory of this file, for relative includes.
    dir: PathBuf,
}

impl Cursor<'_> {
    fn at(&self, line: u32, column: u32) -> Location {
        Location {
            file: Arc::clone(&self.file),
            line,
            column,
        }
    }

    fn next(&mut self) -> Result<Token, NamedConfError> {
        self.lexer.next_token().map_err(|e| NamedConfError::Syntax {
            at: self.at(e.line, e.column),
            message: e.message,
        })
    }
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
            stack: Vec::new(),
            top_dir: parent_dir(path),
            directory: None,
            total_bytes: 0,
        }
    }

    /// Reads the top file.
    pub fn read_top(&mut self, path: &Path) -> Result<Vec<Statement>, NamedConfError> {
        let bytes = self
            .read_bytes(path)
            .map_err(|source| NamedConfError::Read {
                file: path.to_path_buf(),
                source,
            })?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        self.parse_text(path, &text)
    }

    /// Parses `text` as if it were the file at `path` (includes resolved
    /// from there).
    pub fn parse_text(
        &mut self,
        path: &Path,
        text: &str,
    ) -> Result<Vec<Statement>, NamedConfError> {
        self.files.push(path.to_path_buf());
        self.stack
            .push(fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()));
        let mut cursor = Cursor {
            lexer: Lexer::new(text),
            file: Arc::from(path),
            dir: parent_dir(path),
        };
        let result = self.statements(&mut cursor, 0, None, None);
        self.stack.pop();
        result
    }

    fn read_bytes(&mut self, path: &Path) -> std::io::Result<Vec<u8>> {
        use std::io::Read;
        let file = crate::local_file::open(path)?;
        let size = file.metadata()?.len();
        let too_big = |what: &str, limit: u64| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{what} exceeds the limit of {limit} bytes"),
            )
        };
        if size > self.limits.max_file_bytes {
            return Err(too_big("file size", self.limits.max_file_bytes));
        }
        let mut bytes = Vec::new();
        // Read at most one byte past the limit: the file may grow while read.
        file.take(self.limits.max_file_bytes + 1)
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
        Ok(bytes)
    }

    /// Statements until the end of the file (`open` is `None`) or until the
    /// `}` that closes the block opened at `open`.
    fn statements(
        &mut self,
        cursor: &mut Cursor<'_>,
        depth: usize,
        parent: Option<&str>,
        open: Option<&Location>,
    ) -> Result<Vec<Statement>, NamedConfError> {
        let mut out = Vec::new();
        loop {
            let token = cursor.next()?;
            let at = cursor.at(token.line, token.column);
            match token.kind {
                TokenKind::End => {
                    return match open {
                        None => Ok(out),
                        Some(open) => Err(syntax(
                            at,
                            format!(
                                "unexpected end of file: the '{{' opened at {}:{} is never closed",
                                open.line, open.column
                            ),
                        )),
                    };
                }
                TokenKind::Close => {
                    return match open {
                        Some(_) => Ok(out),
                        None => Err(syntax(at, "unexpected '}': no block is open here")),
                    };
                }
                TokenKind::Semicolon => {
                    return Err(syntax(at, "unexpected ';': empty statement"));
                }
                kind => {
                    let statement =
                        self.statement(cursor, depth, parent, token.line, token.column, kind)?;
                    if statement.is("include") {
                        out.extend(self.include(cursor, &statement, depth, parent)?);
                    } else {
                        if depth == 0 && statement.is("options") {
                            self.note_directory(cursor, &statement);
                        }
                        out.push(statement);
                    }
                }
            }
        }
    }

    /// One statement whose first token has been read.
    fn statement(
        &mut self,
        cursor: &mut Cursor<'_>,
        depth: usize,
        parent: Option<&str>,
        line: u32,
        column: u32,
        first: TokenKind,
    ) -> Result<Statement, NamedConfError> {
        let start = cursor.at(line, column);
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
                    let statements =
                        self.statements(cursor, depth + 1, keyword.as_deref(), Some(&at))?;
                    items.push(Item::Block(Block {
                        statements,
                        at: at.clone(),
                    }));
                    if ends_with_block(parent, keyword.as_deref()) {
                        let next = cursor.next()?;
                        if next.kind != TokenKind::Semicolon {
                            let name = keyword.unwrap_or_default();
                            return Err(syntax(
                                cursor.at(next.line, next.column),
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
            let token = cursor.next()?;
            at = cursor.at(token.line, token.column);
            kind = token.kind;
        }
        Ok(Statement { items, at: start })
    }

    /// Records `directory` of a top-level `options` statement, for includes.
    fn note_directory(&mut self, cursor: &Cursor<'_>, options: &Statement) {
        let Some(block) = options.block() else {
            return;
        };
        for statement in &block.statements {
            if statement.is("directory") {
                if let Some(dir) = statement.head().nth(1) {
                    let dir = PathBuf::from(&dir.text);
                    self.directory = Some(if dir.is_absolute() {
                        dir
                    } else {
                        cursor.dir.join(dir)
                    });
                }
            }
        }
    }

    /// Reads the file named by an `include` statement.
    fn include(
        &mut self,
        cursor: &Cursor<'_>,
        statement: &Statement,
        depth: usize,
        parent: Option<&str>,
    ) -> Result<Vec<Statement>, NamedConfError> {
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
        let problem = |problem| NamedConfError::Include {
            at: at.clone(),
            path: name.clone(),
            problem,
        };
        if self.files.len() > self.limits.max_includes {
            return Err(problem(IncludeProblem::TooMany {
                limit: self.limits.max_includes,
            }));
        }
        if self.stack.len() >= self.limits.max_include_depth {
            return Err(problem(IncludeProblem::TooDeep {
                limit: self.limits.max_include_depth,
            }));
        }
        let candidates = self.candidates(&cursor.dir, &name);
        let Some(path) = candidates
            .iter()
            .find(|p| crate::local_file::is_present(p))
            .cloned()
        else {
            return Err(problem(IncludeProblem::NotFound { tried: candidates }));
        };
        let canonical = fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if let Some(first) = self.stack.iter().position(|p| *p == canonical) {
            let mut chain: Vec<PathBuf> = self.stack[first..].to_vec();
            chain.push(canonical);
            return Err(problem(IncludeProblem::Cycle { chain }));
        }
        let bytes = self.read_bytes(&path).map_err(|source| {
            problem(IncludeProblem::Unreadable {
                path: path.clone(),
                source,
            })
        })?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        self.files.push(path.clone());
        self.stack.push(canonical);
        let mut inner = Cursor {
            lexer: Lexer::new(&text),
            file: Arc::from(path.as_path()),
            dir: parent_dir(&path),
        };
        let result = self.statements(&mut inner, depth, parent, None);
        self.stack.pop();
        result
    }

    /// Where a relative include may be: in `directory` once `options` set it
    /// (BIND changes to it as soon as it reads it), next to the including
    /// file, next to the top file.
    fn candidates(&self, including_dir: &Path, name: &str) -> Vec<PathBuf> {
        let path = PathBuf::from(name);
        if path.is_absolute() {
            return vec![path];
        }
        let mut out: Vec<PathBuf> = Vec::new();
        let dirs = [
            self.directory.clone(),
            Some(including_dir.to_path_buf()),
            Some(self.top_dir.clone()),
        ];
        for dir in dirs.into_iter().flatten() {
            let candidate = dir.join(&path);
            if !out.contains(&candidate) {
                out.push(candidate);
            }
        }
        out
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

    #[test]
    fn catalog_zones_entries_go_on_after_a_block() {
        let text = "options { catalog-zones { zone \"cat\" default-primaries { 192.0.2.1; } in-memory no; }; };";
        assert!(read(text).is_ok());
    }
}
