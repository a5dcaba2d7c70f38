//! SIP request methods.
//!
//! Exists so the server can match on the methods it implements and still carry any other
//! token (RFC 3261 `extension-method`) through to a 501 answer. Method names are
//! case-sensitive (RFC 3261 §7.1): `invite` is an extension method, not INVITE.

use std::fmt;

use super::scan::is_token_str;

/// A request method; extension methods borrow their name from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method<'a> {
    Invite,
    Ack,
    Bye,
    Cancel,
    Register,
    Options,
    Info,
    Update,
    Prack,
    Subscribe,
    Notify,
    Refer,
    Message,
    Publish,
    /// Any other token; the server answers 501 unless it implements it.
    Extension(&'a str),
}

impl<'a> Method<'a> {
    /// Classifies a method token; `None` if `s` is not a token.
    pub fn parse(s: &'a str) -> Option<Method<'a>> {
        let m = match s {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "REGISTER" => Method::Register,
            "OPTIONS" => Method::Options,
            "INFO" => Method::Info,
            "UPDATE" => Method::Update,
            "PRACK" => Method::Prack,
            "SUBSCRIBE" => Method::Subscribe,
            "NOTIFY" => Method::Notify,
            "REFER" => Method::Refer,
            "MESSAGE" => Method::Message,
            "PUBLISH" => Method::Publish,
            _ if is_token_str(s) => Method::Extension(s),
            _ => return None,
        };
        Some(m)
    }

    /// The method name as sent.
    pub fn as_str(&self) -> &'a str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Register => "REGISTER",
            Method::Options => "OPTIONS",
            Method::Info => "INFO",
            Method::Update => "UPDATE",
            Method::Prack => "PRACK",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Refer => "REFER",
            Method::Message => "MESSAGE",
            Method::Publish => "PUBLISH",
            Method::Extension(s) => s,
        }
    }

    /// True for methods this crate does not know.
    pub fn is_extension(&self) -> bool {
        matches!(self, Method::Extension(_))
    }
}

impl fmt::Display for Method<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_known_and_extension() {
        assert_eq!(Method::parse("INVITE"), Some(Method::Invite));
        assert_eq!(Method::parse("invite"), Some(Method::Extension("invite")));
        assert_eq!(Method::parse("RE%47IST%45R"), Some(Method::Extension("RE%47IST%45R")));
        assert_eq!(Method::parse("BAD METHOD"), None);
        assert_eq!(Method::parse(""), None);
    }

    #[test]
    fn print_round_trips() {
        for s in ["INVITE", "ACK", "PUBLISH", "!interesting-Method0123456789_*+`.%indeed'~"] {
            assert_eq!(Method::parse(s).map(|m| m.to_string()).as_deref(), Some(s));
        }
    }
}
