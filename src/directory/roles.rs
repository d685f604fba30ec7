//! Alibaba RAM roles from `accounts.toml`: each role compiled once per
//! snapshot into its ARN, its trust policy and the `Subject` its sessions
//! are evaluated with (the role's policies, bounded by the control policies
//! above the role's account). Role names compare ignoring case, as RAM does.

use std::collections::HashSet;
use std::sync::Arc;

use crate::cloud::Cloud;
use crate::diag::{Diagnostic, Place};
use crate::directory::build::{Builder, IdentityAt, Listed};
use crate::directory::files::{AccountEntry, RoleEntry};
use crate::directory::trust::{parse_trust_policy, TrustPolicy, Trusted};
use crate::directory::Directory;
use crate::identity::sha256_hex;
use crate::policy::{OrgLevel, Subject};

/// RAM's bounds on a role's maximum session duration, in seconds.
pub const MAX_SESSION_RANGE: std::ops::RangeInclusive<u32> = 3600..=43200;
/// A role's maximum session duration when the file names none.
pub const DEFAULT_MAX_SESSION: u32 = 3600;

/// A RAM role, compiled.
#[derive(Debug)]
pub struct Role {
    /// As written in the file.
    pub name: String,
    /// `acs:ram::<account>:role/<name>`, the name lower-cased as RAM prints it.
    pub arn: String,
    /// The role id, the first half of `AssumedRoleId`.
    pub id: String,
    pub account_id: Arc<str>,
    pub account_name: Arc<str>,
    pub trust: TrustPolicy,
    /// Policy names attached to the role (for `explain` and `check`).
    pub policies: Vec<String>,
    pub max_session_duration: u32,
    /// The role's policies and the org levels above its account.
    pub subject: Arc<Subject>,
    pub org_path: Option<String>,
}

/// Why no one can assume `role`, if that is so.
fn unassumable(dir: &Directory, role: &Role) -> Option<String> {
    if role.trust.admits_no_one() {
        return Some(format!(
            "no one can assume role `{}`: no statement of its trust policy allows sts:AssumeRole to a principal",
            role.name
        ));
    }
    let exists = |t: &Trusted| match t {
        Trusted::Account(a) => dir.principal(a, None).is_some(),
        Trusted::User { account, name } => dir.principal(account, Some(name)).is_some(),
        Trusted::Role { account, name } => dir.role(account, name).is_some(),
        Trusted::Service(_) => true,
    };
    let allowing = role.trust.statements.iter().filter(|(st, _)| {
        st.effect == crate::policy::Effect::Allow && st.matches_action("sts:assumerole")
    });
    let mut named = allowing.flat_map(|(_, ps)| ps.iter());
    (!named.any(exists)).then(|| {
        format!(
            "no one here can assume role `{}`: none of the principals its trust policy names exists in accounts.toml",
            role.name
        )
    })
}

/// The ARN of role `name` in `account` (RAM prints role names lower-case).
pub fn role_arn(account: &str, name: &str) -> String {
    format!("acs:ram::{account}:role/{}", name.to_ascii_lowercase())
}

impl Builder<'_> {
    /// Compile the roles of one account; an Alibaba account only.
    pub(super) fn roles(
        &mut self,
        acc: &AccountEntry,
        at: &str,
        org: &Arc<[OrgLevel]>,
        org_path: &Option<String>,
    ) {
        let mut seen = HashSet::new();
        for (r, entry) in acc.roles.iter().enumerate() {
            let who = IdentityAt::new(at, "role", r);
            let rat = who.to_string();
            if acc.cloud != Cloud::Aliyun {
                self.error(
                    "accounts.toml",
                    rat,
                    "RAM roles exist only in aliyun accounts",
                );
                continue;
            }
            if !seen.insert(entry.name.to_ascii_lowercase()) {
                let msg = format!("duplicate role `{}` (role names ignore case)", entry.name);
                self.error("accounts.toml", format!("{rat}/name"), msg);
                continue;
            }
            if let Some(role) = self.role(acc, entry, who, org, org_path) {
                let key = (acc.id.clone(), entry.name.to_ascii_lowercase());
                self.dir.roles.insert(key, Arc::new(role));
            }
        }
    }

    /// Once every account is in: warn about roles no one can assume (no
    /// statement allows `sts:AssumeRole` to anyone, or every principal it
    /// names is missing from accounts.toml and no service is trusted).
    pub(super) fn role_warnings(&mut self, accounts: &[AccountEntry]) {
        for (i, acc) in accounts.iter().enumerate() {
            for (r, entry) in acc.roles.iter().enumerate() {
                let Some(role) = self.dir.role(&acc.id, &entry.name) else {
                    continue;
                };
                let Some(why) = unassumable(&self.dir, role) else {
                    continue;
                };
                let place = Place::Pointer(format!("/account/{i}/role/{r}/trust_policy"));
                let file = self.file("accounts.toml");
                let d = Diagnostic::warning(&file, place, why)
                    .with_hint("name an existing user, role or account (acs:ram::<account>:root) or a service as Principal");
                self.diags.push(d);
            }
        }
    }

    fn role(
        &mut self,
        acc: &AccountEntry,
        entry: &RoleEntry,
        who: IdentityAt<'_>,
        org: &Arc<[OrgLevel]>,
        org_path: &Option<String>,
    ) -> Option<Role> {
        let rat = &who.to_string();
        let max = entry.max_session_duration.unwrap_or(DEFAULT_MAX_SESSION);
        if !MAX_SESSION_RANGE.contains(&max) {
            let msg = format!("max_session_duration {max} is outside RAM's 3600 … 43200 seconds");
            self.error("accounts.toml", format!("{rat}/max_session_duration"), msg);
        }
        let file = self.file("accounts.toml");
        let trust = match parse_trust_policy(&file, rat, &entry.trust_policy) {
            Ok(t) => t,
            Err(errors) => {
                self.diags.extend(errors);
                return None;
            }
        };
        let listed: Vec<_> = Listed::named(&entry.policies, who).collect();
        let identity = self.identity_set(Cloud::Aliyun, &listed);
        let arn = role_arn(&acc.id, &entry.name);
        let id = entry.id.clone().unwrap_or_else(|| {
            // Stable across reloads, so a session's AssumedRoleId does not change.
            sha256_hex(arn.as_bytes()).chars().take(19).collect()
        });
        Some(Role {
            name: entry.name.clone(),
            id,
            arn,
            account_id: acc.id.as_str().into(),
            account_name: acc.name.as_str().into(),
            trust,
            policies: entry.policies.clone(),
            max_session_duration: max,
            subject: Arc::new(Subject {
                cloud: Cloud::Aliyun,
                root: false,
                identity,
                org: org.clone(),
                session: None,
            }),
            org_path: org_path.clone(),
        })
    }
}
