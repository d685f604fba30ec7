//! Inline identity policies on users and groups, through the whole
//! directory load.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use crate::diag::Diagnostic;
use crate::directory::{load, Directory};
use crate::policy::{evaluate, Context, Reason};

fn load_accounts(accounts: &str) -> Result<Directory, Vec<Diagnostic>> {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("accounts.toml"), accounts).unwrap();
    load(tmp.path(), &mut Vec::new()).map(|(d, _)| d)
}

/// The name of the policy that allows `action` to `user` of `account`, if any.
fn allowed_by(d: &Directory, account: &str, user: &str, action: &str) -> Option<String> {
    let p = d.principal(account, Some(user)).unwrap();
    let decision = evaluate(&p.subject, action, "*", &Context::new());
    match (decision.is_allowed(), decision.reason) {
        (true, Reason::Statement(s)) => Some(s.policy.to_string()),
        _ => None,
    }
}

const TWO_ACCOUNTS: &str = r#"
[[account]]
id = "a1"
name = "one"
cloud = "huawei"

[[account.group]]
name = "readers"
policy = '''
{"Version": "5.0", "Statement": [{"Effect": "Allow", "Action": ["modelarts:notebook:get"]}]}
'''

[[account.user]]
name = "u"
groups = ["readers"]
policy = { Version = "5.0", Statement = [{ Effect = "Allow", Action = ["modelarts:notebook:list"] }] }
inline_policies = [
  { Version = "5.0", Statement = [{ Effect = "Deny", Action = ["modelarts:notebook:delete"] }] },
]

[[account]]
id = "a2"
name = "two"
cloud = "aliyun"

[[account.user]]
name = "u"
policy = '''{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "agentrun:GetTemplate", "Resource": "*"}]}'''
"#;

#[test]
fn toml_and_json_inline_policies_apply_to_users_and_their_groups() {
    let d = load_accounts(TWO_ACCOUNTS).unwrap();
    assert_eq!(
        allowed_by(&d, "a1", "u", "modelarts:notebook:list").as_deref(),
        Some("inline/a1/user/u/0")
    );
    assert_eq!(
        allowed_by(&d, "a1", "u", "modelarts:notebook:get").as_deref(),
        Some("inline/a1/group/readers/0")
    );
    assert_eq!(allowed_by(&d, "a1", "u", "modelarts:notebook:delete"), None);
    // The same user name in another account has its own inline policy.
    assert_eq!(allowed_by(&d, "a2", "u", "modelarts:notebook:list"), None);
    assert_eq!(
        allowed_by(&d, "a2", "u", "agentrun:GetTemplate").as_deref(),
        Some("inline/a2/user/u/0")
    );
}

#[test]
fn an_inline_deny_is_an_explicit_deny_named_after_its_field() {
    let d = load_accounts(TWO_ACCOUNTS).unwrap();
    let p = d.principal("a1", Some("u")).unwrap();
    let decision = evaluate(
        &p.subject,
        "modelarts:notebook:delete",
        "*",
        &Context::new(),
    );
    let Reason::Statement(s) = decision.reason else {
        panic!("{decision:?}")
    };
    assert_eq!(&*s.policy, "inline/a1/user/u/1");
}

fn errors(accounts: &str) -> Vec<String> {
    load_accounts(accounts)
        .map(|_| ())
        .unwrap_err()
        .iter()
        .map(|d| format!("{} {}", d.location().rsplit('#').next().unwrap(), d.message))
        .collect()
}

#[test]
fn inline_errors_are_placed_at_their_field_and_all_reported() {
    let text = r#"
[[account]]
id = "a1"
name = "one"
cloud = "huawei"

[[account.group]]
name = "g"
inline_policies = ['''{"Version": "5.0", "Version": "5.0", "Statement": []}''']

[[account.user]]
name = "u"
policy = { Version = "5.0", Statement = [{ Effect = "Maybe", Action = ["modelarts:notebook:get"] }] }
"#;
    let errs = errors(text);
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(
        errs.iter().any(
            |e| e.starts_with("/account/0/group/0/inline_policies/0 inline policy: ")
                && e.contains("Version")
                && e.contains("of the inline JSON)")
        ),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.starts_with("/account/0/user/0/policy/Statement/0/Effect inline policy: ")),
        "{errs:?}"
    );
}

