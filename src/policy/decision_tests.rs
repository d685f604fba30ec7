//! Unit tests of the decision types: how a statement is named, the labels
//! logs and metrics use, and what a `Permit` carries. Written against the
//! mutants cargo-mutants left alive (tests/MUTANTS.md).

use super::*;

fn stmt(source: PolicySource, sid: Option<&str>) -> StatementRef {
    StatementRef {
        source,
        policy: "p".into(),
        index: 2,
        sid: sid.map(Arc::from),
    }
}

fn org(level: usize) -> PolicySource {
    PolicySource::Org {
        level,
        node: "ou-x".into(),
    }
}

fn decision(kind: DecisionKind, reason: Reason) -> Decision {
    Decision { kind, reason }
}

#[test]
fn a_statement_is_named_by_policy_index_sid_and_level() {
    assert_eq!(stmt(PolicySource::Identity, None).to_string(), "p#2");
    assert_eq!(
        stmt(PolicySource::Identity, Some("S1")).to_string(),
        "p#2 (S1)"
    );
    assert_eq!(
        stmt(org(1), Some("S1")).to_string(),
        "p#2 (S1) at organisation level 1 (ou-x)"
    );
}

#[test]
fn kinds_have_stable_names() {
    assert_eq!(DecisionKind::Allow.as_str(), "allow");
    assert_eq!(DecisionKind::ExplicitDeny.as_str(), "explicit_deny");
    assert_eq!(DecisionKind::ImplicitDeny.as_str(), "implicit_deny");
}

#[test]
fn only_allow_is_allowed() {
    assert!(decision(DecisionKind::Allow, Reason::RootUser).is_allowed());
    let deny = decision(DecisionKind::ExplicitDeny, Reason::NoIdentityAllow);
    assert!(!deny.is_allowed());
    let implicit = decision(DecisionKind::ImplicitDeny, Reason::NoIdentityAllow);
    assert!(!implicit.is_allowed());
}

#[test]
fn who_decided_is_org_identity_or_root() {
    let no_org_allow = Reason::NoOrgAllow {
        level: 0,
        node: "r-root".into(),
    };
    let cases = [
        (Reason::RootUser, false, "root"),
        (no_org_allow, true, "org"),
        (Reason::Statement(stmt(org(0), None)), true, "org"),
        (
            Reason::Statement(stmt(PolicySource::Identity, None)),
            false,
            "identity",
        ),
        (Reason::NoIdentityAllow, false, "identity"),
    ];
    for (reason, by_org, label) in cases {
        let d = decision(DecisionKind::ImplicitDeny, reason.clone());
        assert_eq!(d.decided_by_org(), by_org, "{reason:?}");
        assert_eq!(d.decided_by_label(), label, "{reason:?}");
        assert_eq!(d.reasons(), vec![&reason]);
    }
}

#[test]
fn a_permit_carries_its_grants_or_says_it_was_configured() {
    let grant = Grant {
        action: "modelarts:notebook:get".into(),
        resource: "modelarts:r:a:notebook:nb1".into(),
        decision: decision(DecisionKind::Allow, Reason::RootUser),
    };
    let permit = Permit::new(vec![grant.clone()]);
    assert_eq!(permit.grants(), &[grant][..]);
    assert!(!permit.is_unmapped_forward());
    let forward = Permit::for_unmapped_operation_by_configuration();
    assert!(forward.grants().is_empty());
    assert!(forward.is_unmapped_forward());
}
