//! Call ids, Kitaru's scheme: a checkpoint's first call in an execution is
//! `name`, later ones `name_2`, `name_3`, ...

use std::collections::BTreeMap;

#[derive(Default)]
pub(crate) struct CallIds {
    calls_so_far: BTreeMap<String, u32>,
}

impl CallIds {
    pub(crate) fn next(&mut self, name: &str) -> String {
        let n = self.calls_so_far.entry(name.to_owned()).or_insert(0);
        *n += 1;
        if *n == 1 {
            name.to_owned()
        } else {
            format!("{name}_{n}")
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
}
