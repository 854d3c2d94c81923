//! How redb stores a record: an envelope
//! `[record version: u8][postcard payload][first 8 bytes of blake3(key, payload)]`.
//!
//! redb does not detect damage to the bytes it returns, so every record
//! carries its own checksum and a damaged one is reported, never replayed.
//! The checksum covers the record's key too, so a record that damage moved
//! under another key is caught as well; counts kept in the parent records
//! (`ExecutionRecord::calls`, `CallRecord::attempts`) catch one that went
//! missing.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::JournalError;

/// The version of the envelope and of the record layouts below.
pub(crate) const RECORD_VERSION: u8 = 2;

const CHECKSUM_LEN: usize = 8;

/// Where a record lives: its table and key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordKey<'a> {
    /// `executions/{id}`.
    Execution(u64),
    /// `calls/{exec}/{seq}`.
    Call(u64, u32),
    /// `attempts/{exec}/{seq}/{n}`.
    Attempt(u64, u32, u32),
    /// `waits/{exec}/{name}`.
    Wait(u64, &'a str),
    /// `timers/{exec}/{seq}`.
    Timer(u64, u32),
    /// `upgrades/{exec}/{n}`.
    Upgrade(u64, u32),
    /// `schedules/{name}`.
    Schedule(&'a str),
}

impl RecordKey<'_> {
    fn checksum(self, payload: &[u8]) -> [u8; CHECKSUM_LEN] {
        let mut hasher = blake3::Hasher::new();
        match self {
            RecordKey::Execution(id) => hasher.update(&[0]).update(&id.to_le_bytes()),
            RecordKey::Call(exec, seq) => hasher
                .update(&[1])
                .update(&exec.to_le_bytes())
                .update(&seq.to_le_bytes()),
            RecordKey::Attempt(exec, seq, n) => hasher
                .update(&[2])
                .update(&exec.to_le_bytes())
                .update(&seq.to_le_bytes())
                .update(&n.to_le_bytes()),
            RecordKey::Wait(exec, name) => hasher
                .update(&[3])
                .update(&exec.to_le_bytes())
                .update(&(name.len() as u64).to_le_bytes())
                .update(name.as_bytes()),
            RecordKey::Timer(exec, seq) => hasher
                .update(&[4])
                .update(&exec.to_le_bytes())
                .update(&seq.to_le_bytes()),
            RecordKey::Upgrade(exec, n) => hasher
                .update(&[5])
                .update(&exec.to_le_bytes())
                .update(&n.to_le_bytes()),
            RecordKey::Schedule(name) => hasher
                .update(&[6])
                .update(&(name.len() as u64).to_le_bytes())
                .update(name.as_bytes()),
        };
        hasher.update(payload);
        let mut sum = [0; CHECKSUM_LEN];
        sum.copy_from_slice(&hasher.finalize().as_bytes()[..CHECKSUM_LEN]);
        sum
    }
}

impl std::fmt::Display for RecordKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordKey::Execution(id) => write!(f, "executions/{id}"),
            RecordKey::Call(exec, seq) => write!(f, "calls/{exec}/{seq}"),
            RecordKey::Attempt(exec, seq, n) => write!(f, "attempts/{exec}/{seq}/{n}"),
            RecordKey::Wait(exec, name) => write!(f, "waits/{exec}/{name}"),
            RecordKey::Timer(exec, seq) => write!(f, "timers/{exec}/{seq}"),
            RecordKey::Upgrade(exec, n) => write!(f, "upgrades/{exec}/{n}"),
            RecordKey::Schedule(name) => write!(f, "schedules/{name}"),
        }
    }
}

/// Wraps a record in its envelope for `key`.
pub(crate) fn encode<T: Serialize>(key: RecordKey, record: &T) -> Vec<u8> {
    let mut bytes = vec![RECORD_VERSION];
    // Serializing our own plain structs into a Vec cannot fail.
    let payload = postcard::to_stdvec(record).unwrap_or_default();
    bytes.extend_from_slice(&payload);
    bytes.extend_from_slice(&key.checksum(&payload));
    bytes
}

