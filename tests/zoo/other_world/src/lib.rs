//! Hostile test guest: a well-formed component of another world.

#![expect(unsafe_code, reason = "wit-bindgen's export glue")]

mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "other", pub_export_macro: true });
}

use bindings::Guest;

struct Other;

impl Guest for Other {
    fn run() -> String {
        "hello from another world".to_owned()
    }
}

bindings::export!(Other with_types_in bindings);
