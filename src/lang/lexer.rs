//! The tj lexer: source bytes to tokens.
//!
//! Contract:
//! - Input is any byte string. Valid UTF-8 is lexed per LANGUAGE.md
//!   "Lexical"; at the first byte that is not UTF-8 the lexer reports
//!   `invalid UTF-8 in source` and stops, as if the file ended there.
//! - Output is a token stream that always ends with one [`TokenKind::Eof`],
//!   plus the lexical errors of docs/diagnostics.md, each at the first
//!   character of the offending token. Columns count characters from 1.
//! - Errors never stop lexing (except invalid UTF-8) and are chosen so that
//!   the parser does not cascade: a malformed number still yields a number
//!   token (value 0), while text that is no token at all (a run of
//!   unexpected characters, an unterminated string) yields one
//!   [`TokenKind::Error`] token that the parser skips silently.
//! - Integer tokens carry an unsigned value up to 2^63: the literal
//!   `9223372036854775808` is only legal directly after unary minus, which is
//!   the parser's business.
//! - Time is linear in the input; at most [`DIAGNOSTIC_LIMIT`] errors are
//!   kept.
//!
//! [`Lexer`] produces tokens on demand so that the parser never holds a
//! 10 MB input's worth of tokens; [`tokenize`] collects them all.

use super::ast::Pos;
use super::diag::Diagnostic;

/// A phase of the front end stops recording errors after this many; the
/// driver prints even fewer.
pub const DIAGNOSTIC_LIMIT: usize = 100;

/// Longest name quoted verbatim in a message; longer ones are shortened so
/// that a megabyte-long identifier cannot blow up the error output.
const MAX_QUOTED_NAME: usize = 64;

/// A token and the position of its first character.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    /// What the token is.
    pub kind: TokenKind,
    /// Position of the first character.
    pub pos: Pos,
}

/// The kinds of tokens.
#[derive(Clone, Debug, PartialEq)]
pub enum TokenKind {
    /// An identifier that is not a keyword.
    Ident(String),
    /// An integer literal, at most 2^63 (see the module doc).
    Int(u64),
    /// A float literal (finite).
    Float(f64),
    /// A string literal, escapes decoded.
    Str(String),
    /// `fn`
    Fn,
    /// `let`
    Let,
    /// `const`
    Const,
    /// `if`
    If,
    /// `else`
    Else,
    /// `while`
    While,
    /// `for`
    For,
    /// `in`
    In,
    /// `return`
    Return,
    /// `break`
    Break,
    /// `continue`
    Continue,
    /// `true`
    True,
    /// `false`
    False,
    /// `int` (a type, and the builtin `int(x)`)
    IntKw,
    /// `float` (a type, and the builtin `float(x)`)
    FloatKw,
    /// `bool`
    BoolKw,
    /// `spawn`
    Spawn,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `,`
    Comma,
    /// `;`
    Semi,
    /// `:`
    Colon,
    /// `->`
    Arrow,
    /// `.` (never valid, but a token so the parser can name it)
    Dot,
    /// `..`
    DotDot,
    /// `=`
    Assign,
    /// `==`
    EqEq,
    /// `!=`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `*`
    Star,
    /// `/`
    Slash,
    /// `%`
    Percent,
    /// `&`
    Amp,
    /// `&&`
    AndAnd,
    /// `|`
    Pipe,
    /// `||`
    OrOr,
    /// `^`
    Caret,
    /// `<<`
    Shl,
    /// `>>`
    Shr,
    /// `!`
    Bang,
    /// `~`
    Tilde,
    /// Text the lexer already reported as an error; the parser stays silent
    /// about it.
    Error,
    /// End of input (also after invalid UTF-8).
    Eof,
}

impl TokenKind {
    /// The token as docs/diagnostics.md describes it in `found Y`.
    pub fn describe(&self) -> String {
        match self {
            TokenKind::Ident(name) => format!("identifier {}", quote_name(name)),
            TokenKind::Int(_) => "integer literal".to_string(),
            TokenKind::Float(_) => "float literal".to_string(),
            TokenKind::Str(_) => "string literal".to_string(),
            TokenKind::Error => "invalid token".to_string(),
            TokenKind::Eof => "end of file".to_string(),
            other => format!("'{}'", other.fixed_text().unwrap_or("?")),
        }
    }

