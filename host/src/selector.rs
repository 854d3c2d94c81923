//! Call selectors, as `replay --from/--override` and `logs --call` take them,
//! tried in this order: a call id (`name`, `name_2`, `name[3]`), a seq
//! number, a checkpoint name when exactly one call has it. (A checkpoint's
//! first call has its name as call id, so a name that was called several
//! times selects the first call; map items have only indexed ids, so a
//! mapped checkpoint's name is ambiguous.)

use crate::error::{CallRef, SelectorError};

/// The seq of the one call `selector` names among `calls` (seq, call id,
/// checkpoint name).
pub(crate) fn resolve<'a>(
    calls: impl IntoIterator<Item = (u32, &'a str, &'a str)> + Clone,
    selector: &str,
) -> Result<u32, SelectorError> {
    let selector = selector.trim();
    let candidates = || {
        calls
            .clone()
            .into_iter()
            .map(|(seq, id, _)| call_ref(seq, id))
            .collect()
    };
    if let Some((seq, _, name)) = calls.clone().into_iter().find(|(_, id, _)| *id == selector) {
        // `step_2` is the id of `step`'s second call, but a checkpoint may
        // itself be named `step_2`: then the selector could mean either, and
        // guessing would change the wrong call.
        let others: Vec<(u32, &str)> = calls
            .clone()
            .into_iter()
            .filter(|(s, _, n)| *s != seq && *n == selector)
            .map(|(s, id, _)| (s, id))
            .collect();
        if name == selector || others.is_empty() {
            return Ok(seq);
        }
        let id = selector;
        return Err(SelectorError::Ambiguous {
            selector: selector.to_owned(),
            candidates: std::iter::once((seq, id))
                .chain(others)
                .map(|(seq, id)| call_ref(seq, id))
                .collect(),
        });
    }
    if let Ok(seq) = selector.parse::<u32>()
        && calls.clone().into_iter().any(|(s, _, _)| s == seq)
    {
        return Ok(seq);
    }
    let by_name: Vec<(u32, &str)> = calls
        .clone()
        .into_iter()
        .filter(|(_, _, name)| *name == selector)
        .map(|(seq, id, _)| (seq, id))
        .collect();
    match by_name.as_slice() {
        [(seq, _)] => Ok(*seq),
        [] => Err(SelectorError::Unknown {
            selector: selector.to_owned(),
            candidates: candidates(),
        }),
        several => Err(SelectorError::Ambiguous {
            selector: selector.to_owned(),
            candidates: several.iter().map(|(seq, id)| call_ref(*seq, id)).collect(),
        }),
    }
}

fn call_ref(seq: u32, call_id: &str) -> CallRef {
    CallRef {
        call_id: call_id.to_owned(),
        seq,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CALLS: [(u32, &str, &str); 5] = [
        (0, "fetch", "fetch"),
        (1, "parse", "parse"),
        (2, "parse_2", "parse"),
        (3, "score[0]", "score"),
        (4, "score[1]", "score"),
    ];

    #[test]
    fn by_call_id_name_or_seq() {
        assert_eq!(resolve(CALLS, "parse_2"), Ok(2));
        assert_eq!(resolve(CALLS, "fetch"), Ok(0));
        assert_eq!(
            resolve(CALLS, "parse"),
            Ok(1),
            "a call id wins over a checkpoint name"
        );
        assert_eq!(resolve(CALLS, "score[1]"), Ok(4));
        assert_eq!(resolve(CALLS, "1"), Ok(1));
    }

    #[test]
    fn a_call_id_that_is_also_another_calls_checkpoint_name_is_refused() {
        let calls = [
            (0, "step", "step"),
            (1, "step_2", "step"),
            (2, "step_2_2", "step_2"),
        ];
        assert!(
            matches!(
                resolve(calls, "step_2"),
                Err(SelectorError::Ambiguous { .. })
            ),
            "`step_2` names seq 1 by id and seq 2 by checkpoint name"
        );
        assert_eq!(resolve(calls, "step_2_2"), Ok(2));
        assert_eq!(resolve(calls, "1"), Ok(1));
    }

    #[test]
    fn ambiguous_and_unknown_list_the_candidates() {
        let ambiguous = resolve(CALLS, "score").map_err(|e| e.to_string());
        assert_eq!(
            ambiguous,
            Err("`score` matches several calls: score[0] (seq 3), score[1] (seq 4); name one by its call id or seq"
                .to_owned())
        );
        assert!(matches!(
            resolve(CALLS, "nope"),
            Err(SelectorError::Unknown { .. })
        ));
        assert!(matches!(
            resolve(CALLS, "9"),
            Err(SelectorError::Unknown { .. })
        ));
    }
}
