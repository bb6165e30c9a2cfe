//! The wire format of `c2sp.org/tlog-witness` `add-checkpoint`: the request
//! body (an old size line, consistency proof lines, a blank line, the signed
//! checkpoint) and the tree size a witness answers a conflict with.

use super::{Hash, LedgerError, Result, decode_hash, encode_hash};

/// Consistency proof lines a request may carry at most.
pub const MAX_PROOF_LINES: usize = 63;
/// The media type of a witness's `409 Conflict` answer.
pub const SIZE_MEDIA_TYPE: &str = "text/x.tlog.size";

/// An `add-checkpoint` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the checkpoint the witness cosigned last (0 for none).
    pub old_size: u64,
    /// The RFC 6962 consistency proof from `old_size` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note.
    pub note: String,
}

fn malformed(why: impl Into<String>) -> LedgerError {
    LedgerError::Malformed(why.into())
}

impl AddCheckpoint {
    /// The request body.
    pub fn body(&self) -> String {
        let mut body = format!("old {}\n", self.old_size);
        for hash in &self.proof {
            body.push_str(&encode_hash(hash));
            body.push('\n');
        }
        body.push('\n');
        body.push_str(&self.note);
        body
    }

    /// Reads a request body; anything off the format is an error saying what.
    pub fn parse(body: &[u8]) -> Result<Self> {
        let body = std::str::from_utf8(body).map_err(|_| malformed("the body is not UTF-8"))?;
        let (head, note) = body.split_once("\n\n").ok_or_else(|| malformed("no blank line before the checkpoint"))?;
        let mut lines = head.split('\n');
        let old = lines.next().unwrap_or_default();
        let old_size = old.strip_prefix("old ").and_then(parse_size_text).ok_or_else(|| {
            malformed("the first line must be `old <size>`, the size in decimal without leading zeros")
        })?;
        let proof = lines
            .enumerate()
            .map(|(n, line)| {
                decode_hash(line).map_err(|err| malformed(format!("consistency proof line {}: {err}", n + 1)))
            })
            .collect::<Result<Vec<_>>>()?;
        if proof.len() > MAX_PROOF_LINES {
            return Err(malformed(format!("at most {MAX_PROOF_LINES} consistency proof lines, not {}", proof.len())));
        }
        Ok(AddCheckpoint { old_size, proof, note: note.to_string() })
    }
}

/// A `409` body: the size in decimal and a newline.
pub fn size_body(size: u64) -> String {
    format!("{size}\n")
}

/// Reads a `409` body.
pub fn parse_size_body(body: &[u8]) -> Result<u64> {
    std::str::from_utf8(body)
        .ok()
        .and_then(|text| text.strip_suffix('\n'))
        .and_then(parse_size_text)
        .ok_or_else(|| malformed("a tree size answer is the size in decimal and a newline"))
}

/// A tree size in decimal, `0` or without leading zeros.
fn parse_size_text(text: &str) -> Option<u64> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if !digits || (text.len() > 1 && text.starts_with('0')) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example request of the spec.
    const EXAMPLE: &str = "old 20852014
PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=
jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=
5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=
/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=

example.com/behind-the-sofa
20852163
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
";

    #[test]
    fn reads_and_writes_the_spec_example() {
        let request = AddCheckpoint::parse(EXAMPLE.as_bytes()).unwrap();
        assert_eq!(request.old_size, 20852014);
        assert_eq!(request.proof.len(), 4);
        assert!(request.note.starts_with("example.com/behind-the-sofa\n20852163\n"));
        assert_eq!(request.body(), EXAMPLE);
        let first = AddCheckpoint { old_size: 0, proof: vec![], note: "o\n1\nx\n\n— k sig\n".into() };
        assert_eq!(first.body(), "old 0\n\no\n1\nx\n\n— k sig\n");
        assert_eq!(AddCheckpoint::parse(first.body().as_bytes()).unwrap(), first);
    }

    #[test]
    fn refuses_what_is_off_the_format() {
        let hash = "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=";
        for body in [
            String::new(),
            "old 1\n".into(),
            "old 1\nnote\n".into(),
            "old\n\nnote\n".into(),
            "old -1\n\nnote\n".into(),
            "old 01\n\nnote\n".into(),
            "old +1\n\nnote\n".into(),
            "old 1 \n\nnote\n".into(),
            "Old 1\n\nnote\n".into(),
            "old 18446744073709551616\n\nnote\n".into(),
            format!("old 1\n{}\n\nnote\n", &hash[1..]),
            format!("old 1\n{}\n\nnote\n", hash.trim_end_matches('=')),
            format!("old 1\n{hash} \n\nnote\n"),
            format!("old 1\n{}\nnote\n", format!("{hash}\n").repeat(64)),
        ] {
            assert!(matches!(AddCheckpoint::parse(body.as_bytes()), Err(LedgerError::Malformed(_))), "{body:?}");
        }
        let most = format!("old 1\n{}\nnote\n", format!("{hash}\n").repeat(63));
        assert_eq!(AddCheckpoint::parse(most.as_bytes()).unwrap().proof.len(), 63);
        assert!(AddCheckpoint::parse(b"old 1\n\n\xff\n").is_err());
    }

    #[test]
    fn sizes_answer_conflicts() {
        assert_eq!(size_body(0), "0\n");
        assert_eq!(parse_size_body(b"20852014\n").unwrap(), 20852014);
        assert_eq!(parse_size_body(size_body(7).as_bytes()).unwrap(), 7);
        for bad in [&b""[..], b"5", b"05\n", b"5\n\n", b"-5\n", b" 5\n", b"five\n"] {
            assert!(parse_size_body(bad).is_err(), "{bad:?}");
        }
    }
}
