//! Condition operators: parsing an operator name and its values for a
//! dialect, and testing a compiled condition against a request context.
//!
//! Combination rules: several values of one key OR for positive operators and
//! NOR for negated ones; a request value that cannot be parsed (a number
//! operator on `"abc"`) makes a positive test false and a negated one true.

use std::net::IpAddr;

use ipnet::IpNet;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

use crate::cloud::Cloud;
use crate::policy::context::{normalize_key, Context};
use crate::policy::glob::Glob;

/// How several request values of a multi-valued key are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetQualifier {
    /// No prefix: a multi-valued key matches when any of its values does
    /// (negated: when none does).
    Plain,
    ForAnyValue,
    ForAllValues,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds<T: PartialOrd>(self, request: T, policy: T) -> bool {
        match self {
            Cmp::Eq => request == policy,
            Cmp::Lt => request < policy,
            Cmp::Le => request <= policy,
            Cmp::Gt => request > policy,
            Cmp::Ge => request >= policy,
        }
    }
}

/// The test an operator applies, with the policy's values already parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    StringEquals(Vec<String>),
    /// Values lower-cased at compile time.
    StringEqualsIgnoreCase(Vec<String>),
    StringMatch(Vec<Glob>),
    StartWith(Vec<String>),
    EndWith(Vec<String>),
    Number(Cmp, Vec<f64>),
    /// Unix time in nanoseconds.
    Date(Cmp, Vec<i128>),
    Bool(Vec<bool>),
    /// `true`: the key must be absent.
    Null(bool),
    Ip(Vec<IpNet>),
}

/// One compiled `"Operator": {"key": values}` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The operator as written (`ForAnyValue:StringEqualsIfExists`).
    pub operator: String,
    /// The operator's base name without prefix or suffix (`StringEquals`).
    pub base: &'static str,
    /// The key as written.
    pub key: String,
    /// The key normalised for context lookup.
    pub lookup: String,
    pub test: Test,
    pub negated: bool,
    pub if_exists: bool,
    pub set: SetQualifier,
}

/// (name, negated, constructor kind) for each base operator of a dialect.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    StrIc,
    Match,
    Start,
    End,
    Num(Cmp),
    Date(Cmp),
    Bool,
    Null,
    Ip,
}

const HUAWEI_OPERATORS: &[(&str, bool, Kind)] = &[
    ("StringEquals", false, Kind::Str),
    ("StringNotEquals", true, Kind::Str),
    ("StringEqualsIgnoreCase", false, Kind::StrIc),
    ("StringNotEqualsIgnoreCase", true, Kind::StrIc),
    ("StringMatch", false, Kind::Match),
    ("StringNotMatch", true, Kind::Match),
    ("StringLike", false, Kind::Match),
    ("StringNotLike", true, Kind::Match),
    ("StringStartWith", false, Kind::Start),
    ("StringEndWith", false, Kind::End),
    ("NumberEquals", false, Kind::Num(Cmp::Eq)),
    ("NumberNotEquals", true, Kind::Num(Cmp::Eq)),
    ("NumberLessThan", false, Kind::Num(Cmp::Lt)),
    ("NumberLessThanEquals", false, Kind::Num(Cmp::Le)),
    ("NumberGreaterThan", false, Kind::Num(Cmp::Gt)),
    ("NumberGreaterThanEquals", false, Kind::Num(Cmp::Ge)),
    ("DateLessThan", false, Kind::Date(Cmp::Lt)),
    ("DateLessThanEquals", false, Kind::Date(Cmp::Le)),
    ("DateGreaterThan", false, Kind::Date(Cmp::Gt)),
    ("DateGreaterThanEquals", false, Kind::Date(Cmp::Ge)),
    ("Bool", false, Kind::Bool),
    ("Null", false, Kind::Null),
    ("IpAddress", false, Kind::Ip),
    ("NotIpAddress", true, Kind::Ip),
];

