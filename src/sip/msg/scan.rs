//! Byte-level lexing shared by every header grammar: token and whitespace classes, a
//! cursor over header text, quoted strings, comma lists and decimal numbers.
//!
//! Exists so each grammar module stays short and all of them treat LWS alike. Header text
//! reaching here has already been cut at line boundaries, so any CR or LF inside it is line
//! folding and counts as whitespace. Nothing here may index out of bounds or panic.

use std::borrow::Cow;

use super::error::Invalid;

const fn token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~')
}

/// Defines a `const fn(u8) -> bool` backed by a 256-entry table built from a const
/// predicate, so character-class tests in hot loops are one load.
macro_rules! byte_class {
    ($(#[$m:meta])* $vis:vis fn $name:ident = $pred:path;) => {
        $(#[$m])*
        #[inline]
        // A u8 index into a 256-entry table, and a const loop below 256: cannot panic.
        #[allow(clippy::indexing_slicing)]
        $vis const fn $name(b: u8) -> bool {
            const TABLE: [bool; 256] = {
                let mut t = [false; 256];
                let mut i = 0;
                while i < 256 {
                    t[i] = $pred(i as u8);
                    i += 1;
                }
                t
            };
            TABLE[b as usize]
        }
    };
}
pub(crate) use byte_class;

byte_class! {
    /// RFC 3261 `token` characters: alphanum and `-.!%*_+`'~`.
    pub(crate) fn is_token = token_char;
}

const fn list_special(b: u8) -> bool {
    matches!(b, b'"' | b'<' | b'>' | b',' | b'\\')
}

byte_class! {
    fn is_list_special = list_special;
}

/// Linear whitespace inside a header value (folding included).
#[inline]
pub(crate) const fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Trims linear whitespace on both ends.
pub(crate) fn trim_ws(s: &str) -> &str {
    let b = s.as_bytes();
    let start = b.iter().position(|&c| !is_ws(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|&c| !is_ws(c)).map_or(start, |e| e + 1);
    s.get(start..end.max(start)).unwrap_or("")
}

/// True when `s` is a non-empty token.
pub(crate) fn is_token_str(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token)
}

/// A read position in one header value.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    #[inline]
    pub(crate) fn new(s: &'a str) -> Self {
        Cursor { s, pos: 0 }
    }

    #[inline]
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    #[inline]
    pub(crate) fn set_pos(&mut self, pos: usize) {
        self.pos = pos.min(self.s.len());
    }

    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    #[inline]
    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    #[inline]
    pub(crate) fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or("")
    }

    /// The text between two positions; positions come from this cursor, so they fall on
    /// ASCII boundaries, but the check stays in case of a logic error.
    #[inline]
    pub(crate) fn slice(&self, from: usize, to: usize) -> Result<&'a str, Invalid> {
        self.s.get(from..to).ok_or(Invalid)
    }

    #[inline]
    pub(crate) fn bump(&mut self) {
        if self.pos < self.s.len() {
            self.pos += 1;
        }
    }

    /// Skips linear whitespace; tells whether any was skipped.
    #[inline]
    pub(crate) fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(is_ws) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// Consumes `b` if it is next.
    #[inline]
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes `SWS b SWS` (RFC 3261 §25.1 separators such as SEMI, EQUAL, SLASH);
    /// leaves the cursor untouched when `b` is not there.
    #[inline]
    pub(crate) fn eat_sep(&mut self, b: u8) -> bool {
        let save = self.pos;
        self.skip_ws();
        if self.eat(b) {
            self.skip_ws();
            true
        } else {
            self.pos = save;
            false
        }
    }

    /// Consumes bytes while `f` holds.
    #[inline]
    pub(crate) fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        let tail = self.s.as_bytes().get(start..).unwrap_or(&[]);
        self.pos = start + tail.iter().position(|&b| !f(b)).unwrap_or(tail.len());
        self.s.get(start..self.pos).unwrap_or("")
    }

    /// One token.
    #[inline]
    pub(crate) fn token(&mut self) -> Result<&'a str, Invalid> {
        let t = self.take_while(is_token);
        if t.is_empty() { Err(Invalid) } else { Ok(t) }
    }

    /// A quoted string starting at the cursor; returns the text between the quotes, with
    /// quoted-pairs left escaped (see [`unquote`]).
    pub(crate) fn quoted(&mut self) -> Result<&'a str, Invalid> {
        if !self.eat(b'"') {
            return Err(Invalid);
        }
        let start = self.pos;
        let bytes = self.s.as_bytes();
        let mut i = start;
        while let Some(&b) = bytes.get(i) {
            match b {
                b'\\' => i += 2,
                b'"' => {
                    let inner = self.s.get(start..i).ok_or(Invalid)?;
                    self.pos = i + 1;
                    return Ok(inner);
                }
                _ => i += 1,
            }
        }
        Err(Invalid)
    }

    /// Succeeds when only whitespace is left.
    #[inline]
    pub(crate) fn expect_end(&mut self) -> Result<(), Invalid> {
        self.skip_ws();
        if self.at_end() { Ok(()) } else { Err(Invalid) }
    }
}

