//! Small value types shared by the tenant model: durations, references between objects,
//! and secret references. Each one parses from the short string people write in a tenant
//! file ("30s", "queue:sales", "env:ACME_101") and prints back to the same string, so plans
//! and `pbxctl get` show what the file says.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Implements Serialize/Deserialize through Display/FromStr and a string JSON Schema.
macro_rules! string_value {
    ($ty:ty, $name:literal, $pattern:expr, $desc:literal) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = Cow::<str>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                $name.into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({ "type": "string", "pattern": $pattern, "description": $desc })
            }
        }
    };
}

/// A length of time written as "500ms", "30s", "5m", "2h", "1d" or combined ("1h30m").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(std::time::Duration);

impl Duration {
    pub const fn from_secs(secs: u64) -> Self {
        Self(std::time::Duration::from_secs(secs))
    }
    pub const fn from_millis(ms: u64) -> Self {
        Self(std::time::Duration::from_millis(ms))
    }
    pub fn as_std(self) -> std::time::Duration {
        self.0
    }
}

impl FromStr for Duration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("invalid duration \"{s}\": write it like \"30s\", \"5m\", \"2h\" or \"1h30m\"");
        let mut total_ms: u64 = 0;
        let mut rest = s;
        if rest.is_empty() {
            return Err(bad());
        }
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(bad());
            }
            let value: u64 = rest[..digits].parse().map_err(|_| bad())?;
            rest = &rest[digits..];
            let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            let unit_ms = match &rest[..unit_len] {
                "ms" => 1,
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => return Err(bad()),
            };
            rest = &rest[unit_len..];
            total_ms = value.checked_mul(unit_ms).and_then(|ms| total_ms.checked_add(ms)).ok_or_else(bad)?;
        }
        Ok(Self(std::time::Duration::from_millis(total_ms)))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.0.as_millis() as u64;
        if ms == 0 {
            return f.write_str("0s");
        }
        for (unit, size) in [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
            if ms >= size {
                write!(f, "{}{unit}", ms / size)?;
                ms %= size;
            }
        }
        Ok(())
    }
}

string_value!(
    Duration,
    "Duration",
    "^([0-9]+(ms|s|m|h|d))+$",
    "A length of time: \"500ms\", \"30s\", \"5m\", \"2h\", \"1d\", or combined like \"1h30m\"."
);

/// Where a call goes: `extension:101`, `queue:sales`, `ivr:main`, `voicemail:101`,
/// `conference:800`, `fax:900`, `hangup`, or an external number (`+4930123456`, or
/// `number:0301234567` for a national number).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Destination {
    Extension(String),
    Queue(String),
    Ivr(String),
    Voicemail(String),
    Conference(String),
    Fax(String),
    Number(String),
    Hangup,
}

impl Destination {
    /// The kind word used in the string form and in messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Extension(_) => "extension",
            Self::Queue(_) => "queue",
            Self::Ivr(_) => "ivr",
            Self::Voicemail(_) => "voicemail",
            Self::Conference(_) => "conference",
            Self::Fax(_) => "fax",
            Self::Number(_) => "number",
            Self::Hangup => "hangup",
        }
    }
}

fn is_dial_string(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or(s);
    !digits.is_empty() && digits.len() <= 20 && digits.bytes().all(|b| b.is_ascii_digit())
}

impl FromStr for Destination {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "hangup" {
            return Ok(Self::Hangup);
        }
        if s.starts_with('+') {
            return if is_dial_string(s) {
                Ok(Self::Number(s.to_owned()))
            } else {
                Err(format!("invalid number \"{s}\": an external number is + and up to 20 digits"))
            };
        }
        let Some((kind, name)) = s.split_once(':') else {
            return Err(format!(
                "invalid destination \"{s}\": write kind:name, e.g. \"extension:101\", \"queue:sales\", \"hangup\" or \"+4930123456\""
            ));
        };
        if name.is_empty() {
            return Err(format!("invalid destination \"{s}\": the name after \"{kind}:\" is empty"));
        }
        let name = name.to_owned();
        Ok(match kind {
            "extension" => Self::Extension(name),
            "queue" => Self::Queue(name),
            "ivr" => Self::Ivr(name),
            "voicemail" => Self::Voicemail(name),
            "conference" => Self::Conference(name),
            "fax" => Self::Fax(name),
            "number" if is_dial_string(&name) => Self::Number(name),
            "number" => return Err(format!("invalid number \"{name}\": digits only, optionally a leading +")),
            _ => {
                return Err(format!(
                    "unknown destination kind \"{kind}\": expected extension, queue, ivr, voicemail, conference, fax, number or hangup"
                ));
            }
        })
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Hangup => f.write_str("hangup"),
            Self::Number(n) if n.starts_with('+') => f.write_str(n),
            Self::Extension(n)
            | Self::Queue(n)
            | Self::Ivr(n)
            | Self::Voicemail(n)
            | Self::Conference(n)
            | Self::Fax(n)
            | Self::Number(n) => write!(f, "{}:{n}", self.kind()),
        }
    }
}

