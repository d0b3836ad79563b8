//! C2SP `tlog-checkpoint` (c2sp.org/tlog-checkpoint): the text a log signs as a note —
//! its origin, its tree size in decimal and its RFC 6962 root in base64, one per line.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::merkle::Hash;

/// A tree head: which log, how many leaves, which root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity, e.g. `grantlog.example.com/log`.
    pub origin: String,
    /// The number of leaves.
    pub size: u64,
    /// The Merkle root at that size.
    pub root: Hash,
}

/// A checkpoint text that does not follow the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed checkpoint: {0}")]
pub struct CheckpointError(&'static str);

impl Checkpoint {
    /// The note text: `origin\nsize\nbase64(root)\n`, with no extension line.
    pub fn text(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, STANDARD.encode(self.root))
    }

    /// Reads a note's text (as [`crate::note::NoteVerifier::open`] returns it);
    /// extension lines are allowed and ignored.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let body = text.strip_suffix('\n').ok_or(CheckpointError("the text ends in a newline"))?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next()) else {
            return Err(CheckpointError("origin, size and root hash are three lines"));
        };
        if origin.is_empty() || lines.any(str::is_empty) {
            return Err(CheckpointError("no line may be empty"));
        }
        let canonical = size == "0" || (!size.starts_with('0') && size.bytes().all(|b| b.is_ascii_digit()));
        let size =
            size.parse().ok().filter(|_| canonical).ok_or(CheckpointError("the size is decimal, no leading zero"))?;
        let root = STANDARD.decode(root).ok().and_then(|bytes| Hash::try_from(bytes).ok());
        let root = root.ok_or(CheckpointError("the root hash is 32 bytes in base64"))?;
        Ok(Self { origin: origin.to_owned(), size, root })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specs_example_reads_and_writes_back_the_same() {
        let text = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        let checkpoint = Checkpoint::parse(text).unwrap();
        assert_eq!((checkpoint.origin.as_str(), checkpoint.size), ("example.com/behind-the-sofa", 20_852_163));
        assert_eq!(checkpoint.text(), text);
    }

    #[test]
    fn malformed_checkpoints_are_refused() {
        let root = STANDARD.encode([0u8; 32]);
        for bad in [
            format!("o\n1\n{root}"),
            format!("o\n01\n{root}\n"),
            format!("o\n-1\n{root}\n"),
            format!("\n1\n{root}\n"),
            "o\n1\nAAAA\n".to_owned(),
            "o\n1\n".to_owned(),
            format!("o\n1\n{root}\n\n"),
        ] {
            assert!(Checkpoint::parse(&bad).is_err(), "{bad:?}");
        }
        assert_eq!(Checkpoint::parse(&format!("o\n0\n{root}\next\n")).unwrap().size, 0);
    }
}
