//! Unit tests of the action index: every statement whose action can match
//! is a candidate (literal, wildcard by service, wildcard service, and
//! `NotAction`), none other, and positions run across policies in order.
//! Written against the mutants cargo-mutants left alive (tests/MUTANTS.md).

use std::collections::BTreeSet;
use std::path::Path;

use super::*;
use crate::cloud::Cloud;
use crate::policy::document::parse_policy;

fn policy(name: &str, actions: &[&str]) -> Arc<Policy> {
    let statements: Vec<String> = actions
        .iter()
        .map(|a| match a.strip_prefix('!') {
            Some(not) => format!(r#"{{"Effect":"Allow","NotAction":"{not}"}}"#),
            None => format!(r#"{{"Effect":"Allow","Action":"{a}"}}"#),
        })
        .collect();
    let doc = format!(
        r#"{{"Version":"5.0","Statement":[{}]}}"#,
        statements.join(",")
    );
    Arc::new(parse_policy(Path::new("t.json"), name, Cloud::Huawei, &doc).unwrap())
}

fn candidates(set: &PolicySet, action: &str) -> BTreeSet<u32> {
    let mut out = BTreeSet::new();
    set.for_each_candidate(action, |p| {
        out.insert(p);
    });
    out
}

fn sample() -> PolicySet {
    PolicySet::new(vec![
        policy(
            "a",
            &[
                "modelarts:notebook:get", // 0 literal
                "modelarts:notebook:*",   // 1 prefix, service modelarts
                "*:get",                  // 2 wildcard service
                "obs:*",                  // 3 another service
                "!modelarts:pool:*",      // 4 NotAction
                "mod?larts:notebook:get", // 5 wildcard in the service
            ],
        ),
        policy("b", &["modelarts:notebook:*", "*"]), // 6 repeated pattern, 7 any
    ])
}

#[test]
fn every_statement_that_can_match_is_a_candidate_and_no_other() {
    let set = sample();
    let got = candidates(&set, "modelarts:notebook:get");
    assert_eq!(got, BTreeSet::from([0, 1, 2, 4, 5, 6, 7]));
    let got = candidates(&set, "modelarts:pool:get");
    assert_eq!(got, BTreeSet::from([2, 7]));
    let got = candidates(&set, "obs:bucket:put");
    assert_eq!(got, BTreeSet::from([3, 4, 7]));
}

#[test]
fn positions_name_policy_and_statement_in_order() {
    let set = sample();
    assert!(!set.is_empty());
    assert!(PolicySet::new(Vec::new()).is_empty());
    let names: Vec<&str> = set.policies().iter().map(|p| &*p.name).collect();
    assert_eq!(names, ["a", "b"]);
    let (p, st) = set.statement(7);
    assert_eq!((&*p.name, st.index), ("b", 1));
    assert_eq!(st.actions, ActionSet::Action(vec![Glob::Any]));
    let (p, st) = set.statement(4);
    assert_eq!((&*p.name, st.index), ("a", 4));
}

#[test]
fn wildcards_are_filed_under_their_literal_service() {
    let service = |p: &str| literal_service(&Glob::new(p)).map(str::to_string);
    assert_eq!(
        service("modelarts:notebook:*").as_deref(),
        Some("modelarts")
    );
    assert_eq!(service("modelarts:*:get").as_deref(), Some("modelarts"));
    assert_eq!(service("mod*:notebook:get"), None);
    assert_eq!(service("mod?:notebook:get"), None);
    assert_eq!(service("*"), None);
    assert_eq!(service("modelarts*"), None);
}

#[test]
fn every_literal_and_every_service_is_found_among_many() {
    // Enough distinct hashes that a wrong bound of the binary searches
    // (`<` → `<=`, `==`, `>`) misses some of them.
    let literals: Vec<String> = (0..40).map(|i| format!("svc{i}:thing:get")).collect();
    let wildcards: Vec<String> = (0..40).map(|i| format!("svc{i}:other:*")).collect();
    let all: Vec<&str> = literals
        .iter()
        .chain(&wildcards)
        .map(String::as_str)
        .collect();
    let set = PolicySet::new(vec![policy("many", &all)]);
    for i in 0..40u32 {
        assert_eq!(
            candidates(&set, &format!("svc{i}:thing:get")),
            BTreeSet::from([i]),
            "literal {i}"
        );
        assert_eq!(
            candidates(&set, &format!("svc{i}:other:list")),
            BTreeSet::from([40 + i]),
            "wildcard {i}"
        );
    }
    assert!(candidates(&set, "svc40:thing:get").is_empty());
}

#[test]
fn a_literal_is_compared_with_the_pattern_not_only_its_hash() {
    // Hashes only order the index; a colliding hash must not name a
    // statement whose literal action differs.
    let set = PolicySet::new(vec![policy("p", &["obs:bucket:get", "obs:*"])]);
    assert!(set.names_exactly(0, 0, "obs:bucket:get"));
    assert!(!set.names_exactly(0, 0, "obs:bucket:put"));
    assert!(!set.names_exactly(0, 1, "obs:bucket:get"));
    assert!(!set.names_exactly(1, 0, "obs:bucket:get"));
}

/// A policy of statements with the given resource parts (JSON), for the
/// resource memo.
fn resource_policy(resources: &[&str]) -> Arc<Policy> {
    let statements: Vec<String> = resources
        .iter()
        .map(|r| format!(r#"{{"Effect":"Allow","Action":["svc:thing:get"],{r}}}"#))
        .collect();
    let doc = format!(
        r#"{{"Version":"5.0","Statement":[{}]}}"#,
        statements.join(",")
    );
    Arc::new(parse_policy(Path::new("r.json"), "r", Cloud::Huawei, &doc).unwrap())
}

#[test]
fn a_pattern_shared_by_statements_is_one_memo_entry_and_negation_stays_per_statement() {
    let shared = [
        r#""Resource":["svc:*:*:thing:*"]"#,
        r#""NotResource":["svc:*:*:thing:*"]"#,
        r#""Resource":["svc:*:*:other:x","svc:*:*:thing:*"]"#,
        r#""NotResource":["svc:*:*:other:x"]"#,
    ];
    // Big enough for a memo: the four statements, then more repeating them.
    let mut policies = vec![resource_policy(&shared)];
    policies.extend((0..MEMO_FROM).map(|_| resource_policy(&shared[..1])));
    let set = PolicySet::new(policies);
    assert_eq!(set.distinct_resources, 2, "two distinct patterns");
    let small = PolicySet::new(vec![resource_policy(&shared)]);
    assert!(small.resource_memo().is_none(), "no memo for a small set");
    for resource in ["svc:r:1:thing:t1", "svc:r:1:other:x", "svc:r:1:none:n"] {
        // Several visiting orders, each with a memo of its own: the same
        // answer as the statement's own matching.
        for order in [[0u32, 1, 2, 3, 4], [4, 3, 2, 1, 0], [1, 3, 0, 2, 4]] {
            let mut memo = set.resource_memo().expect("a memo for a big set");
            for pos in order {
                let st = set.statement(pos).1;
                assert_eq!(
                    set.matches_resource(pos, st, resource, &mut memo),
                    st.matches_resource(resource),
                    "{resource} at {pos} in {order:?}"
                );
            }
        }
    }
}
