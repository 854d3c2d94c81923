//! Component bytes as content-defined chunks, each stored once.
//!
//! A CPython component is ~19 MB, and two builds of an edited `app.py`
//! differ in a small part of it. Both journals therefore store a component
//! as its ordered list of chunk hashes plus its length (a [`Manifest`]),
//! and each chunk once under the blake3 hash of its bytes: a rebuilt
//! component costs the chunks that changed, not its whole size.
//!
//! Chunk boundaries are cut where a rolling gear hash of the last 64 bytes
//! matches a mask (FastCDC's scheme, with its normalized chunking: a harder
//! mask before the average size, an easier one after), so an insertion
//! moves only the boundaries near it and the chunks after it are found
//! again. Chunks are [`MIN_CHUNK`] to [`MAX_CHUNK`] bytes, except a short
//! last one, and about [`AVG_CHUNK`] on average.
//!
//! The boundaries are not part of the format: a manifest names its chunks,
//! so a journal reads any chunking. Changing the gear table or the masks
//! would only stop new builds from sharing chunks with older ones.
//!
//! The component's hash is still the blake3 hash of its whole bytes, and a
//! reassembled component is checked against it, so a damaged or missing
//! chunk is reported, never run. Written by hand rather than taken from the
//! `fastcdc` crate: it is ~40 lines, and the journal's format should not
//! move with a dependency's release.

use crate::error::JournalError;
use crate::model::ComponentHash;

/// No chunk but a component's last is shorter.
pub(crate) const MIN_CHUNK: usize = 16 * 1024;
/// The size chunks are cut at on average.
pub(crate) const AVG_CHUNK: usize = 64 * 1024;
/// No chunk is longer: a longer stored one is damage.
pub(crate) const MAX_CHUNK: usize = 256 * 1024;
/// The largest component a manifest may describe (a longer one is damage).
pub(crate) const MAX_COMPONENT_BYTES: u64 = 1 << 30;
/// The most chunks a manifest may list: [`MAX_COMPONENT_BYTES`] cut at
/// [`MIN_CHUNK`].
pub(crate) const MAX_CHUNKS: usize = (MAX_COMPONENT_BYTES as usize).div_ceil(MIN_CHUNK);

/// Cut before [`AVG_CHUNK`] only when the top 18 bits of the hash are zero
/// (1 in 256 Ki), after it when the top 14 are (1 in 16 Ki): chunk sizes
/// crowd around the average (FastCDC's normalization level 2).
const MASK_BEFORE_AVG: u64 = !0 << (64 - 18);
const MASK_AFTER_AVG: u64 = !0 << (64 - 14);

/// 256 fixed pseudo-random words (splitmix64 from a fixed seed).
const GEAR: [u64; 256] = {
    let mut table = [0u64; 256];
    let mut state: u64 = 0x6361_6972_6e5f_6364; // "cairn_cd"
    let mut i = 0;
    while i < 256 {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        table[i] = z ^ (z >> 31);
        i += 1;
    }
    table
};

/// The length of the chunk that starts `bytes`.
fn cut(bytes: &[u8]) -> usize {
    if bytes.len() <= MIN_CHUNK {
        return bytes.len();
    }
    let end = bytes.len().min(MAX_CHUNK);
    let avg = end.min(AVG_CHUNK);
    let mut hash = 0u64;
    // The hash covers the last 64 bytes (older ones are shifted out), so
    // starting it at MIN_CHUNK loses nothing a boundary depends on.
    for (i, &b) in bytes.iter().enumerate().take(end).skip(MIN_CHUNK) {
        hash = (hash << 1).wrapping_add(GEAR[usize::from(b)]);
        let mask = if i < avg {
            MASK_BEFORE_AVG
        } else {
            MASK_AFTER_AVG
        };
        if hash & mask == 0 {
            return i + 1;
        }
    }
    end
}

/// One chunk of a component: where it is in the bytes, and its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chunk {
    /// The blake3 hash of its bytes, its key in the chunk table.
    pub hash: [u8; 32],
    /// Where it starts in the component.
    pub start: usize,
    /// How long it is.
    pub len: usize,
}

