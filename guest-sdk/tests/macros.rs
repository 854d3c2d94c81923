//! Every error of #[checkpoint] and #[flow] points at the offending tokens.
#[test]
fn macro_errors_are_spanned() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
    cases.pass("tests/ui-pass/*.rs");
}
