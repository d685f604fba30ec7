//! Path templates of route files (`/v1/{project_id}/notebooks/{id}`) and
//! their normalised form for the router.
//!
//! Sibling routes name the same position differently (`notebooks/{id}` and
//! `notebooks/{instance_id}/storage`), which a trie router rejects. So every
//! parameter is renamed by its segment position (`{p3}`) before insertion, and
//! each route keeps its own names to report matched values under. Templates
//! are strict: whole-segment parameters only (no catch-all, no prefix or
//! suffix), no empty or dot segments, static segments of plain URL characters.

/// A parsed, validated path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    /// The form inserted into the router: parameters renamed `{p<segment index>}`.
    pub normalised: String,
    /// Parameter names as the template writes them, in path order.
    pub params: Vec<String>,
    /// The first segment (`v1`), if static; it decides the cloud of a path.
    pub first_segment: Option<String>,
}

/// Parse `path`; the error says what is wrong with it.
pub(crate) fn parse(path: &str) -> Result<Template, String> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(format!("path template must start with '/': {path:?}"));
    };
    // The root path: Alibaba RPC-style APIs (STS) all `POST /`.
    if rest.is_empty() {
        return Ok(Template {
            normalised: "/".to_string(),
            params: Vec::new(),
            first_segment: Some(String::new()),
        });
    }
    let mut normalised = String::with_capacity(path.len());
    let mut params: Vec<String> = Vec::new();
    let mut first_segment = None;
    for (index, segment) in rest.split('/').enumerate() {
        normalised.push('/');
        match param_name(segment)? {
            Some(name) => {
                if params.iter().any(|p| p == name) {
                    return Err(format!("parameter {{{name}}} appears twice"));
                }
                params.push(name.to_string());
                normalised.push_str(&format!("{{p{index}}}"));
            }
            None => {
                check_static(segment)?;
                if index == 0 {
                    first_segment = Some(segment.to_string());
                }
                normalised.push_str(segment);
            }
        }
    }
    Ok(Template {
        normalised,
        params,
        first_segment,
    })
}

/// `Some(name)` for a `{name}` segment, `None` for a static one.
fn param_name(segment: &str) -> Result<Option<&str>, String> {
    let Some(inner) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
        if segment.contains(['{', '}']) {
            return Err(format!(
                "segment {segment:?}: a parameter must be a whole segment `{{name}}`"
            ));
        }
        return Ok(None);
    };
    let mut chars = inner.chars();
    let valid_start = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !valid_start || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "segment {segment:?}: parameter names are letters, digits and '_' (no catch-all)"
        ));
    }
    Ok(Some(inner))
}

/// A static segment: non-empty, not a dot segment, plain URL characters only.
fn check_static(segment: &str) -> Result<(), String> {
    if segment.is_empty() {
        return Err("empty segment ('//' or a trailing '/')".to_string());
    }
    if segment == "." || segment == ".." {
        return Err(format!("dot segment {segment:?}"));
    }
    let plain = |c: char| c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@".contains(c);
    match segment.chars().find(|c| !plain(*c)) {
        Some(c) => Err(format!(
            "segment {segment:?}: character {c:?} is not allowed"
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn normalises_parameters_by_position() {
        let t = parse("/v1/{project_id}/notebooks/{instance_id}/storage").unwrap();
        assert_eq!(t.normalised, "/v1/{p1}/notebooks/{p3}/storage");
        assert_eq!(t.params, ["project_id", "instance_id"]);
        assert_eq!(t.first_segment.as_deref(), Some("v1"));
        let sibling = parse("/v1/{project_id}/notebooks/{id}").unwrap();
        assert_eq!(sibling.normalised, "/v1/{p1}/notebooks/{p3}");
    }

    #[test]
    fn a_leading_parameter_has_no_first_segment() {
        assert_eq!(parse("/{x}/a").unwrap().first_segment, None);
    }

    #[test]
    fn rejects_bad_templates() {
        let cases = [
            ("v1/x", "start with"),
            ("/v1//x", "empty segment"),
            ("/v1/x/", "empty segment"),
            ("/v1/../x", "dot segment"),
            ("/v1/{*rest}", "no catch-all"),
            ("/v1/img{id}.png", "whole segment"),
            ("/v1/{}", "parameter names"),
            ("/v1/{a}/{a}", "twice"),
            ("/v1/a%20b", "not allowed"),
            ("/v1/a b", "not allowed"),
        ];
        for (path, why) in cases {
            let err = parse(path).unwrap_err();
            assert!(err.contains(why), "{path}: {err}");
        }
    }
}