    /// The source text of keywords and punctuation.
    fn fixed_text(&self) -> Option<&'static str> {
        use TokenKind::*;
        let text = match self {
            Fn => "fn",
            Let => "let",
            Const => "const",
            If => "if",
            Else => "else",
            While => "while",
            For => "for",
            In => "in",
            Return => "return",
            Break => "break",
            Continue => "continue",
            True => "true",
            False => "false",
            IntKw => "int",
            FloatKw => "float",
            BoolKw => "bool",
            Spawn => "spawn",
            LParen => "(",
            RParen => ")",
            LBrace => "{",
            RBrace => "}",
            LBracket => "[",
            RBracket => "]",
            Comma => ",",
            Semi => ";",
            Colon => ":",
            Arrow => "->",
            Dot => ".",
            DotDot => "..",
            Assign => "=",
            EqEq => "==",
            NotEq => "!=",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            Plus => "+",
            Minus => "-",
            Star => "*",
            Slash => "/",
            Percent => "%",
            Amp => "&",
            AndAnd => "&&",
            Pipe => "|",
            OrOr => "||",
            Caret => "^",
            Shl => "<<",
            Shr => ">>",
            Bang => "!",
            Tilde => "~",
            Ident(_) | Int(_) | Float(_) | Str(_) | Error | Eof => return None,
        };
        Some(text)
    }
}

/// `'name'` for messages, shortened with `...` past `MAX_QUOTED_NAME`
/// characters.
pub fn quote_name(name: &str) -> String {
    match name.char_indices().nth(MAX_QUOTED_NAME) {
        Some((cut, _)) => format!("'{}...'", &name[..cut]),
        None => format!("'{name}'"),
    }
}

/// Lexes all of `src`; the last token is [`TokenKind::Eof`].
pub fn tokenize(src: &[u8]) -> (Vec<Token>, Vec<Diagnostic>) {
    let mut lexer = Lexer::new(src);
    let mut tokens = Vec::new();
    loop {
        let token = lexer.next_token();
        let at_end = token.kind == TokenKind::Eof;
        tokens.push(token);
        if at_end {
            break;
        }
    }
    (tokens, lexer.into_diagnostics())
}

