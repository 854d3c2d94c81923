//! The one `bindgen!` of the host side. These types stay inside the crate:
//! the public API speaks in Cairn's own types.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "cairn:checkpoint/component",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "cairn:checkpoint/runner.pending": crate::call::PendingCall,
    },
});

pub(crate) use cairn::checkpoint::attempt;
pub(crate) use cairn::checkpoint::children;
pub(crate) use cairn::checkpoint::runner;
pub(crate) use cairn::checkpoint::timers;
pub(crate) use cairn::checkpoint::types;
