//! Hostile test guest: a component importing an interface Cairn does not
//! provide.

#![expect(unsafe_code, reason = "wit-bindgen's export glue")]

mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "needy", pub_export_macro: true });
}

use bindings::Guest;

struct Needy;

impl Guest for Needy {
    fn run() -> String {
        bindings::acme::zoo::vault::secret()
    }
}

bindings::export!(Needy with_types_in bindings);
