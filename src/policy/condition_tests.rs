//! Unit tests of condition operators, written against the mutants
//! cargo-mutants left alive (tests/MUTANTS.md): the combination of several
//! request values, absent keys, boundaries of the comparisons and the
//! dialect rules of operator names. The decision corpus covers the same
//! rules through whole policies; these pin each branch on its own.

use super::*;

fn cond(cloud: Cloud, op: &str, key: &str, values: &[&str]) -> Condition {
    let spec = parse_operator(cloud, op).unwrap();
    let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
    build(&spec, op, key, &values).unwrap()
}

fn huawei(op: &str, values: &[&str]) -> Condition {
    cond(Cloud::Huawei, op, "g:Key", values)
}

/// A context where `g:Key` holds `values` (absent when `None`).
fn ctx(values: Option<&[&str]>) -> Context {
    let mut c = Context::new();
    if let Some(v) = values {
        c.set_multi("g:Key", v.iter().map(|s| s.to_string()).collect());
    }
    c
}

fn holds(c: &Condition, values: Option<&[&str]>) -> bool {
    c.holds(&ctx(values))
}

#[test]
fn a_negated_operator_without_prefix_needs_every_value_to_differ() {
    let ne = huawei("StringNotEquals", &["a"]);
    assert!(
        !holds(&ne, Some(&["a", "b"])),
        "one value equals: NOR fails"
    );
    assert!(holds(&ne, Some(&["b", "c"])));
    let eq = huawei("StringEquals", &["a"]);
    assert!(holds(&eq, Some(&["b", "a"])), "positive: any value");
    assert!(!holds(&eq, Some(&["b", "c"])));
}

#[test]
fn set_qualifiers_combine_values() {
    let all = huawei("ForAllValues:StringEquals", &["a", "b"]);
    assert!(holds(&all, Some(&["a", "b"])));
    assert!(!holds(&all, Some(&["a", "c"])));
    let any = huawei("ForAnyValue:StringEquals", &["a"]);
    assert!(holds(&any, Some(&["c", "a"])));
    assert!(!holds(&any, Some(&["c", "d"])));
    let any_not = huawei("ForAnyValue:StringNotEquals", &["a"]);
    assert!(holds(&any_not, Some(&["a", "b"])), "some value differs");
    assert!(!holds(&any_not, Some(&["a"])));
}

#[test]
fn absent_keys() {
    assert!(holds(&huawei("ForAllValues:StringEquals", &["a"]), None));
    assert!(!holds(&huawei("ForAnyValue:StringEquals", &["a"]), None));
    assert!(!holds(&huawei("StringEquals", &["a"]), None));
    assert!(holds(&huawei("StringNotEquals", &["a"]), None));
    assert!(holds(&huawei("StringEqualsIfExists", &["a"]), None));
    assert!(!holds(
        &huawei("StringEqualsIfExists", &["a"]),
        Some(&["b"])
    ));
    // An empty list is no value at all; an empty string is a value.
    assert!(holds(
        &huawei("ForAllValues:StringEquals", &["a"]),
        Some(&[])
    ));
    assert!(!holds(&huawei("StringEquals", &["a"]), Some(&[])));
    assert!(holds(&huawei("StringNotEquals", &["a"]), Some(&[])));
    assert!(holds(&huawei("StringEquals", &[""]), Some(&[""])));
}

#[test]
fn null_tests_presence_only() {
    let absent = huawei("Null", &["true"]);
    let present = huawei("Null", &["false"]);
    assert!(holds(&absent, None) && !holds(&absent, Some(&["x"])));
    assert!(holds(&present, Some(&["x"])) && !holds(&present, None));
    assert!(holds(&absent, Some(&[])), "an empty list is absent");
    assert!(!holds(&absent, Some(&[""])), "an empty string is present");
    // `NullIfExists` is not an operator: IfExists never strips from Null.
    assert!(parse_operator(Cloud::Huawei, "NullIfExists").is_err());
    let spec = parse_operator(Cloud::Huawei, "Null").unwrap();
    assert!(build(&spec, "Null", "g:Key", &["true".into(), "false".into()]).is_err());
}

