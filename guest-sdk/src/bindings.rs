//! The one `generate!` of the guest side. Authors never see these types: the
//! rest of the SDK wraps them.

wit_bindgen::generate!({
    path: "../wit",
    world: "cairn:checkpoint/component",
});
