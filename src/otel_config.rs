//! `[otel]` of `iamgate.toml`: where OpenTelemetry traces go. Parsed in
//! every build so that a config naming `[otel]` is refused clearly by a
//! binary built without the `otel` cargo feature, rather than read as an
//! unknown key or, worse, silently ignored.

use serde::Deserialize;

/// The mirror of `[otel]` (unknown keys are errors).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OtelFile {
    /// The collector's OTLP/HTTP base URL, `http://host:4318`.
    endpoint: String,
    /// `service.name` of the exported resource.
    #[serde(default = "default_service_name")]
    service_name: String,
}

fn default_service_name() -> String {
    "iamgate".into()
}

/// `[otel]`, validated: spans go to `traces_url` as OTLP/HTTP JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtelConfig {
    /// The full URL spans are POSTed to (`…/v1/traces`).
    pub traces_url: String,
    pub service_name: String,
}

/// The OTLP/HTTP path of traces under a collector's base URL.
const TRACES_PATH: &str = "/v1/traces";

/// Validate `[otel]` for this binary; the error is `(JSON pointer, message)`.
pub(crate) fn validate(f: OtelFile) -> Result<OtelConfig, (&'static str, String)> {
    validate_for(f, cfg!(feature = "otel"))
}

/// Validate `[otel]` for a binary built with or without the `otel` feature.
fn validate_for(f: OtelFile, built_with_otel: bool) -> Result<OtelConfig, (&'static str, String)> {
    if !built_with_otel {
        return Err((
            "/otel",
            "iamgate was built without the otel feature: rebuild with `cargo build --features otel`, or remove [otel]".into(),
        ));
    }
    if f.service_name.is_empty() {
        return Err(("/otel/service_name", "must not be empty".into()));
    }
    let endpoint = f.endpoint.trim_end_matches('/');
    let uri: http::Uri = endpoint
        .parse()
        .map_err(|e| ("/otel/endpoint", format!("`{endpoint}` is not a URL ({e})")))?;
    // The exporter carries no TLS stack: a collector is reached in plain
    // HTTP (a local agent or sidecar), never over the internet.
    if uri.scheme_str() != Some("http") || uri.authority().is_none() {
        return Err((
            "/otel/endpoint",
            format!("`{endpoint}`: expected http://host:port (https is not supported)"),
        ));
    }
    let traces_url = match endpoint.ends_with(TRACES_PATH) {
        true => endpoint.to_string(),
        false => format!("{endpoint}{TRACES_PATH}"),
    };
    Ok(OtelConfig {
        traces_url,
        service_name: f.service_name,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::{validate_for, OtelFile};
    use crate::config::Config;

    fn load(otel: &str) -> (tempfile::TempDir, Result<Config, String>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("iamgate.toml");
        std::fs::write(&path, format!("listen = \"127.0.0.1:0\"\n{otel}")).unwrap();
        let config = Config::load(&path).map_err(|d| format!("{d:?}"));
        (dir, config)
    }

    #[test]
    fn without_otel_nothing_is_configured() {
        let (_dir, config) = load("");
        assert_eq!(config.unwrap().otel, None);
    }

    #[test]
    fn a_build_without_the_feature_refuses_an_otel_section() {
        let section = || OtelFile {
            endpoint: "http://127.0.0.1:4318".into(),
            service_name: "iamgate".into(),
        };
        let (at, err) = validate_for(section(), false).unwrap_err();
        assert_eq!(at, "/otel");
        assert!(err.contains("built without the otel feature"), "{err}");
        assert!(validate_for(section(), true).is_ok());
    }

    /// This binary answers `[otel]` the way its build says it should.
    #[test]
    fn this_build_answers_an_otel_section_by_its_feature() {
        let (_dir, config) = load("[otel]\nendpoint = \"http://127.0.0.1:4318\"\n");
        match cfg!(feature = "otel") {
            true => assert!(config.unwrap().otel.is_some()),
            false => assert!(config
                .unwrap_err()
                .contains("built without the otel feature")),
        }
    }

    #[cfg(feature = "otel")]
    #[test]
    fn the_endpoint_gets_the_traces_path_and_a_default_service_name() {
        let (_dir, config) = load("[otel]\nendpoint = \"http://127.0.0.1:4318/\"\n");
        let otel = config.unwrap().otel.unwrap();
        assert_eq!(otel.traces_url, "http://127.0.0.1:4318/v1/traces");
        assert_eq!(otel.service_name, "iamgate");
        let (_dir, config) =
            load("[otel]\nendpoint = \"http://c:4318/v1/traces\"\nservice_name = \"edge-gw\"\n");
        let otel = config.unwrap().otel.unwrap();
        assert_eq!(otel.traces_url, "http://c:4318/v1/traces");
        assert_eq!(otel.service_name, "edge-gw");
    }

    #[cfg(feature = "otel")]
    #[test]
    fn bad_otel_sections_are_load_errors() {
        for (section, needle) in [
            ("endpoint = \"https://c:4318\"", "https is not supported"),
            ("endpoint = \"not a url\"", "/otel/endpoint"),
            ("endpoint = \"c:4318\"", "expected http://host:port"),
            (
                "endpoint = \"http://c:4318\"\nservice_name = \"\"",
                "/otel/service_name",
            ),
            ("service_name = \"x\"", "endpoint"),
            (
                "endpoint = \"http://c:4318\"\nprotocol = \"grpc\"",
                "protocol",
            ),
        ] {
            let (_dir, config) = load(&format!("[otel]\n{section}\n"));
            let err = config.unwrap_err();
            assert!(err.contains(needle), "{section}: {err}");
        }
    }
}