string_value!(
    Destination,
    "Destination",
    "^(hangup|\\+[0-9]{1,20}|(extension|queue|ivr|voicemail|conference|fax|number):.+)$",
    "Where a call goes: \"extension:101\", \"queue:sales\", \"ivr:main\", \"voicemail:101\", \"conference:800\", \"fax:900\", \"hangup\", or an external number such as \"+4930123456\"."
);

/// A reference to a sound of the tenant: `sound:welcome`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SoundRef(pub String);

impl FromStr for SoundRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.strip_prefix("sound:") {
            Some(name) if !name.is_empty() => Ok(Self(name.to_owned())),
            _ => Err(format!("invalid sound reference \"{s}\": write \"sound:NAME\" for a [[sound]] of this tenant")),
        }
    }
}

impl fmt::Display for SoundRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sound:{}", self.0)
    }
}

string_value!(SoundRef, "SoundRef", "^sound:.+$", "A sound of this tenant: \"sound:NAME\".");

/// A secret kept out of the tenant file: `env:NAME` reads an environment variable of pbxd,
/// `file:PATH` reads a file (relative paths are relative to the tenant file).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SecretRef {
    Env(String),
    File(String),
}

impl FromStr for SecretRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once(':') {
            Some(("env", name)) if is_env_name(name) => Ok(Self::Env(name.to_owned())),
            Some(("env", name)) => {
                Err(format!("invalid environment variable name \"{name}\": use letters, digits and _"))
            }
            Some(("file", path)) if !path.is_empty() => Ok(Self::File(path.to_owned())),
            _ => Err("a secret is a reference \"env:NAME\" or \"file:PATH\", never the plaintext itself".to_owned()),
        }
    }
}

fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env(name) => write!(f, "env:{name}"),
            Self::File(path) => write!(f, "file:{path}"),
        }
    }
}

string_value!(
    SecretRef,
    "SecretRef",
    "^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)$",
    "A secret kept out of the file: \"env:NAME\" (an environment variable of pbxd) or \"file:PATH\"."
);

/// Lowercase hex of a fixed length, for stored hashes (HA1, token and PIN digests).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HexDigest<const BYTES: usize>(pub String);

impl<const BYTES: usize> FromStr for HexDigest<BYTES> {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.len() == BYTES * 2 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(s.to_ascii_lowercase()))
        } else {
            Err(format!("expected {} hex digits, found \"{s}\"", BYTES * 2))
        }
    }
}

impl<const BYTES: usize> fmt::Display for HexDigest<BYTES> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<const BYTES: usize> Serialize for HexDigest<BYTES> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de, const BYTES: usize> Deserialize<'de> for HexDigest<BYTES> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Cow::<str>::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

impl<const BYTES: usize> JsonSchema for HexDigest<BYTES> {
    fn schema_name() -> Cow<'static, str> {
        format!("Hex{}", BYTES * 8).into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let pattern = format!("^[0-9a-fA-F]{{{}}}$", BYTES * 2);
        json_schema!({ "type": "string", "pattern": pattern, "description": format!("{} hex digits", BYTES * 2) })
    }
}

/// MD5 digest in hex (32 digits).
pub type Md5Hex = HexDigest<16>;
/// SHA-256 digest in hex (64 digits).
pub type Sha256Hex = HexDigest<32>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print() {
        for (text, ms, printed) in [
            ("30s", 30_000, "30s"),
            ("500ms", 500, "500ms"),
            ("1h30m", 5_400_000, "1h30m"),
            ("90m", 5_400_000, "1h30m"),
            ("0s", 0, "0s"),
        ] {
            let d: Duration = text.parse().unwrap();
            assert_eq!(d.as_std().as_millis(), ms, "{text}");
            assert_eq!(d.to_string(), printed);
        }
        for bad in ["", "30", "s", "3x", "1h 30m", "-1s"] {
            assert!(bad.parse::<Duration>().is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn destinations_round_trip() {
        for text in ["extension:101", "queue:sales", "hangup", "+4930123456", "number:030123", "fax:900"] {
            let d: Destination = text.parse().unwrap();
            assert_eq!(d.to_string(), text);
        }
        assert!("sales".parse::<Destination>().is_err());
        assert!("bogus:x".parse::<Destination>().is_err());
        assert!("+49a".parse::<Destination>().is_err());
        assert!("queue:".parse::<Destination>().is_err());
    }

    #[test]
    fn secrets_are_references_only() {
        assert_eq!("env:ACME_101".parse::<SecretRef>().unwrap(), SecretRef::Env("ACME_101".into()));
        assert_eq!("file:/etc/pbx/x".parse::<SecretRef>().unwrap(), SecretRef::File("/etc/pbx/x".into()));
        assert!("hunter2".parse::<SecretRef>().is_err());
        assert!("env:1BAD".parse::<SecretRef>().is_err());
    }

    #[test]
    fn hex_digests_check_length() {
        assert!("0123456789abcdef0123456789ABCDEF".parse::<Md5Hex>().is_ok());
        assert!("0123".parse::<Md5Hex>().is_err());
        assert!("zz23456789abcdef0123456789abcdef".parse::<Md5Hex>().is_err());
    }
}