/// Checks the envelope of the record stored under `key` and decodes it.
pub(crate) fn decode<T: DeserializeOwned>(key: RecordKey, bytes: &[u8]) -> Result<T, JournalError> {
    let corrupt = |reason: String| JournalError::Corrupt {
        what: key.to_string(),
        reason,
    };
    if bytes.len() < 1 + CHECKSUM_LEN {
        return Err(corrupt(format!("only {} bytes long", bytes.len())));
    }
    if bytes[0] != RECORD_VERSION {
        return Err(corrupt(format!("unknown record version {}", bytes[0])));
    }
    let (payload, checksum) = bytes[1..].split_at(bytes.len() - 1 - CHECKSUM_LEN);
    if key.checksum(payload) != *checksum {
        return Err(corrupt("checksum mismatch".to_owned()));
    }
    postcard::from_bytes(payload).map_err(|e| corrupt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::record::{AttemptRecord, CallRecord};
    use crate::model::{AttemptOutcome, CallSource, CallStatus, ComponentHash, Runtime, TrapKind};

    fn sample_call() -> CallRecord {
        CallRecord {
            call_id: "add_one_2".to_owned(),
            name: "add_one".to_owned(),
            component: ComponentHash([0xab; 32]),
            kind: Some("llm_call".to_owned()),
            runtime: Runtime::Isolated,
            input: r#"{"x":1}"#.to_owned(),
            status: CallStatus::Completed,
            source: CallSource::Executed,
            output: Some("2".to_owned()),
            attempts: 1,
        }
    }

    const KEY: RecordKey<'static> = RecordKey::Call(7, 1);

    #[test]
    fn a_record_round_trips() {
        let call = sample_call();
        let decoded: CallRecord = decode(KEY, &encode(KEY, &call)).expect("decodes");
        assert_eq!(decoded, call);
    }

    /// Freezes the on-disk bytes: if this fails, the format changed and
    /// `FORMAT_VERSION` / `RECORD_VERSION` must change with it.
    #[test]
    fn golden_bytes_of_a_call_and_an_attempt() {
        let call = encode(KEY, &sample_call());
        // version, "add_one_2", "add_one", component (32 bytes),
        // Some("llm_call"), Isolated, "{\"x\":1}", Completed, Executed,
        // Some("2"), 1 attempt, checksum.
        assert_eq!(
            to_hex(&call),
            "02096164645f6f6e655f32076164645f6f6e65abababababababababababababababababababababababababababababababab01086c6c6d5f63616c6c01077b2278223a317d01000101320139d745be1dd3855b"
        );
        let attempt = AttemptRecord {
            started_at_us: 1,
            ended_at_us: Some(2),
            outcome: Some(AttemptOutcome::Trapped {
                kind: TrapKind::OutOfFuel,
                message: "fuel".to_owned(),
            }),
            fuel_used: 300,
            stdout: b"hi".to_vec(),
            stderr: Vec::new(),
            policy: None,
        };
        let key = RecordKey::Attempt(7, 1, 1);
        let bytes = encode(key, &attempt);
        let decoded: AttemptRecord = decode(key, &bytes).expect("decodes");
        assert_eq!(decoded, attempt);
        assert_eq!(&bytes[..8], &[2, 1, 1, 2, 1, 2, 0, 4]);
    }

    #[test]
    fn every_flipped_byte_is_caught() {
        let bytes = encode(KEY, &sample_call());
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut damaged = bytes.clone();
                damaged[i] ^= 1 << bit;
                let result: Result<CallRecord, _> = decode(KEY, &damaged);
                assert!(
                    matches!(result, Err(JournalError::Corrupt { .. })),
                    "flip of bit {bit} in byte {i} went unnoticed"
                );
            }
        }
    }

    #[test]
    fn a_record_read_under_another_key_is_caught() {
        let bytes = encode(KEY, &sample_call());
        let moved: Result<CallRecord, _> = decode(RecordKey::Call(7, 2), &bytes);
        assert!(matches!(moved, Err(JournalError::Corrupt { .. })));
    }

    fn to_hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