const ALIYUN_OPERATORS: &[(&str, bool, Kind)] = &[
    ("StringEquals", false, Kind::Str),
    ("StringNotEquals", true, Kind::Str),
    ("StringEqualsIgnoreCase", false, Kind::StrIc),
    ("StringNotEqualsIgnoreCase", true, Kind::StrIc),
    ("StringLike", false, Kind::Match),
    ("StringNotLike", true, Kind::Match),
    ("NumericEquals", false, Kind::Num(Cmp::Eq)),
    ("NumericNotEquals", true, Kind::Num(Cmp::Eq)),
    ("NumericLessThan", false, Kind::Num(Cmp::Lt)),
    ("NumericLessThanEquals", false, Kind::Num(Cmp::Le)),
    ("NumericGreaterThan", false, Kind::Num(Cmp::Gt)),
    ("NumericGreaterThanEquals", false, Kind::Num(Cmp::Ge)),
    ("DateEquals", false, Kind::Date(Cmp::Eq)),
    ("DateNotEquals", true, Kind::Date(Cmp::Eq)),
    ("DateLessThan", false, Kind::Date(Cmp::Lt)),
    ("DateLessThanEquals", false, Kind::Date(Cmp::Le)),
    ("DateGreaterThan", false, Kind::Date(Cmp::Gt)),
    ("DateGreaterThanEquals", false, Kind::Date(Cmp::Ge)),
    ("Bool", false, Kind::Bool),
    ("IpAddress", false, Kind::Ip),
    ("NotIpAddress", true, Kind::Ip),
];

/// Every base operator name a dialect accepts (the corpus harness checks
/// that each is exercised).
pub fn operator_names(cloud: Cloud) -> Vec<&'static str> {
    table(cloud).iter().map(|(n, _, _)| *n).collect()
}

fn table(cloud: Cloud) -> &'static [(&'static str, bool, Kind)] {
    match cloud {
        Cloud::Huawei => HUAWEI_OPERATORS,
        Cloud::Aliyun => ALIYUN_OPERATORS,
    }
}

/// A parsed operator name: base entry plus modifiers.
pub struct OperatorSpec {
    base: &'static str,
    negated: bool,
    kind: Kind,
    if_exists: bool,
    set: SetQualifier,
}

/// Parse `ForAnyValue:StringEqualsIfExists` and the like. Modifiers exist
/// only in the Huawei dialect; `IfExists` never applies to `Null`.
pub fn parse_operator(cloud: Cloud, name: &str) -> Result<OperatorSpec, String> {
    let huawei = cloud == Cloud::Huawei;
    let (set, rest) = match name.split_once(':') {
        Some(("ForAnyValue", rest)) if huawei => (SetQualifier::ForAnyValue, rest),
        Some(("ForAllValues", rest)) if huawei => (SetQualifier::ForAllValues, rest),
        Some(_) => return Err(format!("unknown operator `{name}` in {cloud} policies")),
        None => (SetQualifier::Plain, name),
    };
    let (if_exists, base_name) = match rest.strip_suffix("IfExists") {
        Some(base) if huawei && base != "Null" => (true, base),
        _ => (false, rest),
    };
    table(cloud)
        .iter()
        .find(|(n, _, _)| *n == base_name)
        .map(|&(base, negated, kind)| OperatorSpec {
            base,
            negated,
            kind,
            if_exists,
            set,
        })
        .ok_or_else(|| format!("unknown operator `{name}` in {cloud} policies"))
}

