//! Tokens of BIND's configuration language, as `isc_lex` cuts them for
//! `named.conf`.
//!
//! - `{`, `}`, `;` and `!` are tokens of their own wherever they appear.
//! - Comments in three styles, each ending a word: `# …` and `// …` to the
//!   end of the line, `/* … */` not nested (BIND ends it at the first `*/`).
//! - Quoted strings may span lines (BIND's lexer is run with multi-line
//!   strings on); `\"` stands for a quote and every other backslash pair is
//!   kept as written, as BIND does, so `"a\\b"` stays `a\\b` for the DNS
//!   name parser to interpret.
//! - Anything else up to white space or one of the characters above is a
//!   word. A single `/` stays inside a word (`10.0.0.0/8`, unquoted paths).
//!
//! Errors never quote the text of a string: it may be a TSIG secret.

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// `{`
    Open,
    /// `}`
    Close,
    /// `;`
    Semicolon,
    /// `!`, negation in address match lists.
    Bang,
    /// A bare word or a quoted string (quotes removed).
    Word { text: String, quoted: bool },
    /// The end of the input.
    End,
}

/// A token and where it starts (1-based line and column, in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub line: u32,
    pub column: u32,
}

/// A lexical error and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LexError {
    pub line: u32,
    pub column: u32,
    pub message: String,
}

/// Cuts a whole file into tokens, one at a time.
pub(crate) struct Lexer {
    text: String,
    pos: usize,
    line: u32,
    column: u32,
    /// Where the last token started, in bytes.
    token_start: usize,
}

impl Lexer {
    /// Starts at the beginning of `text`.
    pub fn new(text: impl Into<String>) -> Self {
        Self::resume(text, 1, 1)
    }

    /// Starts at the beginning of `text`, which stood at `line` and
    /// `column` of its file: a statement read again gives the places it
    /// was first read at.
    pub fn resume(text: impl Into<String>, line: u32, column: u32) -> Self {
        Lexer {
            text: text.into(),
            pos: 0,
            line,
            column,
            token_start: 0,
        }
    }

    /// Where the last token read started, in bytes.
    pub fn token_start(&self) -> usize {
        self.token_start
    }

    /// Where the lexer is, in bytes.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The text being read.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Skips a UTF-8 byte order mark at the very start of the text and says
    /// whether there was one. named does not skip it: it reads the mark as
    /// the start of the first word, and refuses the file.
    pub fn skip_byte_order_mark(&mut self) -> bool {
        if self.pos == 0 && self.text.starts_with('\u{feff}') {
            self.pos = '\u{feff}'.len_utf8();
            true
        } else {
            false
        }
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn peek_second(&self) -> Option<char> {
        let mut chars = self.text[self.pos..].chars();
        chars.next();
        chars.next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line = self.line.saturating_add(1);
            self.column = 1;
        } else {
            self.column = self.column.saturating_add(1);
        }
        Some(c)
    }

    /// True when the next characters open a comment, which also ends a word.
    fn at_comment(&self) -> bool {
        match self.peek() {
            Some('#') => true,
            Some('/') => matches!(self.peek_second(), Some('/') | Some('*')),
            _ => false,
        }
    }

