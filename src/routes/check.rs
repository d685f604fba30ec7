//! Syntax checks of the names in a route file: HTTP methods, service and
//! action names, and resource name templates. Each returns why a value is
//! refused; [`super::build`] turns that into a diagnostic with its place.

use super::Part;

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

pub(crate) fn parse_method(method: &str) -> Result<http::Method, String> {
    if !METHODS.contains(&method) {
        return Err(format!(
            "unknown method {method:?} (expected one of {})",
            METHODS.join(", ")
        ));
    }
    http::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())
}

pub(crate) fn valid_service_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// `service:operation` or `service:resourceType:operation` (middle may be
/// empty), letters, digits, `-` and `_`; no wildcards.
pub(crate) fn valid_action_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split(':').collect();
    let word = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else {
        return false;
    };
    (2..=3).contains(&parts.len())
        && !first.is_empty()
        && !last.is_empty()
        && parts.iter().all(|p| word(p))
}

/// Split a resource template at `{region}`, `{account}`, `{type}`, `{id}`.
pub(crate) fn parse_resource_template(text: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            parts.push(Part::Text(rest[..open].to_string()));
        }
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| format!("unclosed '{{' in resource template {text:?}"))?;
        parts.push(match &rest[open + 1..open + close] {
            "region" => Part::Region,
            "account" => Part::Account,
            "type" => Part::Type,
            "id" => Part::Id,
            other => return Err(format!("unknown placeholder {{{other}}} in resource template (expected region, account, type, id)")),
        });
        rest = &rest[open + close + 1..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest.to_string()));
    }
    Ok(parts)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn methods() {
        assert_eq!(parse_method("PATCH").unwrap(), http::Method::PATCH);
        assert!(parse_method("get").is_err());
        assert!(parse_method("FETCH")
            .unwrap_err()
            .contains("unknown method"));
    }

    #[test]
    fn action_names() {
        for good in [
            "modelarts:notebook:get",
            "dli::listTags",
            "agentrun:CreateAgentRuntime",
        ] {
            assert!(valid_action_name(good), "{good}");
        }
        for bad in [
            "modelarts",
            "a:b:c:d",
            "svc:*",
            ":x:get",
            "svc:x:",
            "svc:no tes:get",
        ] {
            assert!(!valid_action_name(bad), "{bad}");
        }
        assert!(valid_service_name("modelarts") && !valid_service_name("Model Arts"));
    }

    #[test]
    fn resource_templates() {
        let parts = parse_resource_template("m:{region}:{account}:{type}:{id}").unwrap();
        assert_eq!(parts.len(), 8);
        assert_eq!(parts[0], Part::Text("m:".into()));
        assert!(parse_resource_template("m:{name}")
            .unwrap_err()
            .contains("unknown placeholder"));
        assert!(parse_resource_template("m:{id")
            .unwrap_err()
            .contains("unclosed"));
    }
}
