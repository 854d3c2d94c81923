//! Parameters are owned: they are deserialized from JSON.
use cairn_guest::checkpoint;

#[checkpoint]
fn greet(name: &str) -> String {
    format!("Hello, {name}")
}

fn main() {}