/// Build a condition from its operator, key and the policy's values (already
/// reduced to strings; JSON numbers and booleans arrive as their text).
pub fn build(
    spec: &OperatorSpec,
    operator: &str,
    key: &str,
    values: &[String],
) -> Result<Condition, String> {
    let test = match spec.kind {
        Kind::Str => Test::StringEquals(values.to_vec()),
        Kind::StrIc => {
            Test::StringEqualsIgnoreCase(values.iter().map(|v| v.to_lowercase()).collect())
        }
        Kind::Match => Test::StringMatch(values.iter().map(|v| Glob::new(v)).collect()),
        Kind::Start => Test::StartWith(values.to_vec()),
        Kind::End => Test::EndWith(values.to_vec()),
        Kind::Num(c) => Test::Number(c, parse_all(values, parse_number, "a number")?),
        Kind::Date(c) => Test::Date(c, parse_all(values, parse_date, "an ISO 8601 date")?),
        Kind::Bool => Test::Bool(parse_all(values, parse_bool, "true or false")?),
        Kind::Null => match parse_all(values, parse_bool, "true or false")?.as_slice() {
            [one] => Test::Null(*one),
            _ => return Err("Null takes exactly one value".into()),
        },
        Kind::Ip => Test::Ip(parse_all(values, parse_net, "an IP address or CIDR")?),
    };
    Ok(Condition {
        operator: operator.to_string(),
        base: spec.base,
        key: key.to_string(),
        lookup: normalize_key(key),
        test,
        negated: spec.negated,
        if_exists: spec.if_exists,
        set: spec.set,
    })
}

fn parse_all<T>(
    values: &[String],
    parse: fn(&str) -> Option<T>,
    what: &str,
) -> Result<Vec<T>, String> {
    let mut parsed = Vec::with_capacity(values.len());
    for v in values {
        parsed.push(parse(v).ok_or_else(|| format!("`{v}` is not {what}"))?);
    }
    Ok(parsed)
}

pub fn parse_number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

pub fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// RFC 3339 (`2026-01-01T00:00:00Z`, offsets, fractions) or a plain date.
pub fn parse_date(s: &str) -> Option<i128> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.unix_timestamp_nanos());
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s, format)
        .ok()
        .map(|d| d.midnight().assume_utc().unix_timestamp_nanos())
}

fn parse_net(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

impl Test {
    /// Does one request value equal/match any policy value? `None` when the
    /// request value cannot be parsed for this operator.
    fn any_value_matches(&self, v: &str) -> Option<bool> {
        Some(match self {
            Test::StringEquals(p) => p.iter().any(|x| x == v),
            Test::StringEqualsIgnoreCase(p) => {
                let v = v.to_lowercase();
                p.contains(&v)
            }
            Test::StringMatch(p) => p.iter().any(|g| g.matches(v)),
            Test::StartWith(p) => p.iter().any(|x| v.starts_with(x.as_str())),
            Test::EndWith(p) => p.iter().any(|x| v.ends_with(x.as_str())),
            Test::Number(c, p) => {
                let n = parse_number(v)?;
                p.iter().any(|x| c.holds(n, *x))
            }
            Test::Date(c, p) => {
                let d = parse_date(v)?;
                p.iter().any(|x| c.holds(d, *x))
            }
            Test::Bool(p) => {
                let b = parse_bool(v)?;
                p.contains(&b)
            }
            Test::Ip(p) => {
                let ip: IpAddr = v.parse().ok()?;
                p.iter().any(|n| n.contains(&ip))
            }
            Test::Null(_) => return None,
        })
    }
}

impl Condition {
    /// The outcome for one request value, negation applied.
    fn value_holds(&self, v: &str) -> bool {
        let matched = self.test.any_value_matches(v) == Some(true);
        matched != self.negated
    }

    /// Does this condition hold for the request?
    pub fn holds(&self, ctx: &Context) -> bool {
        let values = ctx.get(&self.lookup).filter(|v| !v.is_empty());
        if let Test::Null(want_absent) = self.test {
            return values.is_none() == want_absent;
        }
        let Some(values) = values else {
            return self.if_exists
                || match self.set {
                    SetQualifier::ForAllValues => true,
                    SetQualifier::ForAnyValue => false,
                    SetQualifier::Plain => self.negated,
                };
        };
        match (self.set, self.negated) {
            (SetQualifier::ForAllValues, _) | (SetQualifier::Plain, true) => {
                values.iter().all(|v| self.value_holds(v))
            }
            (SetQualifier::ForAnyValue, _) | (SetQualifier::Plain, false) => {
                values.iter().any(|v| self.value_holds(v))
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "condition_tests.rs"]
mod tests;
