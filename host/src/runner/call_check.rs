//! What a submitted call is checked against before it gets a seq: a
//! checkpoint the component has, an input within the policy, in canonical
//! form; and how a call is shown when it does not match its record.

use super::input::canonical_object;
use crate::call::{CallFailure, Stop};
use crate::component::Component;
use crate::manifest::CheckpointInfo;
use crate::model::ComponentHash;
use crate::names;
use crate::policy::Policy;

/// Checks a call before anything is journaled: a known checkpoint and an
/// input that is a JSON object, in canonical form. On a resume the input is
/// usually the journaled one byte for byte (`recorded`), which is canonical
/// already, so it is not parsed again.
pub(super) fn check(
    component: &Component,
    name: &str,
    input: &str,
    recorded: Option<&str>,
    max_input: usize,
) -> Result<(CheckpointInfo, String), CallFailure> {
    let Some(info) = component.manifest().checkpoint(name) else {
        return Err(unknown_checkpoint(component, name));
    };
    if recorded == Some(input) {
        return Ok((info.clone(), input.to_owned()));
    }
    if input.len() > max_input {
        return Err(CallFailure::Context(format!(
            "the input of checkpoint `{name}` is {} bytes; the policy allows {max_input}",
            input.len()
        )));
    }
    let input = canonical_object(input).map_err(|reason| {
        CallFailure::Context(format!("the input of checkpoint `{name}` is {reason}"))
    })?;
    Ok((info.clone(), input))
}

/// A map of `items` items within the policy's `max_map_items`, checked
/// wherever a map comes in (a guest's list before it is copied, a host-side
/// flow's inputs).
pub(crate) fn check_map_items(policy: &Policy, name: &str, items: usize) -> Result<(), Stop> {
    let max_items = policy.max_map_items;
    if items > max_items as usize {
        return Err(Stop::Limit(format!(
            "a map of checkpoint {} has {items} items; the policy allows at most {max_items} per map",
            names::shown(name)
        )));
    }
    Ok(())
}

/// The refusal of a call to a checkpoint the component does not have: the
/// name shown short and inert, and at most a few of the real names.
pub(super) fn unknown_checkpoint(component: &Component, name: &str) -> CallFailure {
    CallFailure::Context(format!(
        "unknown checkpoint {}; the component has: {}",
        names::shown(name),
        names::listed(&component.manifest().checkpoint_names())
    ))
}

/// The most of a call's input a non-determinism error quotes.
const SHOWN_INPUT: usize = 200;

/// A call as a non-determinism error shows it.
pub(super) fn describe_call(
    name: &str,
    call_id: &str,
    input: &str,
    component: Option<ComponentHash>,
) -> String {
    let input = crate::guest_text::bounded(input.to_owned(), SHOWN_INPUT);
    match component {
        Some(component) => {
            let hex = component.to_hex();
            format!(
                "`{name}` ({call_id}) of component {} with {input}",
                &hex[..12]
            )
        }
        None => format!("`{name}` ({call_id}) with {input}"),
    }
}
