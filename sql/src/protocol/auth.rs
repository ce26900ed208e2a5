//! Password checks for `mysql_native_password` and `caching_sha2_password`.
//!
//! Neither plugin sends the password. With a random 20-byte `salt` from
//! the handshake:
//!
//! ```text
//! mysql_native_password:  token = SHA1(pw)   XOR SHA1(salt ++ SHA1(SHA1(pw)))
//! caching_sha2_password:  token = SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) ++ salt)
//! ```
//!
//! The server keeps only the double hash of each (`stage2`): XOR-ing the
//! token with the salted hash of `stage2` yields `stage1`, and the password
//! is right when hashing `stage1` gives `stage2` back. duet stores both
//! double hashes for every user ([`PasswordHashes`]), so whichever plugin a
//! client picks is checked without an extra round trip; for
//! `caching_sha2_password` that is the "fast auth" path, which MySQL takes
//! when the password is in its cache — duet's is always warm, so the "full
//! auth" path (TLS or RSA) is never needed. An empty password is an empty
//! token for both plugins.

use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Digest, Sha256};

pub const NATIVE_PASSWORD: &str = "mysql_native_password";
pub const CACHING_SHA2_PASSWORD: &str = "caching_sha2_password";

/// The stored form of a password: both plugins' double hashes, hex.
/// Empty strings mean "no password".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordHashes {
    pub native: String,
    pub sha2: String,
}

impl PasswordHashes {
    pub fn new(password: &str) -> PasswordHashes {
        if password.is_empty() {
            return PasswordHashes::default();
        }
        let n1 = Sha1::digest(password.as_bytes());
        let s1 = Sha256::digest(password.as_bytes());
        PasswordHashes {
            native: hex(&Sha1::digest(n1)),
            sha2: hex(&Sha256::digest(s1)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.native.is_empty()
    }

    /// MySQL's `authentication_string` shape for `mysql_native_password`:
    /// `*` and the upper-case hex of SHA1(SHA1(pw)).
    pub fn native_display(&self) -> String {
        if self.native.is_empty() {
            String::new()
        } else {
            format!("*{}", self.native.to_uppercase())
        }
    }

    /// Whether `token`, computed by the client with `plugin` over `salt`,
    /// proves the password.
    pub fn verify(&self, plugin: &str, salt: &[u8], token: &[u8]) -> bool {
        if self.is_empty() {
            return token.is_empty();
        }
        if token.is_empty() {
            return false;
        }
        match plugin {
            CACHING_SHA2_PASSWORD => {
                let Some(stage2) = unhex(&self.sha2) else {
                    return false;
                };
                let mut h = Sha256::new();
                h.update(&stage2);
                h.update(salt);
                check(token, &h.finalize(), &stage2, |b| {
                    Sha256::digest(b).to_vec()
                })
            }
            _ => {
                let Some(stage2) = unhex(&self.native) else {
                    return false;
                };
                let mut h = Sha1::new();
                h.update(salt);
                h.update(&stage2);
                check(token, &h.finalize(), &stage2, |b| Sha1::digest(b).to_vec())
            }
        }
    }
}

fn check(token: &[u8], mask: &[u8], stage2: &[u8], hash: impl Fn(&[u8]) -> Vec<u8>) -> bool {
    if token.len() != mask.len() {
        return false;
    }
    let stage1: Vec<u8> = token.iter().zip(mask).map(|(a, b)| a ^ b).collect();
    hash(&stage1) == stage2
}

/// What a client computes (used by tests, and by nothing else on the server).
pub fn client_token(plugin: &str, password: &str, salt: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    if plugin == CACHING_SHA2_PASSWORD {
        let s1 = Sha256::digest(password.as_bytes());
        let s2 = Sha256::digest(s1);
        let mut h = Sha256::new();
        h.update(s2);
        h.update(salt);
        s1.iter().zip(h.finalize()).map(|(a, b)| a ^ b).collect()
    } else {
        let s1 = Sha1::digest(password.as_bytes());
        let s2 = Sha1::digest(s1);
        let mut h = Sha1::new();
        h.update(salt);
        h.update(s2);
        s1.iter().zip(h.finalize()).map(|(a, b)| a ^ b).collect()
    }
}

/// A fresh 20-byte salt of printable, non-NUL bytes (some clients treat the
/// salt as a C string).
pub fn new_salt() -> [u8; 20] {
    use rand::Rng;
    let mut rng = rand::rng();
    let mut salt = [0u8; 20];
    for b in &mut salt {
        *b = rng.random_range(0x21..0x7f);
    }
    salt
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_plugins_verify_right_password_only() {
        let stored = PasswordHashes::new("s3cret");
        let salt = new_salt();
        for plugin in [NATIVE_PASSWORD, CACHING_SHA2_PASSWORD] {
            assert!(stored.verify(plugin, &salt, &client_token(plugin, "s3cret", &salt)));
            assert!(!stored.verify(plugin, &salt, &client_token(plugin, "wrong", &salt)));
            assert!(!stored.verify(plugin, &salt, b""));
        }
        let empty = PasswordHashes::new("");
        assert!(empty.verify(NATIVE_PASSWORD, &salt, b""));
        assert!(!empty.verify(NATIVE_PASSWORD, &salt, b"x"));
    }

    #[test]
    fn native_display_matches_mysql() {
        // SELECT PASSWORD('root') in MySQL 5.7.
        assert_eq!(
            PasswordHashes::new("root").native_display(),
            "*81F5E21E35407D884A6CD4A731AEBFB6AF209E1B"
        );
    }
}
