//! Huawei agencies (`[[account.agency]]` in accounts.toml): an identity of
//! an account that another account, or a cloud service, may assume. An
//! agency carries identity policies and a maximum session duration; its
//! sessions are evaluated with those policies and the SCPs above the
//! agency's own account (never the assuming caller's). Agency names are
//! compared ignoring case, as IAM does.

use std::sync::Arc;

use crate::cloud::Cloud;
use crate::directory::build::{Builder, IdentityAt, Listed};
use crate::directory::files::{AccountEntry, AgencyEntry};
use crate::directory::{Principal, User};
use crate::policy::{OrgLevel, Subject};

/// Default maximum session duration of an agency (IAM's default).
pub const DEFAULT_SESSION_SECONDS: u32 = 3600;
/// The longest session IAM grants.
pub const MAX_SESSION_SECONDS: u32 = 43200;

/// Who may assume an agency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgencyTrust {
    /// Users of this account (domain id), with `sts:agencies:assume` allowed.
    Account(String),
    /// A cloud service (`op_svc_modelarts`): no user of any account.
    Service(String),
}

/// A compiled agency.
#[derive(Debug)]
pub struct Agency {
    pub name: String,
    pub account_id: Arc<str>,
    pub account_name: Arc<str>,
    pub trust: AgencyTrust,
    /// Longest session an assume may ask for, in seconds.
    pub max_session_seconds: u32,
    /// `iam::<account>:agency:<name>`: the resource of `sts:agencies:assume`.
    pub urn: String,
    pub org_path: Option<String>,
    /// The agency's policies bounded by the SCPs above its account.
    pub subject: Arc<Subject>,
}

impl Agency {
    /// The principal of one session of this agency:
    /// `sts::<account>:assumed-agency:<agency>/<session>`.
    pub fn session_principal(&self, session: &str) -> Principal {
        Principal {
            cloud: Cloud::Huawei,
            account_id: self.account_id.clone(),
            account_name: self.account_name.clone(),
            user: Some(User {
                name: format!("{}/{session}", self.name),
                id: format!("{}:{session}", self.name),
                tags: Default::default(),
            }),
            urn: format!(
                "sts::{}:assumed-agency:{}/{session}",
                self.account_id, self.name
            ),
            org_path: self.org_path.clone(),
            subject: self.subject.clone(),
        }
    }
}

impl Principal {
    /// A session of a Huawei agency (URN `sts::…:assumed-agency:…`), not a
    /// user: `g:PrincipalType` is `AssumedAgency` and no user keys apply.
    pub fn is_agency_session(&self) -> bool {
        self.cloud == Cloud::Huawei && self.urn.starts_with("sts::")
    }
}

/// Directory key of an agency: account id and the lower-cased name.
pub fn agency_key(account: &str, name: &str) -> (String, String) {
    (account.to_string(), name.to_lowercase())
}