    /// Skips white space and comments.
    fn skip_blanks(&mut self) -> Result<(), LexError> {
        loop {
            match self.peek() {
                Some(c) if c.is_whitespace() => {
                    self.bump();
                }
                Some('#') => self.skip_line(),
                Some('/') if self.peek_second() == Some('/') => self.skip_line(),
                Some('/') if self.peek_second() == Some('*') => {
                    let (line, column) = (self.line, self.column);
                    self.bump();
                    self.bump();
                    loop {
                        match self.bump() {
                            None => {
                                return Err(LexError {
                                    line,
                                    column,
                                    message: "unterminated comment: '/*' is never closed by '*/'"
                                        .to_string(),
                                })
                            }
                            Some('*') if self.peek() == Some('/') => {
                                self.bump();
                                break;
                            }
                            Some(_) => {}
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn skip_line(&mut self) {
        while let Some(c) = self.peek() {
            if c == '\n' {
                break;
            }
            self.bump();
        }
    }

    /// Skips the bracketed text of a block whose `{` was just read, up to
    /// and including its matching `}`, as `isc_lex` reads BIND's
    /// "bracketed text" (`dyndb`, `plugin` and `dnsrps-options`
    /// parameters): braces nest, a backslash quotes the next character,
    /// and neither comments nor quotes mean anything inside.
    pub fn skip_bracketed_text(
        &mut self,
        open_line: u32,
        open_column: u32,
    ) -> Result<(), LexError> {
        let mut depth = 1usize;
        let mut escaped = false;
        loop {
            let Some(c) = self.bump() else {
                return Err(LexError {
                    line: open_line,
                    column: open_column,
                    message:
                        "unexpected end of file: the '{' of this bracketed text is never closed"
                            .to_string(),
                });
            };
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                _ => {}
            }
        }
    }

    /// The next token, or [`TokenKind::End`] at the end of the input.
    pub fn next_token(&mut self) -> Result<Token, LexError> {
        self.skip_blanks()?;
        self.token_start = self.pos;
        let (line, column) = (self.line, self.column);
        let token = |kind| Token { kind, line, column };
        let Some(c) = self.peek() else {
            return Ok(token(TokenKind::End));
        };
        match c {
            '{' | '}' | ';' | '!' => {
                self.bump();
                Ok(token(match c {
                    '{' => TokenKind::Open,
                    '}' => TokenKind::Close,
                    ';' => TokenKind::Semicolon,
                    _ => TokenKind::Bang,
                }))
            }
            '"' => {
                self.bump();
                let mut text = String::new();
                loop {
                    match self.bump() {
                        None => {
                            return Err(LexError {
                                line,
                                column,
                                message: "unterminated quoted string: no closing '\"' before the end of the file".to_string(),
                            })
                        }
                        Some('"') => break,
                        Some('\\') => match self.bump() {
                            None => {
                                return Err(LexError {
                                    line,
                                    column,
                                    message: "unterminated quoted string: the file ends after a backslash".to_string(),
                                })
                            }
                            // `\"` is a quote; BIND keeps every other pair as written.
                            Some('"') => text.push('"'),
                            Some(other) => {
                                text.push('\\');
                                text.push(other);
                            }
                        },
                        Some(other) => text.push(other),
                    }
                }
                Ok(token(TokenKind::Word { text, quoted: true }))
            }
            _ => {
                let mut text = String::new();
                while let Some(c) = self.peek() {
                    if c.is_whitespace()
                        || matches!(c, '{' | '}' | ';' | '!' | '"')
                        || self.at_comment()
                    {
                        break;
                    }
                    text.push(c);
                    self.bump();
                }
                Ok(token(TokenKind::Word {
                    text,
                    quoted: false,
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<TokenKind> {
        let mut lexer = Lexer::new(text);
        let mut out = Vec::new();
        loop {
            match lexer.next_token() {
                Ok(Token {
                    kind: TokenKind::End,
                    ..
                }) => return out,
                Ok(token) => out.push(token.kind),
                Err(e) => panic!("unexpected lex error {e:?} in {text:?}"),
            }
        }
    }

    fn word(text: &str) -> TokenKind {
        TokenKind::Word {
            text: text.to_string(),
            quoted: false,
        }
    }

    fn quoted(text: &str) -> TokenKind {
        TokenKind::Word {
            text: text.to_string(),
            quoted: true,
        }
    }

    fn error(text: &str) -> LexError {
        let mut lexer = Lexer::new(text);
        loop {
            match lexer.next_token() {
                Ok(Token {
                    kind: TokenKind::End,
                    ..
                }) => panic!("no error in {text:?}"),
                Ok(_) => {}
                Err(e) => return e,
            }
        }
    }

    #[test]
    fn punctuation_splits_words() {
        assert_eq!(
            kinds("zone\"a\"{type master;};"),
            vec![
                word("zone"),
                quoted("a"),
                TokenKind::Open,
                word("type"),
                word("master"),
                TokenKind::Semicolon,
                TokenKind::Close,
                TokenKind::Semicolon,
            ]
        );
    }

    #[test]
    fn negation_is_its_own_token() {
        assert_eq!(
            kinds("!10.0.0.0/8;!key k;"),
            vec![
                TokenKind::Bang,
                word("10.0.0.0/8"),
                TokenKind::Semicolon,
                TokenKind::Bang,
                word("key"),
                word("k"),
                TokenKind::Semicolon,
            ]
        );
    }

    #[test]
    fn three_comment_styles() {
        assert_eq!(
            kinds("a # shell ; {\nb // c++ }\nc /* c { ; \n */ d"),
            vec![word("a"), word("b"), word("c"), word("d")]
        );
    }

    #[test]
    fn comments_end_a_word() {
        assert_eq!(
            kinds("file#x\n a//y\n b/*z*/c"),
            vec![word("file"), word("a"), word("b"), word("c")]
        );
    }

    #[test]
    fn single_slash_stays_in_a_word() {
        assert_eq!(
            kinds("/etc/bind/db.local 10.0.0.0/8 / 8"),
            vec![
                word("/etc/bind/db.local"),
                word("10.0.0.0/8"),
                word("/"),
                word("8")
            ]
        );
    }

    #[test]
    fn block_comments_do_not_nest() {
        // BIND ends the comment at the first `*/`: ` b */` is not comment.
        assert_eq!(kinds("/* a /* b */ c"), vec![word("c")]);
    }

    #[test]
    fn comment_markers_inside_strings_are_text() {
        assert_eq!(
            kinds(r#""x#y//z/*w*/;{}!""#),
            vec![quoted("x#y//z/*w*/;{}!")]
        );
    }

    #[test]
    fn escaped_quote_and_kept_backslashes() {
        assert_eq!(
            kinds(r#""a\"b" "c\\d" "e\.f""#),
            vec![quoted("a\"b"), quoted(r"c\\d"), quoted(r"e\.f")]
        );
    }

    #[test]
    fn strings_may_span_lines() {
        let mut lexer = Lexer::new("\"a\nb\" c");
        let first = lexer.next_token().ok();
        assert_eq!(first.map(|t| t.kind), Some(quoted("a\nb")));
        let second = lexer.next_token().ok();
        assert_eq!(second.map(|t| (t.line, t.column)), Some((2, 4)));
    }

    #[test]
    fn empty_string_is_a_word() {
        assert_eq!(kinds(r#""""#), vec![quoted("")]);
    }

    #[test]
    fn positions_are_one_based_characters() {
        let mut lexer = Lexer::new("é {\n\t x;");
        let mut positions = Vec::new();
        while let Ok(token) = lexer.next_token() {
            if token.kind == TokenKind::End {
                break;
            }
            positions.push((token.line, token.column));
        }
        assert_eq!(positions, vec![(1, 1), (1, 3), (2, 3), (2, 4)]);
    }

    #[test]
    fn unterminated_string_points_at_the_opening_quote() {
        let e = error("zone \"a\" {\n  file \"x;\n};\n");
        assert_eq!((e.line, e.column), (2, 8));
        assert!(e.message.contains("unterminated quoted string"), "{e:?}");
    }

    #[test]
    fn backslash_at_end_of_file() {
        let e = error("\"abc\\");
        assert_eq!((e.line, e.column), (1, 1));
        assert!(e.message.contains("backslash"), "{e:?}");
    }

    #[test]
    fn unterminated_comment_points_at_its_start() {
        let e = error("a;\n  /* never closed *");
        assert_eq!((e.line, e.column), (2, 3));
        assert!(e.message.contains("unterminated comment"), "{e:?}");
    }

    #[test]
    fn lone_slash_star_at_end() {
        let e = error("/*");
        assert_eq!((e.line, e.column), (1, 1));
    }

    #[test]
    fn error_never_quotes_string_contents() {
        let e = error("secret \"c2VjcmV0");
        assert!(!e.message.contains("c2VjcmV0"), "{e:?}");
    }

    #[test]
    fn bracketed_text_is_skipped_whole() {
        // Issue 18: `dyndb x "x.so" { a. b. };` is free text to BIND.
        let mut lexer = Lexer::new("{ a. b. { nested } \\} /* # \" }; next");
        let open = lexer.next_token().ok();
        assert_eq!(open.map(|t| t.kind), Some(TokenKind::Open));
        assert!(lexer.skip_bracketed_text(1, 1).is_ok());
        let rest: Vec<TokenKind> = std::iter::from_fn(|| match lexer.next_token() {
            Ok(Token {
                kind: TokenKind::End,
                ..
            })
            | Err(_) => None,
            Ok(t) => Some(t.kind),
        })
        .collect();
        assert_eq!(rest, vec![TokenKind::Semicolon, word("next")]);
        let mut open_forever = Lexer::new("{ a { b }");
        let _ = open_forever.next_token();
        let e = open_forever.skip_bracketed_text(1, 1).err();
        assert_eq!(e.map(|e| (e.line, e.column)), Some((1, 1)));
    }

    #[test]
    fn arbitrary_bytes_do_not_panic() {
        for text in ["\u{0}", "\"\\", "/", "#", "*/", "!!", "\u{feff}x", "a\r\nb"] {
            let mut lexer = Lexer::new(text);
            for _ in 0..16 {
                match lexer.next_token() {
                    Ok(Token {
                        kind: TokenKind::End,
                        ..
                    })
                    | Err(_) => break,
                    Ok(_) => {}
                }
            }
        }
    }
}
