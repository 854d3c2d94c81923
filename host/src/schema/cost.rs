//! A bound on the work checking one value takes, found before checking it.
//!
//! The validator has no budget of its own, and some schemas within the
//! static bounds are still exponential in the value: `anyOf` options that
//! each recurse into the same child are tried, then walked again for their
//! errors, at every level. So [`Schema::validate`](super::Schema::validate)
//! first counts, with memory, how many subschema visits the value could
//! cost if nothing short-circuits, and refuses it past [`MAX_STEPS`]. The
//! count is an over-estimate (every pattern property applies to every key,
//! every speculative applicator is walked twice); counting itself stops at
//! the budget, so it costs at most about [`MAX_STEPS`] steps too.

use std::collections::HashMap;
use std::rc::Rc;

use serde_json::Value;

use super::MAX_STEPS;
use super::bounds::Node;

/// Whether checking `value` against the root of `nodes` costs at most
/// [`MAX_STEPS`] visits.
pub(super) fn within_budget(nodes: &[Node], value: &Value) -> bool {
    let mut count = Count {
        nodes,
        closures: HashMap::new(),
        memo: HashMap::new(),
    };
    count.of(0, value).is_some()
}

struct Count<'s> {
    nodes: &'s [Node],
    /// For each subschema met, every subschema reached in place from it
    /// with how many times it is walked per visit.
    closures: HashMap<usize, Rc<[(usize, u64)]>>,
    /// The cost of (subschema, value): containers by address, which stays
    /// put while the value is borrowed; scalars all cost the same.
    memo: HashMap<(usize, *const Value), u64>,
}

/// Any scalar, standing for a property name.
const NAME: &Value = &Value::Null;

impl Count<'_> {
    /// Visits to check `value` against `node`, or `None` past the budget.
    /// Recursion follows the value, bounded by
    /// [`MAX_VALUE_DEPTH`](super::MAX_VALUE_DEPTH).
    fn of(&mut self, node: usize, value: &Value) -> Option<u64> {
        let address = match value {
            Value::Array(_) | Value::Object(_) => std::ptr::from_ref(value),
            _ => std::ptr::null(),
        };
        if let Some(&known) = self.memo.get(&(node, address)) {
            return Some(known);
        }
        let mut total = 0u64;
        for &(reached, times) in self.closure(node).iter() {
            let visit = self.visit(reached, value)?;
            total = total.saturating_add(times.saturating_mul(visit));
            if total > MAX_STEPS {
                return None;
            }
        }
        self.memo.insert((node, address), total);
        Some(total)
    }

    /// One visit of `node` to `value`: itself and its parts.
    fn visit(&mut self, node: usize, value: &Value) -> Option<u64> {
        let nodes = self.nodes;
        let n = &nodes[node];
        let mut cost = 1u64;
        match value {
            Value::Object(map)
                if !(n.properties.is_empty()
                    && n.every_property.is_empty()
                    && n.property_names.is_none()) =>
            {
                for (key, child) in map {
                    // Looking at the key counts, whatever applies to it.
                    cost = cost.saturating_add(1);
                    for &sub in n.properties.get(key).into_iter().chain(&n.every_property) {
                        cost = cost.saturating_add(self.of(sub, child)?);
                    }
                    if let Some(names) = n.property_names {
                        cost = cost.saturating_add(self.of(names, NAME)?);
                    }
                    if cost > MAX_STEPS {
                        return None;
                    }
                }
            }
            Value::Array(items) if !(n.by_index.is_empty() && n.every_item.is_empty()) => {
                for (i, item) in items.iter().enumerate() {
                    cost = cost.saturating_add(1);
                    for &sub in n.by_index.get(i).into_iter().chain(&n.every_item) {
                        cost = cost.saturating_add(self.of(sub, item)?);
                    }
                    if cost > MAX_STEPS {
                        return None;
                    }
                }
            }
            _ => {}
        }
        Some(cost)
    }

    /// `node` and the subschemas reached from it in place, each with the
    /// number of times a visit walks it: one per path, times the repeats
    /// along the path. The static bounds keep the paths under
    /// [`MAX_FANOUT`](super::MAX_FANOUT) and [`MAX_CHAIN`](super::MAX_CHAIN)
    /// long, so listing them is bounded.
    fn closure(&mut self, node: usize) -> Rc<[(usize, u64)]> {
        if let Some(known) = self.closures.get(&node) {
            return Rc::clone(known);
        }
        let mut times = HashMap::new();
        let mut paths = vec![(node, 1u64)];
        while let Some((at, weight)) = paths.pop() {
            let entry: &mut u64 = times.entry(at).or_default();
            *entry = entry.saturating_add(weight);
            let n = &self.nodes[at];
            let next = weight.saturating_mul(n.repeats);
            paths.extend(n.in_place.iter().map(|&sub| (sub, next)));
        }
        let closure: Rc<[(usize, u64)]> = times.into_iter().collect();
        self.closures.insert(node, Rc::clone(&closure));
        closure
    }
}