impl Chunk {
    /// Its bytes in `component`.
    pub(crate) fn of<'a>(&self, component: &'a [u8]) -> &'a [u8] {
        &component[self.start..self.start + self.len]
    }
}

/// Cuts `bytes` into chunks, in order.
pub(crate) fn split(bytes: &[u8]) -> Vec<Chunk> {
    let mut chunks = Vec::with_capacity(bytes.len() / AVG_CHUNK + 1);
    let mut start = 0;
    while start < bytes.len() {
        let len = cut(&bytes[start..]);
        let hash = *blake3::hash(&bytes[start..start + len]).as_bytes();
        chunks.push(Chunk { hash, start, len });
        start += len;
    }
    chunks
}

/// How a component is stored: its length and its chunks' hashes, in order.
///
/// Encoded as `[version 1: u8][length: u64 LE][count: u32 LE][count × 32-byte hash]`
/// (fixed widths: the same bytes in redb and PostgreSQL). No checksum of
/// its own: the reassembled bytes are checked against the component's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Manifest {
    /// The component's length in bytes.
    pub length: u64,
    /// Its chunks' hashes, in order.
    pub chunks: Vec<[u8; 32]>,
}

const MANIFEST_VERSION: u8 = 1;
const MANIFEST_HEAD: usize = 1 + 8 + 4;

impl Manifest {
    /// The manifest of a component cut into `chunks`.
    pub(crate) fn of(chunks: &[Chunk]) -> Manifest {
        Manifest {
            length: chunks.iter().map(|c| c.len as u64).sum(),
            chunks: chunks.iter().map(|c| c.hash).collect(),
        }
    }

    /// Its bytes as stored.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(MANIFEST_HEAD + 32 * self.chunks.len());
        bytes.push(MANIFEST_VERSION);
        bytes.extend_from_slice(&self.length.to_le_bytes());
        // At most MAX_CHUNKS for any component that can be stored.
        let count = u32::try_from(self.chunks.len()).unwrap_or(u32::MAX);
        bytes.extend_from_slice(&count.to_le_bytes());
        for hash in &self.chunks {
            bytes.extend_from_slice(hash);
        }
        bytes
    }

    /// Reads the stored manifest of the component `hash`, refusing one that
    /// is malformed or past the bounds.
    pub(crate) fn decode(hash: ComponentHash, bytes: &[u8]) -> Result<Manifest, JournalError> {
        let corrupt = |reason: String| JournalError::Corrupt {
            what: format!("components/{hash}"),
            reason,
        };
        if bytes.len() < MANIFEST_HEAD {
            return Err(corrupt(format!(
                "its chunk list is {} bytes long",
                bytes.len()
            )));
        }
        if bytes[0] != MANIFEST_VERSION {
            return Err(corrupt(format!("unknown chunk list version {}", bytes[0])));
        }
        let mut length = [0; 8];
        length.copy_from_slice(&bytes[1..9]);
        let length = u64::from_le_bytes(length);
        let mut count = [0; 4];
        count.copy_from_slice(&bytes[9..13]);
        let count = u32::from_le_bytes(count) as usize;
        if length > MAX_COMPONENT_BYTES {
            return Err(corrupt(format!(
                "its length {length} is past the limit of {MAX_COMPONENT_BYTES} bytes"
            )));
        }
        if count > MAX_CHUNKS || (length > 0 && count == 0) {
            return Err(corrupt(format!(
                "{count} chunks cannot make {length} bytes"
            )));
        }
        let hashes = &bytes[MANIFEST_HEAD..];
        if hashes.len() != 32 * count {
            return Err(corrupt(format!(
                "{count} chunks listed in {} bytes",
                hashes.len()
            )));
        }
        let chunks = hashes
            .chunks_exact(32)
            .map(|h| {
                let mut hash = [0; 32];
                hash.copy_from_slice(h);
                hash
            })
            .collect();
        Ok(Manifest { length, chunks })
    }

    /// Reassembles the component `hash` from its chunks, each read by
    /// `read`, which appends a chunk's bytes to the buffer it is given and
    /// says whether it found the chunk. The result is checked against
    /// `hash`: a chunk missing, too long or damaged is reported.
    pub(crate) fn assemble(
        &self,
        hash: ComponentHash,
        mut read: impl FnMut(&[u8; 32], &mut Vec<u8>) -> Result<bool, JournalError>,
    ) -> Result<Vec<u8>, JournalError> {
        let corrupt = |reason: String| JournalError::Corrupt {
            what: format!("components/{hash}"),
            reason,
        };
        // Bounded by MAX_COMPONENT_BYTES (checked by `decode`).
        let mut bytes = Vec::with_capacity(usize::try_from(self.length).unwrap_or(0));
        let mut spans = Vec::with_capacity(self.chunks.len());
        for (n, chunk) in self.chunks.iter().enumerate() {
            let start = bytes.len();
            if !read(chunk, &mut bytes)? {
                return Err(corrupt(format!(
                    "its chunk {n} ({}) is missing",
                    ComponentHash(*chunk)
                )));
            }
            let len = bytes.len() - start;
            if len > MAX_CHUNK || bytes.len() as u64 > self.length {
                return Err(corrupt(format!(
                    "its chunk {n} ({}) is {len} bytes long, past what the component holds",
                    ComponentHash(*chunk)
                )));
            }
            spans.push((start, len));
        }
        if bytes.len() as u64 != self.length {
            return Err(corrupt(format!(
                "its chunks hold {} bytes, not {}",
                bytes.len(),
                self.length
            )));
        }
        if ComponentHash::of(&bytes) != hash {
            // Name the damaged chunk, if one is: hashed only on this path,
            // so a load hashes its bytes once.
            let damaged = self
                .chunks
                .iter()
                .zip(&spans)
                .enumerate()
                .find(|(_, (chunk, span))| {
                    ComponentHash::of(&bytes[span.0..span.0 + span.1]).0 != **chunk
                });
            return Err(corrupt(match damaged {
                Some((n, (chunk, _))) => format!(
                    "its chunk {n} ({}) does not match its hash",
                    ComponentHash(*chunk)
                ),
                None => "the bytes do not match their hash".to_owned(),
            }));
        }
        Ok(bytes)
    }
}

