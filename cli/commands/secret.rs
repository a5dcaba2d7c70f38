//! `pbxctl secret`: the hashes tenant files and pbxd.toml hold instead of secrets.
//! Secrets are read from stdin, never from arguments (which other users can see in ps).

use std::io::Read;

use clap::Subcommand;
use md5::Md5;
use sha2::{Digest, Sha256};

use crate::exit;

#[derive(Subcommand)]
pub enum SecretCommand {
    /// HA1 digests of a SIP password read from stdin, for an extension's `secret`.
    Hash {
        /// The realm: the tenant's SIP domain.
        #[arg(long)]
        realm: String,
        /// The user: the extension number.
        #[arg(long)]
        user: String,
    },
    /// SHA-256 of a PIN read from stdin, for voicemail and conference PINs.
    Pin,
    /// A new random API token and its SHA-256 (for api_user.token_sha256 or pbxd.toml).
    Token,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The first line of stdin, without its line ending.
fn read_secret(what: &str) -> Result<String, u8> {
    let mut input = String::new();
    if std::io::stdin().read_to_string(&mut input).is_err() {
        eprintln!("error: cannot read the {what} from stdin");
        return Err(exit::INVALID);
    }
    let secret = input.lines().next().unwrap_or_default().to_owned();
    if secret.is_empty() {
        eprintln!("error: no {what} on stdin");
        eprintln!("  help: echo -n 'the {what}' | pbxctl secret …");
        return Err(exit::INVALID);
    }
    Ok(secret)
}

pub fn ha1(user: &str, realm: &str, password: &str) -> (String, String) {
    let input = format!("{user}:{realm}:{password}");
    (hex(&Md5::digest(input.as_bytes())), hex(&Sha256::digest(input.as_bytes())))
}

pub fn run(cmd: SecretCommand) -> u8 {
    match cmd {
        SecretCommand::Hash { realm, user } => match read_secret("password") {
            Ok(password) => {
                let (md5, sha256) = ha1(&user, &realm, &password);
                println!("secret = {{ ha1 = \"{md5}\", ha1_sha256 = \"{sha256}\" }}");
                0
            }
            Err(code) => code,
        },
        SecretCommand::Pin => match read_secret("PIN") {
            Ok(pin) if pin.bytes().all(|b| b.is_ascii_digit()) && (4..=12).contains(&pin.len()) => {
                println!("pin = {{ sha256 = \"{}\" }}", hex(&Sha256::digest(pin.as_bytes())));
                0
            }
            Ok(_) => {
                eprintln!("error: a PIN is 4 to 12 digits");
                exit::INVALID
            }
            Err(code) => code,
        },
        SecretCommand::Token => {
            let mut bytes = [0u8; 32];
            if std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)).is_err() {
                eprintln!("error: cannot read /dev/urandom");
                return exit::INVALID;
            }
            let token = hex(&bytes);
            println!("token = {token}");
            println!("token_sha256 = \"{}\"", hex(&Sha256::digest(token.as_bytes())));
            0
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ha1_matches_rfc_2617_example() {
        // RFC 2617 3.5: Mufasa / testrealm@host.com / Circle Of Life.
        let (md5, _) = super::ha1("Mufasa", "testrealm@host.com", "Circle Of Life");
        assert_eq!(md5, "939e7578ed9e3c518a452acee763bce9");
    }
}
