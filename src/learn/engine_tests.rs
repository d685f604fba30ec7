#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use super::*;
use crate::learn::log::read_log;

fn line(principal: &str, decision: &str, actions: &[(&str, &str)]) -> String {
    let actions: Vec<Value> = actions
        .iter()
        .map(|(a, r)| json!({"action": a, "resource": r, "decision": decision, "reason": null, "context": {}}))
        .collect();
    json!({"schema": 1, "principal": principal, "decision": decision, "actions": actions})
        .to_string()
}

fn lines(text: &[String]) -> Vec<LogLine> {
    read_log(text.join("\n").as_bytes()).unwrap().lines
}

#[test]
fn one_policy_per_user_with_ids_and_collection_wildcards() {
    let nb = "modelarts:cn-north-4:acme0001:notebook:";
    let log = lines(&[
        line(
            "iam::acme0001:user:alice",
            "allow",
            &[("modelarts:notebook:list", &format!("{nb}*"))],
        ),
        line(
            "iam::acme0001:user:alice",
            "audit_deny",
            &[("modelarts:notebook:get", &format!("{nb}nb1"))],
        ),
        line(
            "iam::acme0001:user:alice",
            "allow",
            &[("modelarts:notebook:delete", &format!("{nb}nb1"))],
        ),
        line(
            "iam::acme0001:root",
            "allow",
            &[("modelarts:pool:delete", "x")],
        ),
        line(
            "acs:ram::123:user/runner",
            "allow",
            &[("agentrun:GetTemplate", "*")],
        ),
        // Refusals before a decision teach nothing.
        json!({"schema": 1, "principal": null, "decision": "unauthenticated", "actions": []})
            .to_string(),
    ]);
    let learned = learn(&log);
    assert_eq!(learned.roots, ["iam::acme0001:root"]);
    assert_eq!(learned.policies.len(), 2);
    let alice = &learned.policies[1];
    assert_eq!(alice.name, "learned-acme0001-alice");
    assert_eq!((alice.requests, alice.denied), (3, 1));
    assert_eq!(
        alice.document,
        json!({"Version": "5.0", "Statement": [
            {"Sid": "Learned0", "Effect": "Allow",
             "Action": ["modelarts:notebook:delete", "modelarts:notebook:get"],
             "Resource": [format!("{nb}nb1")]},
            {"Sid": "Learned1", "Effect": "Allow",
             "Action": ["modelarts:notebook:list"], "Resource": [format!("{nb}*")]},
        ]})
    );
    let runner = &learned.policies[0];
    assert_eq!(runner.document["Version"], "1");
    assert_eq!(runner.document["Statement"][0]["Resource"], json!(["*"]));
}

#[test]
fn an_id_under_a_wildcard_of_the_same_action_is_dropped() {
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        without_covered(set(&["s:r:a:nb:*", "s:r:a:nb:x", "s:r:a:pool:y"])),
        set(&["s:r:a:nb:*", "s:r:a:pool:y"])
    );
    assert_eq!(without_covered(set(&["*", "s:r:a:nb:x"])), set(&["*"]));
    assert_eq!(without_covered(set(&["a:x", "a:y"])), set(&["a:x", "a:y"]));
}

#[test]
fn names_keep_only_safe_characters() {
    assert_eq!(policy_name("123", "ci.bot@x"), "learned-123-ci_bot_x");
}