/// The keyword spelled `word`, if any.
fn keyword(word: &str) -> Option<TokenKind> {
    use TokenKind::*;
    let kind = match word {
        "fn" => Fn,
        "let" => Let,
        "const" => Const,
        "if" => If,
        "else" => Else,
        "while" => While,
        "for" => For,
        "in" => In,
        "return" => Return,
        "break" => Break,
        "continue" => Continue,
        "true" => True,
        "false" => False,
        "int" => IntKw,
        "float" => FloatKw,
        "bool" => BoolKw,
        "spawn" => Spawn,
        _ => return None,
    };
    Some(kind)
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_continue(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// A tokenizer that produces one token per [`Lexer::next_token`] call.
pub struct Lexer<'src> {
    /// The valid UTF-8 prefix of the input.
    text: &'src str,
    /// Byte offset of the next unread byte of `text`.
    offset: usize,
    /// Position of the next unread character.
    pos: Pos,
    /// True if the input had invalid UTF-8 after `text`.
    truncated: bool,
    /// True once `invalid UTF-8 in source` has been reported.
    reported_invalid_utf8: bool,
    diagnostics: Vec<Diagnostic>,
}

impl<'src> Lexer<'src> {
    /// A lexer at the start of `src`.
    pub fn new(src: &'src [u8]) -> Lexer<'src> {
        let (text, truncated) = match std::str::from_utf8(src) {
            Ok(text) => (text, false),
            Err(err) => {
                let valid = &src[..err.valid_up_to()];
                (std::str::from_utf8(valid).unwrap_or_default(), true)
            }
        };
        Lexer {
            text,
            offset: 0,
            pos: Pos { line: 1, col: 1 },
            truncated,
            reported_invalid_utf8: false,
            diagnostics: Vec::new(),
        }
    }

    /// True if lexing stopped early at invalid UTF-8: the parser then keeps
    /// quiet about the premature end of file.
    pub fn stopped_at_invalid_utf8(&self) -> bool {
        self.truncated
    }

    /// The errors found so far.
    pub fn into_diagnostics(self) -> Vec<Diagnostic> {
        self.diagnostics
    }

    /// The next token; [`TokenKind::Eof`] forever once the input is done.
    pub fn next_token(&mut self) -> Token {
        self.skip_whitespace_and_comments();
        let pos = self.pos;
        let Some(first) = self.peek_byte(0) else {
            return self.end_of_input(pos);
        };
        let kind = if is_ident_start(first) {
            self.lex_word()
        } else if first.is_ascii_digit() {
            self.lex_number(pos)
        } else if first == b'"' {
            self.lex_string(pos)
        } else if let Some(kind) = self.lex_punctuation(first) {
            kind
        } else {
            self.lex_unexpected(pos)
        };
        Token { kind, pos }
    }

    fn end_of_input(&mut self, pos: Pos) -> Token {
        // Report it once, however often the parser asks for more.
        if self.truncated && !self.reported_invalid_utf8 {
            self.reported_invalid_utf8 = true;
            self.report(pos, "invalid UTF-8 in source");
        }
        Token {
            kind: TokenKind::Eof,
            pos,
        }
    }

    fn report(&mut self, pos: Pos, message: impl Into<String>) {
        if self.diagnostics.len() < DIAGNOSTIC_LIMIT {
            self.diagnostics.push(Diagnostic::new(pos, message));
        }
    }

    fn peek_byte(&self, ahead: usize) -> Option<u8> {
        self.text.as_bytes().get(self.offset + ahead).copied()
    }

    /// Consumes one byte, counting a column per character: UTF-8
    /// continuation bytes do not start a character.
    fn bump(&mut self) {
        let Some(b) = self.peek_byte(0) else { return };
        self.offset += 1;
        if b == b'\n' {
            self.pos.line = self.pos.line.saturating_add(1);
            self.pos.col = 1;
        } else if b & 0xC0 != 0x80 {
            self.pos.col = self.pos.col.saturating_add(1);
        }
    }

    fn bump_n(&mut self, n: usize) {
        for _ in 0..n {
            self.bump();
        }
    }

    fn skip_whitespace_and_comments(&mut self) {
        while let Some(b) = self.peek_byte(0) {
            if b == b' ' || b == b'\t' || b == b'\n' || b == b'\r' {
                self.bump();
            } else if b == b'/' && self.peek_byte(1) == Some(b'/') {
                while self.peek_byte(0).is_some_and(|b| b != b'\n') {
                    self.bump();
                }
            } else {
                break;
            }
        }
    }

    fn lex_word(&mut self) -> TokenKind {
        let start = self.offset;
        while self.peek_byte(0).is_some_and(is_ident_continue) {
            self.bump();
        }
        let word = &self.text[start..self.offset];
        keyword(word).unwrap_or_else(|| TokenKind::Ident(word.to_string()))
    }

    fn lex_punctuation(&mut self, first: u8) -> Option<TokenKind> {
        use TokenKind::*;
        let second = self.peek_byte(1);
        let (kind, len) = match (first, second) {
            (b'-', Some(b'>')) => (Arrow, 2),
            (b'.', Some(b'.')) => (DotDot, 2),
            (b'=', Some(b'=')) => (EqEq, 2),
            (b'!', Some(b'=')) => (NotEq, 2),
            (b'<', Some(b'=')) => (Le, 2),
            (b'>', Some(b'=')) => (Ge, 2),
            (b'<', Some(b'<')) => (Shl, 2),
            (b'>', Some(b'>')) => (Shr, 2),
            (b'&', Some(b'&')) => (AndAnd, 2),
            (b'|', Some(b'|')) => (OrOr, 2),
            (b'(', _) => (LParen, 1),
            (b')', _) => (RParen, 1),
            (b'{', _) => (LBrace, 1),
            (b'}', _) => (RBrace, 1),
            (b'[', _) => (LBracket, 1),
            (b']', _) => (RBracket, 1),
            (b',', _) => (Comma, 1),
            (b';', _) => (Semi, 1),
            (b':', _) => (Colon, 1),
            (b'.', _) => (Dot, 1),
            (b'=', _) => (Assign, 1),
            (b'<', _) => (Lt, 1),
            (b'>', _) => (Gt, 1),
            (b'+', _) => (Plus, 1),
            (b'-', _) => (Minus, 1),
            (b'*', _) => (Star, 1),
            (b'/', _) => (Slash, 1),
            (b'%', _) => (Percent, 1),
            (b'&', _) => (Amp, 1),
            (b'|', _) => (Pipe, 1),
            (b'^', _) => (Caret, 1),
            (b'!', _) => (Bang, 1),
            (b'~', _) => (Tilde, 1),
            _ => return None,
        };
        self.bump_n(len);
        Some(kind)
    }

    /// A run of characters that start no token: one error, one token.
    fn lex_unexpected(&mut self, pos: Pos) -> TokenKind {
        let first = self.current_char();
        self.report(
            pos,
            format!("unexpected character '{}'", first.escape_debug()),
        );
        loop {
            self.bump_char();
            match self.peek_byte(0) {
                None => break,
                Some(b) if self.starts_token(b) => break,
                Some(_) => {}
            }
        }
        TokenKind::Error
    }

    /// True if `b` is whitespace or starts a token.
    fn starts_token(&self, b: u8) -> bool {
        matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'"')
            || is_ident_continue(b)
            || b"()[]{},;:.=<>+-*/%&|^!~".contains(&b)
    }

    fn current_char(&self) -> char {
        self.text[self.offset..].chars().next().unwrap_or('\0')
    }

    fn bump_char(&mut self) {
        let len = self.current_char().len_utf8();
        self.bump_n(len);
    }

    fn lex_number(&mut self, pos: Pos) -> TokenKind {
        let start = self.offset;
        self.scan_number_span();
        let span = &self.text[start..self.offset];
        match parse_number(span) {
            Ok(kind) => kind,
            Err(error) => {
                let (message, placeholder) = match error {
                    NumberError::Invalid => {
                        let looks_float = span.contains(['.', 'e', 'E']) && !span.starts_with("0x");
                        let placeholder = if looks_float {
                            TokenKind::Float(0.0)
                        } else {
                            TokenKind::Int(0)
                        };
                        ("invalid number literal", placeholder)
                    }
                    NumberError::IntOutOfRange => {
                        ("integer literal out of range", TokenKind::Int(0))
                    }
                    NumberError::FloatOutOfRange => {
                        ("float literal out of range", TokenKind::Float(0.0))
                    }
                };
                self.report(pos, message);
                placeholder
            }
        }
    }

    /// Consumes the longest text that belongs to one number, valid or not,
    /// so that an error is reported once for all of it: letters, digits and
    /// `_`; one `.` unless it starts `..` (a range) or the literal is hex; a
    /// sign right after a decimal exponent's `e`.
    fn scan_number_span(&mut self) {
        let start = self.offset;
        let hex = self.text[start..].starts_with("0x");
        let mut seen_dot = false;
        self.bump(); // the first digit
        while let Some(b) = self.peek_byte(0) {
            let previous = self.text.as_bytes()[self.offset - 1];
            let takes = match b {
                _ if is_ident_continue(b) => true,
                b'.' => !hex && !seen_dot && self.peek_byte(1) != Some(b'.'),
                b'+' | b'-' => !hex && matches!(previous, b'e' | b'E'),
                _ => false,
            };
            if !takes {
                break;
            }
            seen_dot |= b == b'.';
            self.bump();
        }
    }

    fn lex_string(&mut self, start: Pos) -> TokenKind {
        self.bump(); // the opening quote
        let mut value = String::new();
        loop {
            match self.peek_byte(0) {
                None | Some(b'\n') => {
                    // A string cut short by invalid UTF-8 is that error's
                    // fault, not its own.
                    let cut_by_bad_byte = self.truncated && self.peek_byte(0).is_none();
                    if !cut_by_bad_byte {
                        self.report(start, "unterminated string literal");
                    }
                    return TokenKind::Error;
                }
                Some(b'"') => {
                    self.bump();
                    return TokenKind::Str(value);
                }
                Some(b'\\') => self.lex_escape(&mut value),
                Some(_) => {
                    value.push(self.current_char());
                    self.bump_char();
                }
            }
        }
    }

    /// One escape sequence; an unknown one is reported and kept verbatim.
    fn lex_escape(&mut self, value: &mut String) {
        let backslash = self.pos;
        self.bump();
        let decoded = match self.peek_byte(0) {
            Some(b'n') => '\n',
            Some(b't') => '\t',
            Some(b'\\') => '\\',
            Some(b'"') => '"',
            // The string is unterminated; the caller reports that.
            None | Some(b'\n') => return,
            Some(_) => {
                let c = self.current_char();
                self.report(
                    backslash,
                    format!("unknown escape sequence '\\{}'", c.escape_debug()),
                );
                c
            }
        };
        value.push(decoded);
        self.bump_char();
    }
}

/// Why a number's text is no valid literal.
#[derive(Debug, PartialEq)]
enum NumberError {
    /// Malformed (see docs/diagnostics.md for the cases).
    Invalid,
    /// An integer above 2^63.
    IntOutOfRange,
    /// A float that rounds to infinity.
    FloatOutOfRange,
}

/// 2^63: the magnitude of the minimum int, legal only after unary minus.
pub const MIN_INT_MAGNITUDE: u64 = 1 << 63;

/// Parses the text [`Lexer::scan_number_span`] consumed.
fn parse_number(span: &str) -> Result<TokenKind, NumberError> {
    if let Some(digits) = span.strip_prefix("0x") {
        let value = digit_group_value(digits, 16).ok_or(NumberError::Invalid)?;
        return int_token(value);
    }
    let (mantissa, exponent) = match span.find(['e', 'E']) {
        Some(at) => (&span[..at], Some(&span[at + 1..])),
        None => (span, None),
    };
    let (whole, fraction) = match mantissa.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (mantissa, None),
    };
    let whole_value = digit_group_value(whole, 10).ok_or(NumberError::Invalid)?;
    if let Some(fraction) = fraction {
        digit_group_value(fraction, 10).ok_or(NumberError::Invalid)?;
    }
    if let Some(exponent) = exponent {
        let unsigned = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
        digit_group_value(unsigned, 10).ok_or(NumberError::Invalid)?;
    }
    if fraction.is_none() && exponent.is_none() {
        return int_token(whole_value);
    }
    let cleaned: String = span.chars().filter(|&c| c != '_').collect();
    let value: f64 = cleaned.parse().map_err(|_| NumberError::Invalid)?;
    if value.is_infinite() {
        return Err(NumberError::FloatOutOfRange);
    }
    Ok(TokenKind::Float(value))
}

