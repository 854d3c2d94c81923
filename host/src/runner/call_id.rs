//! Call ids, Kitaru's scheme: a checkpoint's first call in an execution is
//! `name`, later ones `name_2`, `name_3`, ...
//!
//! A checkpoint may itself be called `step_2`, so the plain scheme could
//! give two calls one id (`step` called twice, then `step_2`). Ids are
//! therefore unique by construction: a number already taken as an id is
//! skipped (`step_2`'s first call becomes `step_2_2`). The flow makes its
//! calls in the same order on every run, so the ids are the same on resume
//! and replay.

use std::collections::{BTreeMap, BTreeSet};

#[derive(Default)]
pub(crate) struct CallIds {
    calls_so_far: BTreeMap<String, u32>,
    taken: BTreeSet<String>,
}

impl CallIds {
    pub(crate) fn next(&mut self, name: &str) -> String {
        let n = self.calls_so_far.entry(name.to_owned()).or_insert(0);
        loop {
            *n += 1;
            let id = if *n == 1 {
                name.to_owned()
            } else {
                format!("{name}_{n}")
            };
            if self.taken.insert(id.clone()) {
                return id;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_repeated_calls_from_two() {
        let mut ids = CallIds::default();
        let got: Vec<String> = ["a", "b", "a", "a", "b"]
            .iter()
            .map(|n| ids.next(n))
            .collect();
        assert_eq!(got, ["a", "b", "a_2", "a_3", "b_2"]);
    }

    #[test]
    fn a_name_that_looks_like_a_numbered_id_never_collides() {
        let mut ids = CallIds::default();
        let got: Vec<String> = ["step", "step", "step_2", "step_2", "step", "step_2_2"]
            .iter()
            .map(|n| ids.next(n))
            .collect();
        assert_eq!(
            got,
            [
                "step",
                "step_2",
                "step_2_2",
                "step_2_3",
                "step_3",
                "step_2_2_2"
            ]
        );
        let unique: BTreeSet<&String> = got.iter().collect();
        assert_eq!(unique.len(), got.len());
    }
}