/// Resolves quoted-pairs (`\x` -> `x`) in the inside of a quoted string.
pub(crate) fn unquote(inner: &str) -> Cow<'_, str> {
    if !inner.contains('\\') {
        return Cow::Borrowed(inner);
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Splits a header value on commas that are outside quoted strings and `<...>`, yielding
/// each element trimmed (empty elements included, so grammars can reject them).
pub(crate) fn split_list(s: &str) -> ListIter<'_> {
    ListIter { s, pos: 0, done: false }
}

#[derive(Debug, Clone)]
pub(crate) struct ListIter<'a> {
    s: &'a str,
    pos: usize,
    done: bool,
}

impl<'a> Iterator for ListIter<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.done {
            return None;
        }
        let bytes = self.s.as_bytes();
        let start = self.pos;
        let tail = bytes.get(start..).unwrap_or(&[]);
        // Fast path: no comma left means one element.
        if !tail.contains(&b',') {
            self.done = true;
            return Some(trim_ws(self.s.get(start..).unwrap_or("")));
        }
        let mut i = start;
        let mut in_quote = false;
        let mut in_angle = false;
        loop {
            let skip = bytes.get(i..).unwrap_or(&[]).iter().position(|&b| is_list_special(b));
            let Some(skip) = skip else {
                i = bytes.len();
                break;
            };
            i += skip;
            match bytes.get(i) {
                Some(b'\\') if in_quote => i += 1,
                Some(b'"') if !in_angle => in_quote = !in_quote,
                Some(b'<') if !in_quote => in_angle = true,
                Some(b'>') if !in_quote => in_angle = false,
                Some(b',') if !in_quote && !in_angle => break,
                _ => {}
            }
            i += 1;
        }
        let end = i.min(self.s.len());
        if end >= self.s.len() {
            self.done = true;
        }
        self.pos = end + 1;
        Some(trim_ws(self.s.get(start..end).unwrap_or("")))
    }
}

/// Outcome of reading a decimal number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumError {
    /// Not `1*DIGIT`.
    Syntax,
    /// Too large for the target type.
    Overflow,
}

/// Parses `1*DIGIT` (leading zeros allowed) into a `u32`.
pub(crate) fn parse_u32(s: &str) -> Result<u32, NumError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NumError::Syntax);
    }
    let mut v: u32 = 0;
    for b in s.bytes() {
        v = v.checked_mul(10).and_then(|v| v.checked_add(u32::from(b - b'0'))).ok_or(NumError::Overflow)?;
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_split_respects_quotes_and_angles() {
        let v: Vec<_> = split_list(r#""a, b" <sip:x@y;p=1,2>;q=1 , <sip:z> ,,"c\"," d"#).collect();
        assert_eq!(v, vec![r#""a, b" <sip:x@y;p=1,2>;q=1"#, "<sip:z>", "", r#""c\"," d"#]);
        assert_eq!(split_list("").collect::<Vec<_>>(), vec![""]);
        assert_eq!(split_list("a,").collect::<Vec<_>>(), vec!["a", ""]);
    }

    #[test]
    fn quoted_strings_and_unquote() {
        let mut c = Cursor::new(r#""J Rosenberg \\\"" rest"#);
        let q = c.quoted().unwrap();
        assert_eq!(q, r#"J Rosenberg \\\""#);
        assert_eq!(unquote(q), r#"J Rosenberg \""#);
        assert!(Cursor::new(r#""unterminated"#).quoted().is_err());
        assert!(Cursor::new(r#""ends in backslash\"#).quoted().is_err());
    }

    #[test]
    fn separators_take_folding() {
        let mut c = Cursor::new("a \r\n ; b");
        assert_eq!(c.token().unwrap(), "a");
        assert!(c.eat_sep(b';'));
        assert_eq!(c.token().unwrap(), "b");
        assert!(c.expect_end().is_ok());
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u32("0068"), Ok(68));
        assert_eq!(parse_u32("4294967295"), Ok(u32::MAX));
        assert_eq!(parse_u32("4294967296"), Err(NumError::Overflow));
        assert_eq!(parse_u32("-1"), Err(NumError::Syntax));
        assert_eq!(parse_u32(""), Err(NumError::Syntax));
    }
}