impl Builder<'_> {
    /// Compile the agencies of one account (called once the account's org
    /// levels are known).
    pub(super) fn agencies(
        &mut self,
        acc: &AccountEntry,
        at: &str,
        org: &Arc<[OrgLevel]>,
        org_path: Option<&str>,
    ) {
        for (k, a) in acc.agencies.iter().enumerate() {
            let who = IdentityAt::new(at, "agency", k);
            let aat = who.to_string();
            if acc.cloud != Cloud::Huawei {
                self.error(
                    "accounts.toml",
                    aat,
                    "agencies exist only in huawei accounts",
                );
                continue;
            }
            let Some(trust) = self.agency_trust(a, &aat) else {
                continue;
            };
            let max = a.duration.unwrap_or(DEFAULT_SESSION_SECONDS);
            if max == 0 || max > MAX_SESSION_SECONDS {
                let msg = format!("duration must be 1…{MAX_SESSION_SECONDS} seconds, not {max}");
                self.error("accounts.toml", format!("{aat}/duration"), msg);
                continue;
            }
            let listed: Vec<_> = Listed::named(&a.policies, who).collect();
            let identity = self.identity_set(acc.cloud, &listed);
            let agency = Agency {
                name: a.name.clone(),
                account_id: acc.id.as_str().into(),
                account_name: acc.name.as_str().into(),
                trust,
                max_session_seconds: max,
                urn: format!("iam::{}:agency:{}", acc.id, a.name),
                org_path: org_path.map(str::to_string),
                subject: Arc::new(Subject {
                    cloud: acc.cloud,
                    root: false,
                    identity,
                    org: org.clone(),
                    session: None,
                }),
            };
            let key = agency_key(&acc.id, &a.name);
            if self.dir.agencies.insert(key, Arc::new(agency)).is_some() {
                let msg = format!("duplicate agency `{}` (names ignore case)", a.name);
                self.error("accounts.toml", format!("{aat}/name"), msg);
            }
        }
    }

    /// Agencies no caller can use: delegated to an account that is not in
    /// accounts.toml (or is not a Huawei account), or with sessions shorter
    /// than IAM's 900 s minimum (fine for tests, never real).
    pub(super) fn agency_warnings(&mut self, accounts: &[AccountEntry]) {
        for (i, acc) in accounts.iter().enumerate() {
            for (k, a) in acc.agencies.iter().enumerate() {
                let at = format!("/account/{i}/agency/{k}");
                if let Some(trusted) = &a.delegated_account {
                    let known = accounts
                        .iter()
                        .any(|x| x.id == *trusted && x.cloud == Cloud::Huawei);
                    if !known {
                        let msg = format!("agency `{}` is delegated to `{trusted}`, which is no huawei account of accounts.toml: no one can assume it", a.name);
                        self.warning(&format!("{at}/delegated_account"), msg);
                    }
                }
                if a.duration.is_some_and(|d| d < 900) {
                    let msg = format!("agency `{}`: sessions shorter than IAM's minimum of 900 s (for tests only)", a.name);
                    self.warning(&format!("{at}/duration"), msg);
                }
            }
        }
    }

    fn warning(&mut self, pointer: &str, message: String) {
        let file = self.file("accounts.toml");
        let d = crate::diag::Diagnostic::warning(
            &file,
            crate::diag::Place::Pointer(pointer.into()),
            message,
        );
        self.diags.push(d);
    }

    /// Exactly one of `delegated_account` / `delegated_service`.
    fn agency_trust(&mut self, a: &AgencyEntry, aat: &str) -> Option<AgencyTrust> {
        match (&a.delegated_account, &a.delegated_service) {
            (Some(acc), None) => Some(AgencyTrust::Account(acc.clone())),
            (None, Some(svc)) => Some(AgencyTrust::Service(svc.clone())),
            _ => {
                let msg = "an agency needs exactly one of delegated_account, delegated_service";
                self.error("accounts.toml", aat.to_string(), msg);
                None
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::directory::load;

    fn write_tree(accounts: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("huawei/identity")).unwrap();
        std::fs::write(
            dir.path().join("huawei/identity/Read.json"),
            r#"{"Version":"5.0","Statement":[{"Effect":"Allow","Action":["modelarts:notebook:list"]}]}"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("accounts.toml"), accounts).unwrap();
        dir
    }

    const BASE: &str = r#"
[[account]]
id = "a1"
name = "one"
cloud = "huawei"
"#;

    #[test]
    fn an_agency_compiles_with_its_policies_and_session_urn() {
        let text = format!(
            "{BASE}[[account.agency]]\nname = \"Reader\"\ndelegated_account = \"a2\"\npolicies = [\"Read\"]\nduration = 900\n"
        );
        let dir = write_tree(&text);
        let (d, _) = load(dir.path(), &mut Vec::new()).unwrap();
        let a = d.agency("a1", "reader").expect("found ignoring case");
        assert_eq!(a.trust, AgencyTrust::Account("a2".into()));
        assert_eq!(a.max_session_seconds, 900);
        assert_eq!(a.urn, "iam::a1:agency:Reader");
        let p = a.session_principal("s1");
        assert_eq!(p.urn, "sts::a1:assumed-agency:Reader/s1");
        assert!(!p.is_root());
        assert!(p.is_agency_session());
        assert!(!d.principal("a1", None).unwrap().is_agency_session());
        assert_eq!(p.subject.identity.policies().len(), 1);
    }

    #[test]
    fn unusable_agencies_are_warnings() {
        let text = format!(
            "{BASE}[[account.agency]]\nname = \"Lost\"\ndelegated_account = \"nobody\"\n\
             [[account.agency]]\nname = \"Short\"\ndelegated_account = \"a1\"\nduration = 2\n"
        );
        let dir = write_tree(&text);
        let (_, warnings) = load(dir.path(), &mut Vec::new()).unwrap();
        let all: Vec<String> = warnings.iter().map(|d| d.to_string()).collect();
        let all = all.join("\n");
        assert!(
            all.contains("/account/0/agency/0/delegated_account")
                && all.contains("no one can assume it"),
            "{all}"
        );
        assert!(
            all.contains("/account/0/agency/1/duration") && all.contains("900 s"),
            "{all}"
        );
        assert_eq!(warnings.len(), 2, "{all}");
    }

    #[test]
    fn bad_agencies_are_load_errors_with_their_place() {
        let text = format!(
            "{BASE}[[account.agency]]\nname = \"Both\"\ndelegated_account = \"a2\"\ndelegated_service = \"op_svc_x\"\n\
             [[account.agency]]\nname = \"Long\"\ndelegated_account = \"a2\"\nduration = 99999\n\
             [[account.agency]]\nname = \"Unknown\"\ndelegated_account = \"a2\"\npolicies = [\"Nope\"]\n\
             [[account.agency]]\nname = \"unknown\"\ndelegated_account = \"a2\"\n"
        );
        let dir = write_tree(&text);
        let errors = load(dir.path(), &mut Vec::new()).unwrap_err();
        let text: Vec<String> = errors.iter().map(|d| d.to_string()).collect();
        let all = text.join("\n");
        assert!(
            all.contains("/account/0/agency/0") && all.contains("exactly one"),
            "{all}"
        );
        assert!(all.contains("/account/0/agency/1/duration"), "{all}");
        assert!(all.contains("/account/0/agency/2/policies/0"), "{all}");
        assert!(all.contains("duplicate agency `unknown`"), "{all}");
    }
}