#[test]
fn comparisons_at_their_boundaries() {
    let at = |op: &str, v: &str| holds(&huawei(op, &["10"]), Some(&[v]));
    assert!(at("NumberEquals", "10") && !at("NumberEquals", "11"));
    assert!(!at("NumberLessThan", "10") && at("NumberLessThan", "9"));
    assert!(at("NumberLessThanEquals", "10") && !at("NumberLessThanEquals", "11"));
    assert!(!at("NumberGreaterThan", "10") && at("NumberGreaterThan", "11"));
    assert!(at("NumberGreaterThanEquals", "10") && !at("NumberGreaterThanEquals", "9"));
    assert!(!at("NumberNotEquals", "10") && at("NumberNotEquals", "9"));
    let day = |op: &str, v: &str| holds(&huawei(op, &["2026-01-02"]), Some(&[v]));
    assert!(day("DateLessThanEquals", "2026-01-02T00:00:00Z"));
    assert!(!day("DateLessThan", "2026-01-02T00:00:00Z"));
    assert!(day("DateGreaterThan", "2026-01-02T00:00:00.5Z"));
    assert!(!day("DateGreaterThanEquals", "2026-01-01T23:59:59+00:00"));
}

#[test]
fn a_value_that_does_not_parse_fails_positive_and_passes_negated() {
    assert!(!holds(&huawei("NumberEquals", &["1"]), Some(&["abc"])));
    assert!(holds(&huawei("NumberNotEquals", &["1"]), Some(&["abc"])));
    assert!(!holds(&huawei("Bool", &["true"]), Some(&["yes"])));
    assert!(!holds(&huawei("IpAddress", &["10.0.0.0/8"]), Some(&["x"])));
    assert!(holds(
        &huawei("NotIpAddress", &["10.0.0.0/8"]),
        Some(&["x"])
    ));
    assert!(!holds(
        &huawei("DateLessThan", &["2026-01-01"]),
        Some(&["soon"])
    ));
}

#[test]
fn value_parsers() {
    assert_eq!(parse_number(" 2.5 "), Some(2.5));
    assert_eq!(parse_number("inf"), None);
    assert_eq!(parse_number("NaN"), None);
    assert_eq!(parse_bool("TRUE"), Some(true));
    assert_eq!(parse_bool("False"), Some(false));
    assert_eq!(parse_bool("1"), None);
    assert_eq!(parse_date("1970-01-01T00:00:01Z"), Some(1_000_000_000));
    assert_eq!(parse_date("1970-01-02"), Some(86_400_000_000_000));
    assert_eq!(parse_date("tomorrow"), None);
    let ip = huawei("IpAddress", &["192.0.2.7", "10.0.0.0/8"]);
    assert!(holds(&ip, Some(&["192.0.2.7"])) && holds(&ip, Some(&["10.1.2.3"])));
    assert!(!holds(&ip, Some(&["192.0.2.8"])));
    let spec = parse_operator(Cloud::Huawei, "NumberEquals").unwrap();
    assert!(build(&spec, "NumberEquals", "g:Key", &["ten".into()]).is_err());
}

#[test]
fn string_operators() {
    let ic = huawei("StringEqualsIgnoreCase", &["Blue"]);
    assert!(holds(&ic, Some(&["bLUE"])) && !holds(&ic, Some(&["blu"])));
    let start = huawei("StringStartWith", &["nb-"]);
    assert!(holds(&start, Some(&["nb-1"])) && !holds(&start, Some(&["x-nb-1"])));
    let end = huawei("StringEndWith", &["-prod"]);
    assert!(holds(&end, Some(&["db-prod"])) && !holds(&end, Some(&["prod-db"])));
    let like = huawei("StringMatch", &["nb-*"]);
    assert!(holds(&like, Some(&["nb-x"])) && !holds(&like, Some(&["x"])));
}

#[test]
fn dialects_name_their_own_operators() {
    // Modifiers exist only in the Huawei dialect.
    for name in [
        "ForAnyValue:StringEquals",
        "ForAllValues:StringEquals",
        "StringEqualsIfExists",
        "Null",
    ] {
        assert!(parse_operator(Cloud::Aliyun, name).is_err(), "{name}");
    }
    assert!(parse_operator(Cloud::Huawei, "Sometimes:StringEquals").is_err());
    let spec = parse_operator(Cloud::Huawei, "ForAllValues:StringNotEqualsIfExists").unwrap();
    let c = build(&spec, "op", "g:Key", &["a".into()]).unwrap();
    assert_eq!(c.base, "StringNotEquals");
    assert!(c.negated && c.if_exists);
    assert_eq!(c.set, SetQualifier::ForAllValues);
    let ali = cond(Cloud::Aliyun, "NumericLessThan", "acs:Key", &["3"]);
    assert_eq!(ali.base, "NumericLessThan");
    assert!(!ali.negated && !ali.if_exists);
    assert_eq!(ali.set, SetQualifier::Plain);
    assert!(operator_names(Cloud::Aliyun).contains(&"DateEquals"));
    assert!(!operator_names(Cloud::Huawei).contains(&"DateEquals"));
}
