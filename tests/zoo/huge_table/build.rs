//! Links the component with a table base of twenty million: its function
//! table then needs that many entries before the first real one.

fn main() {
    println!("cargo:rustc-link-arg=--table-base=20000000");
}