/// Deterministic pseudo-random bytes (xorshift64*): test components whose
/// chunks differ, for the chunker's and both journals' storage tests.
#[cfg(test)]
pub(crate) fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn hashes(chunks: &[Chunk]) -> HashSet<[u8; 32]> {
        chunks.iter().map(|c| c.hash).collect()
    }

    #[test]
    fn chunks_cover_the_bytes_in_order_within_the_bounds() {
        for len in [0, 1, MIN_CHUNK, MIN_CHUNK + 1, MAX_CHUNK * 3 + 7, 4 << 20] {
            let bytes = noise(len, len as u64);
            let chunks = split(&bytes);
            let mut at = 0;
            for (i, c) in chunks.iter().enumerate() {
                assert_eq!(
                    c.start, at,
                    "len {len}: chunk {i} starts where the last ended"
                );
                assert!(c.len <= MAX_CHUNK, "len {len}: chunk {i} is {} long", c.len);
                if i + 1 < chunks.len() {
                    assert!(c.len >= MIN_CHUNK, "len {len}: chunk {i} is {} long", c.len);
                }
                assert_eq!(c.hash, *blake3::hash(c.of(&bytes)).as_bytes());
                at += c.len;
            }
            assert_eq!(at, len);
        }
    }

    #[test]
    fn chunks_are_about_the_average_size() {
        let bytes = noise(16 << 20, 7);
        let chunks = split(&bytes);
        let mean = bytes.len() / chunks.len();
        assert!(
            (AVG_CHUNK / 2..AVG_CHUNK * 2).contains(&mean),
            "mean chunk {mean} bytes over {} chunks",
            chunks.len()
        );
    }

    /// The point of content-defined chunks: an edit in the middle (bytes
    /// inserted, which shifts everything after) changes the chunks near
    /// it only.
    #[test]
    fn an_insertion_changes_only_the_chunks_around_it() {
        let before = noise(8 << 20, 11);
        let at = 3 << 20;
        let after = [&before[..at], &noise(1_000, 12), &before[at..]].concat();
        let (old, new) = (split(&before), split(&after));
        let kept = hashes(&old);
        let changed: Vec<_> = new.iter().filter(|c| !kept.contains(&c.hash)).collect();
        let changed_bytes: usize = changed.iter().map(|c| c.len).sum();
        assert!(
            changed.len() <= 3 && changed_bytes <= 2 * MAX_CHUNK,
            "{} of {} chunks ({changed_bytes} bytes) changed",
            changed.len(),
            new.len()
        );
        // Cutting is a function of the bytes alone.
        assert_eq!(split(&before), old);
    }

    #[test]
    fn a_manifest_round_trips_and_reassembles_its_component() {
        let bytes = noise(1 << 20, 3);
        let hash = ComponentHash::of(&bytes);
        let chunks = split(&bytes);
        let manifest = Manifest::of(&chunks);
        assert_eq!(manifest.length, bytes.len() as u64);
        let decoded = Manifest::decode(hash, &manifest.encode()).expect("decodes");
        assert_eq!(decoded, manifest);
        let store: std::collections::HashMap<[u8; 32], &[u8]> =
            chunks.iter().map(|c| (c.hash, c.of(&bytes))).collect();
        let read = |h: &[u8; 32], out: &mut Vec<u8>| {
            Ok(store.get(h).map(|b| out.extend_from_slice(b)).is_some())
        };
        assert_eq!(decoded.assemble(hash, read).expect("assembles"), bytes);
    }

    #[test]
    fn a_missing_damaged_or_overlong_chunk_is_corruption() {
        let bytes = noise(600_000, 5);
        let hash = ComponentHash::of(&bytes);
        let chunks = split(&bytes);
        let manifest = Manifest::of(&chunks);
        let first = chunks[0].hash;
        type Read<'a> = Box<dyn Fn(&[u8; 32], &mut Vec<u8>) -> bool + 'a>;
        let cases: [(&str, Read<'_>); 3] = [
            (
                "missing",
                Box::new(|h: &[u8; 32], out: &mut Vec<u8>| {
                    let c = chunks.iter().find(|c| c.hash == *h).expect("known");
                    out.extend_from_slice(c.of(&bytes));
                    *h != first
                }),
            ),
            (
                "damaged",
                Box::new(|h: &[u8; 32], out: &mut Vec<u8>| {
                    let c = chunks.iter().find(|c| c.hash == *h).expect("known");
                    out.extend_from_slice(c.of(&bytes));
                    if *h == first {
                        out[3] ^= 1;
                    }
                    true
                }),
            ),
            (
                "overlong",
                Box::new(|h: &[u8; 32], out: &mut Vec<u8>| {
                    let c = chunks.iter().find(|c| c.hash == *h).expect("known");
                    out.extend_from_slice(c.of(&bytes));
                    if *h == first {
                        out.extend_from_slice(&[0; MAX_CHUNK]);
                    }
                    true
                }),
            ),
        ];
        for (what, read) in cases {
            let result = manifest.assemble(hash, |h, out| Ok(read(h, out)));
            assert!(
                matches!(result, Err(JournalError::Corrupt { .. })),
                "{what}: {result:?}"
            );
        }
    }

    #[test]
    fn a_malformed_manifest_is_corruption() {
        let hash = ComponentHash([1; 32]);
        let good = Manifest {
            length: 10,
            chunks: vec![[2; 32]],
        }
        .encode();
        let mut wrong_version = good.clone();
        wrong_version[0] = 9;
        let mut too_long = good.clone();
        too_long[1..9].copy_from_slice(&(MAX_COMPONENT_BYTES + 1).to_le_bytes());
        let mut too_many = good.clone();
        too_many[9..13].copy_from_slice(&u32::MAX.to_le_bytes());
        let truncated = good[..good.len() - 1].to_vec();
        for bad in [wrong_version, too_long, too_many, truncated, vec![1, 2]] {
            assert!(matches!(
                Manifest::decode(hash, &bad),
                Err(JournalError::Corrupt { .. })
            ));
        }
        assert!(Manifest::decode(hash, &good).is_ok());
    }
}