#[test]
fn an_inline_policy_in_the_wrong_dialect_is_an_error() {
    let text = r#"
[[account]]
id = "a1"
name = "one"
cloud = "aliyun"

[[account.user]]
name = "u"
policy = { Version = "5.0", Statement = [] }
"#;
    let errs = errors(text);
    assert!(
        errs.iter().any(|e| e
            .starts_with("/account/0/user/0/policy/Version inline policy: Version must be \"1\"")),
        "{errs:?}"
    );
}

#[test]
fn a_policy_that_is_neither_string_nor_table_is_a_toml_error() {
    let text = "[[account]]\nid = \"a\"\nname = \"a\"\ncloud = \"huawei\"\n[[account.user]]\nname = \"u\"\npolicy = 3\n";
    let errs = errors(text);
    assert_eq!(errs.len(), 1, "{errs:?}");
}

#[test]
fn the_sample_tree_still_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    assert!(load(&dir, &mut Vec::new()).is_ok());
}

/// Load `accounts` next to one Huawei identity policy file `P.json` and
/// one Alibaba identity policy `Q.json`; the error messages.
fn messages_with_policy_files(accounts: &str) -> Vec<String> {
    let tmp = tempfile::tempdir().unwrap();
    let body = |v: &str| {
        format!(
            r#"{{"Version": "{v}", "Statement": [{{"Effect": "Allow", "Action": ["x:y:z"], "Resource": ["*"]}}]}}"#
        )
    };
    for (folder, file, version) in [
        ("huawei/identity", "P.json", "5.0"),
        ("aliyun/identity", "Q.json", "1"),
    ] {
        std::fs::create_dir_all(tmp.path().join(folder)).unwrap();
        std::fs::write(tmp.path().join(folder).join(file), body(version)).unwrap();
    }
    std::fs::write(tmp.path().join("accounts.toml"), accounts).unwrap();
    load(tmp.path(), &mut Vec::new())
        .map(|_| ())
        .unwrap_err()
        .iter()
        .map(|d| d.message.clone())
        .collect()
}

#[test]
fn an_identity_policy_on_an_account_node_says_where_identity_policies_go() {
    let in_org = "[[organization]]\ncloud = \"huawei\"\nid = \"o\"\nroot = \"r\"\n[[account]]\nid = \"a\"\nname = \"a\"\ncloud = \"huawei\"\nparent = \"r\"\npolicies = [\"P\"]\n";
    let errs = messages_with_policy_files(in_org);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains("is not an organisation (SCP/control) policy"),
        "{errs:?}"
    );
    assert!(
        errs[0].contains("attach identity policies to users or groups"),
        "{errs:?}"
    );
    let no_org = messages_with_policy_files(
        "[[account]]\nid = \"a\"\nname = \"a\"\ncloud = \"huawei\"\npolicies = [\"P\"]\n",
    );
    assert_eq!(no_org.len(), 1, "{no_org:?}");
    assert!(
        no_org[0].contains("attach identity policies to users or groups"),
        "{no_org:?}"
    );
}

#[test]
fn a_policy_of_the_other_cloud_is_named_as_such() {
    let errs = messages_with_policy_files(
        "[[account]]\nid = \"a\"\nname = \"a\"\ncloud = \"huawei\"\n[[account.user]]\nname = \"u\"\npolicies = [\"Q\"]\n",
    );
    assert_eq!(
        errs,
        ["unknown huawei identity policy `Q`; `Q` is a policy of the aliyun cloud and cannot be attached in a huawei account"]
    );
}
