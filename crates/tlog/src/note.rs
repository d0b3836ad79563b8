//! C2SP `signed-note` (c2sp.org/signed-note) with Ed25519 signatures (type `0x01`):
//! a text ending in a newline, a blank line, and signature lines
//! `— <key name> base64(key ID ‖ signature)`. The key ID is the first four bytes of
//! `SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ public key)`.
//!
//! Keys are written as Go's `golang.org/x/mod/sumdb/note` writes them, so that its
//! tools, and every tool that reads those, read ours: the verifier key
//! `<name>+<key ID, 8 hex digits>+base64(0x01 ‖ public key)` and the signer key
//! `PRIVATE+KEY+<name>+<key ID>+base64(0x01 ‖ seed)`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use sha2::{Digest, Sha256};

/// The signature type byte of Ed25519 in signed notes.
const ED25519_TYPE: u8 = 0x01;
/// Signature lines read at the most: the spec asks verifiers to accept at least 16.
const MAX_SIGNATURES: usize = 100;
/// The em dash every signature line starts with.
const DASH: &str = "\u{2014} ";

/// Why a key or a note was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// A key name that is empty or holds a space, a control character or a `+`.
    #[error("a key name must be non-empty, without spaces, control characters or '+'")]
    KeyName,
    /// A key string that is not `name+hex8+base64` (or `PRIVATE+KEY+…`), or names
    /// another algorithm than Ed25519, or whose ID does not match.
    #[error("not an Ed25519 note key: {0}")]
    Key(&'static str),
    /// A text that does not end in a newline, or holds control characters.
    #[error("a note's text must end in a newline and hold no control character but newlines")]
    Text,
    /// A note that is not text, a blank line and signature lines.
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    /// No signature by the key.
    #[error("the note carries no signature by {0}")]
    Unsigned(String),
    /// A signature by the key that does not verify.
    #[error("the signature by {0} does not verify")]
    BadSignature(String),
}

/// The key ID of an Ed25519 key under `name`.
pub fn key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([b'\n', ED25519_TYPE]);
    hasher.update(public_key);
    let digest = hasher.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c.is_control() || c == '+') {
        return Err(NoteError::KeyName);
    }
    Ok(())
}

/// Splits `name+hex8+base64` into its name, its ID and the key bytes after the type byte.
fn split_key(text: &str) -> Result<(&str, u32, [u8; 32]), NoteError> {
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(id), Some(material)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(NoteError::Key("expected name+keyid+base64"));
    };
    check_name(name)?;
    if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
        return Err(NoteError::Key("the key ID must be 8 lowercase hex digits"));
    }
    let id = u32::from_str_radix(id, 16).map_err(|_| NoteError::Key("the key ID must be 8 hex digits"))?;
    let bytes = STANDARD.decode(material).map_err(|_| NoteError::Key("the key is not base64"))?;
    let Some((&ED25519_TYPE, key)) = bytes.split_first() else {
        return Err(NoteError::Key("not an Ed25519 key (type 0x01)"));
    };
    let key: [u8; 32] = key.try_into().map_err(|_| NoteError::Key("an Ed25519 key is 32 bytes"))?;
    Ok((name, id, key))
}

/// A key that signs notes.
pub struct NoteSigner {
    name: String,
    seed: [u8; 32],
    pair: Ed25519KeyPair,
}

/// Leaves out the private key.
impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoteSigner").field("name", &self.name).finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// The signer under `name` whose Ed25519 private key is `seed` (RFC 8032's 32 bytes).
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, NoteError> {
        check_name(name)?;
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|_| NoteError::Key("unusable seed"))?;
        Ok(Self { name: name.to_owned(), seed, pair })
    }

    /// A new key under `name`, from the operating system's random source.
    pub fn generate(name: &str) -> Result<Self, NoteError> {
        let mut seed = [0; 32];
        getrandom::fill(&mut seed).expect("the operating system's random source works");
        Self::from_seed(name, seed)
    }

    /// Reads a signer key, `PRIVATE+KEY+<name>+<key ID>+base64(0x01 ‖ seed)`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let rest = text.trim_end().strip_prefix("PRIVATE+KEY+").ok_or(NoteError::Key("expected PRIVATE+KEY+…"))?;
        let (name, id, seed) = split_key(rest)?;
        let signer = Self::from_seed(name, seed)?;
        if signer.key_id() != id {
            return Err(NoteError::Key("the key ID does not match the key"));
        }
        Ok(signer)
    }

    /// The signer key as [`NoteSigner::parse`] reads it. A secret: write it to a file
    /// only the server reads.
    pub fn to_private_string(&self) -> String {
        let mut material = vec![ED25519_TYPE];
        material.extend_from_slice(&self.seed);
        format!("PRIVATE+KEY+{}+{:08x}+{}", self.name, self.key_id(), STANDARD.encode(material))
    }

    /// Its key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn public_key(&self) -> [u8; 32] {
        self.pair.public_key().as_ref().try_into().expect("an Ed25519 public key is 32 bytes")
    }

    /// Its key ID.
    pub fn key_id(&self) -> u32 {
        key_id(&self.name, &self.public_key())
    }

    /// The key that verifies its signatures.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier { name: self.name.clone(), id: self.key_id(), key: self.public_key() }
    }

    /// `text` signed: the text, a blank line, and this key's signature line.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        check_text(text)?;
        let mut blob = self.key_id().to_be_bytes().to_vec();
        blob.extend_from_slice(self.pair.sign(text.as_bytes()).as_ref());
        Ok(format!("{text}\n{DASH}{} {}\n", self.name, STANDARD.encode(blob)))
    }
}

fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') || text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(NoteError::Text);
    }
    Ok(())
}

/// A key that verifies notes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    id: u32,
    key: [u8; 32],
}

impl NoteVerifier {
    /// Reads a verifier key, `<name>+<key ID>+base64(0x01 ‖ public key)`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let (name, id, key) = split_key(text.trim_end())?;
        if key_id(name, &key) != id {
            return Err(NoteError::Key("the key ID does not match the key"));
        }
        Ok(Self { name: name.to_owned(), id, key })
    }

    /// Its key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The note's text, if the note carries a signature by this key and every one by it
    /// verifies. Signatures by other keys are ignored, as the spec asks.
    pub fn open<'a>(&self, note: &'a str) -> Result<&'a str, NoteError> {
        if note.chars().any(|c| c.is_control() && c != '\n') {
            return Err(NoteError::Text);
        }
        let split = note.rfind("\n\n").ok_or(NoteError::Malformed("no blank line before the signatures"))?;
        let (text, signatures) = (&note[..=split], &note[split + 2..]);
        let lines = signatures.strip_suffix('\n').ok_or(NoteError::Malformed("no newline after the signatures"))?;
        let mut verified = false;
        for (count, line) in lines.split('\n').enumerate() {
            if count == MAX_SIGNATURES {
                return Err(NoteError::Malformed("too many signatures"));
            }
            let line = line.strip_prefix(DASH).ok_or(NoteError::Malformed("a signature line starts with '— '"))?;
            let (name, blob) =
                line.split_once(' ').ok_or(NoteError::Malformed("a signature line is name and base64"))?;
            let blob = STANDARD.decode(blob).map_err(|_| NoteError::Malformed("a signature is base64"))?;
            if name != self.name || blob.len() < 4 || blob[..4] != self.id.to_be_bytes() {
                continue;
            }
            UnparsedPublicKey::new(&ED25519, &self.key)
                .verify(text.as_bytes(), &blob[4..])
                .map_err(|_| NoteError::BadSignature(self.name.clone()))?;
            verified = true;
        }
        if !verified {
            return Err(NoteError::Unsigned(self.name.clone()));
        }
        Ok(text)
    }
}

/// Written as [`NoteVerifier::parse`] reads it.
impl std::fmt::Display for NoteVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut material = vec![ED25519_TYPE];
        material.extend_from_slice(&self.key);
        write!(f, "{}+{:08x}+{}", self.name, self.id, STANDARD.encode(material))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> NoteSigner {
        NoteSigner::from_seed("grantlog.test/log", [7; 32]).unwrap()
    }

    #[test]
    fn a_signed_note_opens_with_its_verifier_and_keys_round_trip() {
        let signer = signer();
        let note = signer.sign("grantlog.test/log\n3\nAAAA\n").unwrap();
        assert!(note.starts_with("grantlog.test/log\n3\nAAAA\n\n\u{2014} grantlog.test/log "));
        let verifier = NoteVerifier::parse(&signer.verifier().to_string()).unwrap();
        assert_eq!(verifier.open(&note), Ok("grantlog.test/log\n3\nAAAA\n"));
        let again = NoteSigner::parse(&signer.to_private_string()).unwrap();
        assert_eq!(again.sign("x\n").unwrap(), signer.sign("x\n").unwrap(), "Ed25519 is deterministic");
    }

    #[test]
    fn a_changed_text_or_signature_or_another_key_is_refused() {
        let note = signer().sign("a\nb\n").unwrap();
        let verifier = signer().verifier();
        assert_eq!(verifier.open(&note.replacen("a\n", "c\n", 1)), Err(NoteError::BadSignature(verifier.name.clone())));
        let other = NoteSigner::from_seed("grantlog.test/log", [8; 32]).unwrap().verifier();
        assert_eq!(other.open(&note), Err(NoteError::Unsigned(other.name.clone())), "same name, other ID: ignored");
        assert!(matches!(verifier.open("a\nb\n"), Err(NoteError::Malformed(_))));
        assert!(matches!(verifier.open(&note.replace('\u{2014}', "-")), Err(NoteError::Malformed(_))));
        assert_eq!(verifier.open(&note.replace("a\n", "a\r\n")), Err(NoteError::Text));
    }

    #[test]
    fn texts_and_names_the_spec_forbids_are_refused() {
        assert_eq!(signer().sign("no newline").unwrap_err(), NoteError::Text);
        assert_eq!(signer().sign("tab\there\n").unwrap_err(), NoteError::Text);
        for name in ["", "a b", "a+b", "a\u{1b}b", "a\u{7f}"] {
            assert_eq!(NoteSigner::from_seed(name, [1; 32]).unwrap_err(), NoteError::KeyName, "{name:?}");
        }
        let vkey = signer().verifier().to_string();
        let (name, rest) = vkey.split_once('+').unwrap();
        let wrong_id = format!("{name}+00000000+{}", rest.split_once('+').unwrap().1);
        assert!(matches!(NoteVerifier::parse(&wrong_id), Err(NoteError::Key(_))));
    }
}