fn int_token(value: u128) -> Result<TokenKind, NumberError> {
    match u64::try_from(value) {
        Ok(v) if v <= MIN_INT_MAGNITUDE => Ok(TokenKind::Int(v)),
        _ => Err(NumberError::IntOutOfRange),
    }
}

/// The value of digits in `radix` with single `_` between digits, saturated
/// far above the int range; `None` if malformed or empty.
fn digit_group_value(text: &str, radix: u32) -> Option<u128> {
    let bytes = text.as_bytes();
    let (first, last) = (*bytes.first()?, *bytes.last()?);
    if first == b'_' || last == b'_' || text.contains("__") {
        return None;
    }
    let mut value: u128 = 0;
    for c in text.chars().filter(|&c| c != '_') {
        let digit = c.to_digit(radix)?;
        value = (value * u128::from(radix) + u128::from(digit)).min(u128::from(u64::MAX) + 1);
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<TokenKind> {
        let (tokens, diagnostics) = tokenize(src.as_bytes());
        assert!(diagnostics.is_empty(), "{src:?}: {diagnostics:?}");
        tokens.into_iter().map(|t| t.kind).collect()
    }

    /// The single token of `src` (before EOF), which must lex cleanly.
    fn single(src: &str) -> TokenKind {
        let mut all = kinds(src);
        assert_eq!(all.len(), 2, "{src:?}: {all:?}");
        all.remove(0)
    }

    /// The errors of `src` as `line:col: message`.
    fn errors(src: &[u8]) -> Vec<String> {
        let (_, diagnostics) = tokenize(src);
        diagnostics
            .iter()
            .map(|d| d.to_string().replace(": error", ""))
            .collect()
    }

    #[test]
    fn every_keyword_and_punctuation() {
        use TokenKind::*;
        let src = "fn let const if else while for in return break continue true false \
                   int float bool spawn ( ) { } [ ] , ; : -> . .. = == != < <= > >= \
                   + - * / % & && | || ^ << >> ! ~";
        let expected = vec![
            Fn, Let, Const, If, Else, While, For, In, Return, Break, Continue, True, False, IntKw,
            FloatKw, BoolKw, Spawn, LParen, RParen, LBrace, RBrace, LBracket, RBracket, Comma,
            Semi, Colon, Arrow, Dot, DotDot, Assign, EqEq, NotEq, Lt, Le, Gt, Ge, Plus, Minus,
            Star, Slash, Percent, Amp, AndAnd, Pipe, OrOr, Caret, Shl, Shr, Bang, Tilde, Eof,
        ];
        assert_eq!(kinds(src), expected);
        for kind in &expected[..expected.len() - 1] {
            let text = kind.fixed_text().unwrap();
            assert_eq!(kind.describe(), format!("'{text}'"));
        }
    }

    #[test]
    fn identifiers_literals_and_their_descriptions() {
        use TokenKind::*;
        let all = kinds("_x a1_B \"s\" 7 2.5");
        let expected = [
            Ident("_x".into()),
            Ident("a1_B".into()),
            Str("s".into()),
            Int(7),
            Float(2.5),
            Eof,
        ];
        assert_eq!(all, expected);
        let described: Vec<String> = all.iter().map(TokenKind::describe).collect();
        assert_eq!(
            described,
            [
                "identifier '_x'",
                "identifier 'a1_B'",
                "string literal",
                "integer literal",
                "float literal",
                "end of file"
            ]
        );
    }

    #[test]
    fn operators_without_spaces() {
        use TokenKind::*;
        assert_eq!(
            kinds("a<<=b->c..d&&&e"),
            [
                Ident("a".into()),
                Shl,
                Assign,
                Ident("b".into()),
                Arrow,
                Ident("c".into()),
                DotDot,
                Ident("d".into()),
                AndAnd,
                Amp,
                Ident("e".into()),
                Eof
            ]
        );
    }

    #[test]
    fn integer_literals() {
        assert_eq!(single("1_000"), TokenKind::Int(1000));
        assert_eq!(single("1_000_000"), TokenKind::Int(1_000_000));
        assert_eq!(single("0x1F"), TokenKind::Int(31));
        assert_eq!(single("0x1f"), TokenKind::Int(31));
        assert_eq!(single("0xdead_BEEF"), TokenKind::Int(0xdead_beef));
        assert_eq!(single("007"), TokenKind::Int(7));
        assert_eq!(
            single("9223372036854775807"),
            TokenKind::Int(i64::MAX as u64)
        );
        // Legal only after unary minus: the parser decides.
        assert_eq!(
            single("9223372036854775808"),
            TokenKind::Int(MIN_INT_MAGNITUDE)
        );
        assert_eq!(
            single("0x8000000000000000"),
            TokenKind::Int(MIN_INT_MAGNITUDE)
        );
        assert_eq!(
            single("0x7fffffffffffffff"),
            TokenKind::Int(i64::MAX as u64)
        );
    }

    #[test]
    fn float_literals() {
        assert_eq!(single("1.5"), TokenKind::Float(1.5));
        assert_eq!(single("0.25"), TokenKind::Float(0.25));
        assert_eq!(single("1e9"), TokenKind::Float(1e9));
        assert_eq!(single("2.5e-3"), TokenKind::Float(2.5e-3));
        assert_eq!(single("1.0E+3"), TokenKind::Float(1000.0));
        assert_eq!(single("1_0.2_5e1_0"), TokenKind::Float(10.25e10));
        assert_eq!(single("1e-999"), TokenKind::Float(0.0));
        assert_eq!(single("1.7976931348623157e308"), TokenKind::Float(f64::MAX));
    }

    #[test]
    fn ranges_and_dots_are_not_floats() {
        use TokenKind::*;
        assert_eq!(kinds("1..5"), [Int(1), DotDot, Int(5), Eof]);
        assert_eq!(kinds(".5"), [Dot, Int(5), Eof]);
        assert_eq!(kinds("1.5.2"), [Float(1.5), Dot, Int(2), Eof]);
        assert_eq!(kinds("0x1..2"), [Int(1), DotDot, Int(2), Eof]);
        assert_eq!(kinds("0x1e-3"), [Int(0x1e), Minus, Int(3), Eof]);
    }

    #[test]
    fn malformed_numbers() {
        for bad in [
            "0X1", "1.", "1.x", "1e", "1e+", "0x", "1_", "1__0", "1_.5", "1._5", "1e_5", "1_e5",
            "0x_1", "0x1_", "12ab", "1.5f", "0xg", "1.0e5x",
        ] {
            let src = format!("{bad} ;");
            assert_eq!(
                errors(src.as_bytes()),
                ["1:1: invalid number literal"],
                "{bad}"
            );
            // One number token (a placeholder), then the `;`.
            let (tokens, _) = tokenize(src.as_bytes());
            assert_eq!(tokens.len(), 3, "{bad}: {tokens:?}");
            assert_eq!(tokens[1].kind, TokenKind::Semi, "{bad}");
        }
        // `_1` is an identifier, not a number.
        assert_eq!(single("_1"), TokenKind::Ident("_1".into()));
    }

    #[test]
    fn literals_out_of_range() {
        let int_error = ["1:3: integer literal out of range"];
        assert_eq!(errors(b"x 9223372036854775809"), int_error);
        assert_eq!(errors(b"x 18446744073709551616"), int_error);
        assert_eq!(errors(b"x 0x8000000000000001"), int_error);
        assert_eq!(errors(b"x 0x1_0000_0000_0000_0000"), int_error);
        let digits = "9".repeat(100_000);
        assert_eq!(errors(format!("x {digits}").as_bytes()), int_error);
        let float_error = ["1:3: float literal out of range"];
        assert_eq!(errors(b"x 1e999"), float_error);
        assert_eq!(errors(b"x 1.8e308"), float_error);
        assert_eq!(errors(format!("x {digits}.0").as_bytes()), float_error);
    }

    #[test]
    fn strings_and_escapes() {
        let expected = TokenKind::Str("a\nb\tc\\d\"e".into());
        assert_eq!(single(r#""a\nb\tc\\d\"e""#), expected);
        assert_eq!(
            single("\"héllo // not a comment\""),
            TokenKind::Str("héllo // not a comment".into())
        );
        assert_eq!(
            errors(br#"x "a\qb""#),
            [r"1:5: unknown escape sequence '\q'"]
        );
        assert_eq!(errors(b"x \"abc\ny"), ["1:3: unterminated string literal"]);
        assert_eq!(errors(b"x \"abc"), ["1:3: unterminated string literal"]);
        assert_eq!(errors(b"x \"abc\\"), ["1:3: unterminated string literal"]);
        let (tokens, _) = tokenize(b"\"abc\ny");
        assert_eq!(tokens[0].kind, TokenKind::Error);
        assert_eq!(tokens[1].kind, TokenKind::Ident("y".into()));
    }

    #[test]
    fn positions_count_characters() {
        let (tokens, _) = tokenize("// héllo\n\t\"éé\" x\r\n  y".as_bytes());
        let positions: Vec<(u32, u32)> = tokens.iter().map(|t| (t.pos.line, t.pos.col)).collect();
        assert_eq!(positions, [(2, 2), (2, 7), (3, 3), (3, 4)]);
    }

    #[test]
    fn unexpected_characters() {
        assert_eq!(errors(b"a @ b"), ["1:3: unexpected character '@'"]);
        // A run is one error and one token.
        let (tokens, diagnostics) = tokenize("a @#$é b".as_bytes());
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(tokens[1].kind, TokenKind::Error);
        assert_eq!(tokens[2].kind, TokenKind::Ident("b".into()));
        assert_eq!(tokens[2].pos.col, 8);
        assert_eq!(errors(b"\x07"), [r"1:1: unexpected character '\u{7}'"]);
        assert_eq!(errors("é".as_bytes()), ["1:1: unexpected character 'é'"]);
        assert_eq!(errors(b"'"), [r"1:1: unexpected character '\''"]);
    }

    #[test]
    fn invalid_utf8_stops_lexing() {
        let (tokens, diagnostics) = tokenize(b"ab\n  c\xff d");
        assert_eq!(
            diagnostics,
            [Diagnostic::new(
                Pos { line: 2, col: 4 },
                "invalid UTF-8 in source"
            )]
        );
        let kinds: Vec<_> = tokens.into_iter().map(|t| t.kind).collect();
        assert_eq!(
            kinds,
            [
                TokenKind::Ident("ab".into()),
                TokenKind::Ident("c".into()),
                TokenKind::Eof
            ]
        );
        // Inside a string it is not also an unterminated string.
        assert_eq!(errors(b"\"ab\xc3("), ["1:4: invalid UTF-8 in source"]);
    }

    #[test]
    fn long_names_are_shortened_in_messages() {
        let long = "x".repeat(1000);
        let quoted = quote_name(&long);
        assert_eq!(quoted.len(), MAX_QUOTED_NAME + 5);
        assert!(quoted.ends_with("...'"));
        assert_eq!(quote_name("é"), "'é'");
    }

    #[test]
    fn many_errors_are_capped() {
        let src = "@ ".repeat(10_000);
        assert_eq!(errors(src.as_bytes()).len(), DIAGNOSTIC_LIMIT);
    }
}
