//! `WWW-Authenticate` / `Proxy-Authenticate` header values.
//!
//! Exists to put the challenge parameters in the form phones expect: one header value per
//! algorithm, in the order the operator configured, always `qop="auth"`. RFC 8760 §2.4 puts
//! SHA-256 first and expects clients to use the first one they support, but some (baresip
//! 1.0, SIPp) take the first and fail on SHA-256, so the order is a deployment choice, not
//! ours. This module must never emit an unescaped quoted-string.

use super::algorithm::Algorithm;

/// Challenge values (without the header name) for `algorithms`, in the given order,
/// duplicates removed. Empty `algorithms` gives an empty list; the caller should offer at least MD5.
pub fn challenge(realm: &str, nonce: &str, stale: bool, algorithms: &[Algorithm]) -> Vec<String> {
    challenge_with_opaque(realm, nonce, None, stale, algorithms)
}

/// As [`challenge`], with an `opaque` parameter the client must echo.
pub fn challenge_with_opaque(
    realm: &str,
    nonce: &str,
    opaque: Option<&str>,
    stale: bool,
    algorithms: &[Algorithm],
) -> Vec<String> {
    let mut ordered: Vec<Algorithm> = Vec::with_capacity(algorithms.len());
    for a in algorithms {
        if !ordered.contains(a) {
            ordered.push(*a);
        }
    }
    ordered
        .into_iter()
        .map(|algorithm| {
            let mut value = format!("Digest realm={}, nonce={}", quote(realm), quote(nonce));
            if let Some(opaque) = opaque {
                value.push_str(", opaque=");
                value.push_str(&quote(opaque));
            }
            value.push_str(", algorithm=");
            value.push_str(algorithm.token());
            value.push_str(", qop=\"auth\"");
            if stale {
                value.push_str(", stale=true");
            }
            value
        })
        .collect()
}

/// A quoted-string (RFC 3261 §25.1): `"` and `\` escaped, control characters dropped.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars().filter(|c| !c.is_control()) {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_order_is_kept_for_clients_that_read_only_the_first_challenge() {
        let values = challenge("acme.pbx", "abc", false, &[Algorithm::Md5, Algorithm::Sha256, Algorithm::Md5]);
        assert_eq!(
            values,
            vec![
                r#"Digest realm="acme.pbx", nonce="abc", algorithm=MD5, qop="auth""#,
                r#"Digest realm="acme.pbx", nonce="abc", algorithm=SHA-256, qop="auth""#,
            ]
        );
        let rfc8760 = challenge("acme.pbx", "abc", false, &[Algorithm::Sha256, Algorithm::Md5]);
        assert!(rfc8760[0].contains("SHA-256"));
    }

    #[test]
    fn stale_and_opaque_are_printed() {
        let values = challenge_with_opaque("r", "n", Some("op"), true, &[Algorithm::Md5Sess]);
        assert_eq!(
            values,
            vec![r#"Digest realm="r", nonce="n", opaque="op", algorithm=MD5-sess, qop="auth", stale=true"#]
        );
    }

    #[test]
    fn quoted_strings_are_escaped() {
        let values = challenge("a\"b\\c\r\n", "n", false, &[Algorithm::Md5]);
        assert!(values[0].starts_with(r#"Digest realm="a\"b\\c", "#), "{}", values[0]);
    }

    #[test]
    fn no_algorithms_no_challenge() {
        assert!(challenge("r", "n", false, &[]).is_empty());
    }
}
