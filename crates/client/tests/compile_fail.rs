//! What the type system forbids (LOC-4): a location fix cannot be serialized, cloned, read
//! or made without a challenge; a capability cannot be forged. Each file under
//! `compile-fail/` must fail to compile, with the error in its `.stderr` file.

#[test]
fn loc_4_a_fix_cannot_be_serialized_cloned_read_or_made_without_a_challenge() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/compile-fail/*.rs");
}
