//! Dial patterns: the one syntax used for outbound routes, blacklists, caller ID rules and
//! IVR conditions.
//!
//! - `0`-`9`, `+`, `*`, `#` match themselves
//! - `X` any digit, `Z` 1-9, `N` 2-9, `[1-5]` / `[136]` / `[0-27-9]` a digit from the set
//! - `.` at the end: one or more further characters; `!` at the end: zero or more
//!
//! Examples: `0[1-9]XXXX.` (national numbers), `00Z.` (international), `112` (exact).

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Elem {
    Literal(u8),
    /// Bit n set: digit n matches.
    Digits(u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tail {
    Exact,
    OneOrMore,
    ZeroOrMore,
}

/// A parsed dial pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    elems: Vec<Elem>,
    tail: Tail,
}

const ALL_DIGITS: u16 = 0b11_1111_1111;

impl Pattern {
    /// Whether `number` matches the whole pattern.
    pub fn matches(&self, number: &str) -> bool {
        let bytes = number.as_bytes();
        if bytes.len() < self.elems.len() {
            return false;
        }
        let fixed_ok = self.elems.iter().zip(bytes).all(|(elem, &b)| match *elem {
            Elem::Literal(l) => l == b,
            Elem::Digits(set) => b.is_ascii_digit() && set & (1 << (b - b'0')) != 0,
        });
        let rest = bytes.len() - self.elems.len();
        fixed_ok
            && match self.tail {
                Tail::Exact => rest == 0,
                Tail::OneOrMore => rest > 0,
                Tail::ZeroOrMore => true,
            }
    }

    /// The shortest number the pattern matches.
    pub fn min_len(&self) -> usize {
        self.elems.len() + usize::from(self.tail == Tail::OneOrMore)
    }
}

impl FromStr for Pattern {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("invalid dial pattern \"{text}\": {why}");
        let mut elems = Vec::new();
        let mut tail = Tail::Exact;
        let mut chars = text.bytes().peekable();
        while let Some(c) = chars.next() {
            if tail != Tail::Exact {
                return Err(bad("`.` and `!` may only end the pattern"));
            }
            match c {
                b'0'..=b'9' | b'+' | b'*' | b'#' => elems.push(Elem::Literal(c)),
                b'X' | b'x' => elems.push(Elem::Digits(ALL_DIGITS)),
                b'Z' | b'z' => elems.push(Elem::Digits(ALL_DIGITS & !1)),
                b'N' | b'n' => elems.push(Elem::Digits(ALL_DIGITS & !0b11)),
                b'.' => tail = Tail::OneOrMore,
                b'!' => tail = Tail::ZeroOrMore,
                b'[' => {
                    let mut set = 0u16;
                    let mut prev: Option<u8> = None;
                    loop {
                        match chars.next() {
                            Some(b']') => break,
                            Some(b'-') => {
                                let (Some(from), Some(to @ b'0'..=b'9')) = (prev, chars.next()) else {
                                    return Err(bad("a range in [] is written like 1-5"));
                                };
                                if to < from {
                                    return Err(bad("a range in [] must go upwards, like 1-5"));
                                }
                                for d in from..=to {
                                    set |= 1 << (d - b'0');
                                }
                                prev = None;
                            }
                            Some(d @ b'0'..=b'9') => {
                                set |= 1 << (d - b'0');
                                prev = Some(d);
                            }
                            Some(_) => return Err(bad("only digits and ranges may stand in []")),
                            None => return Err(bad("a [ is not closed by ]")),
                        }
                    }
                    if set == 0 {
                        return Err(bad("[] is empty"));
                    }
                    elems.push(Elem::Digits(set));
                }
                other => {
                    return Err(bad(&format!(
                        "unexpected `{}`; use digits, + * #, X Z N, [..], and . or ! at the end",
                        other as char
                    )));
                }
            }
        }
        if elems.is_empty() {
            return Err(bad("it matches nothing; write at least one digit or X"));
        }
        Ok(Self { text: text.to_owned(), elems, tail })
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Pattern {
        s.parse().unwrap()
    }

    #[test]
    fn literal_and_classes() {
        assert!(p("112").matches("112"));
        assert!(!p("112").matches("1120"));
        assert!(p("NXX").matches("200"));
        assert!(!p("NXX").matches("100"));
        assert!(p("ZX").matches("10"));
        assert!(!p("ZX").matches("01"));
        assert!(p("+49X.").matches("+4930123"));
        assert!(!p("+49X.").matches("+49"));
        assert!(!p("+49X.").matches("+493"));
    }

    #[test]
    fn sets_and_ranges() {
        let pat = p("0[1-35]X");
        assert!(pat.matches("011"));
        assert!(pat.matches("031"));
        assert!(pat.matches("051"));
        assert!(!pat.matches("041"));
        assert!(p("[0-27-9]").matches("8"));
        assert!(!p("[0-27-9]").matches("5"));
    }

    #[test]
    fn tails() {
        assert!(p("00!").matches("00"));
        assert!(p("00!").matches("0049"));
        assert!(!p("00.").matches("00"));
        assert_eq!(p("00.").min_len(), 3);
        assert_eq!(p("00!").min_len(), 2);
    }

    #[test]
    fn bad_patterns_say_why() {
        for (bad, why) in [
            ("0.X", "may only end"),
            ("[1-", "range"),
            ("[5-1]", "upwards"),
            ("[]", "empty"),
            ("0[1", "not closed"),
            ("0a", "unexpected `a`"),
            ("", "matches nothing"),
            (".", "matches nothing"),
        ] {
            let err = bad.parse::<Pattern>().unwrap_err();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
    }
}
