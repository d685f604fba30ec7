//! Inputs the fuzz targets in `fuzz/` found, minimised, kept as plain tests
//! so that `cargo test` guards them without a nightly toolchain.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use iamgate::diag::{from_toml_error, Place};

/// config_files: a NUL byte inside a TOML comment made a diagnostic with an
/// empty message (`resources.toml:2:25: error: `).
#[test]
fn a_toml_syntax_error_always_says_what_is_wrong() {
    let source = "# a comment\n# with a NUL \u{0} inside\n";
    let err = toml::from_str::<toml::Value>(source).unwrap_err();
    let d = from_toml_error(Path::new("resources.toml"), source, &err);
    assert_eq!(
        d.place,
        Place::Line {
            line: 2,
            column: 14
        }
    );
    assert_eq!(d.message, r#"invalid TOML: unexpected character '\0'"#);
}
