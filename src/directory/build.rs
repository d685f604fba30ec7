//! Load and validate `accounts.toml`, `credentials.toml`, `resources.toml`
//! against the policy store, and compile every principal's `Subject`.
//! Every problem is reported with its file and place; nothing is half-built.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::cloud::Cloud;
use crate::diag::{self, Diagnostic, Place};
use crate::directory::cache::{self, Compiled, Parsed, Reread, SamePolicies, Sources};
use crate::directory::files::{AccountEntry, AccountsFile, CredentialsFile, ResourcesFile};
use crate::directory::policies::{PolicyKind, PolicyStore};
use crate::directory::{Directory, Principal, Project, User};
use crate::policy::{OrgLevel, PolicySet, Subject};

/// The TOML files at the top of the policies folder; every load reads them.
pub const TOML_FILES: [&str; 3] = ["accounts.toml", "credentials.toml", "resources.toml"];

/// Load the whole `policies/` folder. `sources` receives (path, SHA-256)
/// of every file compiled (for the snapshot digest). Ok carries warnings.
pub fn load(
    dir: &Path,
    sources: &mut Sources,
) -> Result<(Directory, Vec<Diagnostic>), Vec<Diagnostic>> {
    load_reusing(dir, sources, &Compiled::default(), Reread::All)
}

/// [`load`], reusing what `previous` compiled from files whose bytes did
/// not change (a reload: see [`crate::directory::cache`]); policy files
/// `reread` leaves out are not read again.
pub fn load_reusing(
    dir: &Path,
    sources: &mut Sources,
    previous: &Compiled,
    reread: Reread<'_>,
) -> Result<(Directory, Vec<Diagnostic>), Vec<Diagnostic>> {
    let store = PolicyStore::load_reusing(dir, sources, &previous.policies, reread);
    let [accounts_toml, credentials_toml, resources_toml] = TOML_FILES.map(|f| dir.join(f));
    let accounts: Result<Parsed<AccountsFile>, _> =
        read_toml(&accounts_toml, sources, true, previous.accounts.as_ref());
    let credentials: Result<Parsed<CredentialsFile>, _> = read_toml(
        &credentials_toml,
        sources,
        false,
        previous.credentials.as_ref(),
    );
    let resources: Result<Parsed<ResourcesFile>, _> =
        read_toml(&resources_toml, sources, false, previous.resources.as_ref());
    let (store, accounts, credentials, resources) = match (store, accounts, credentials, resources)
    {
        (Ok(s), Ok(a), Ok(c), Ok(r)) => (s, a, c, r),
        (s, a, c, r) => {
            let mut errors = Vec::new();
            errors.extend(s.err().unwrap_or_default());
            errors.extend(a.err().unwrap_or_default());
            errors.extend(c.err().unwrap_or_default());
            errors.extend(r.err().unwrap_or_default());
            return Err(errors);
        }
    };
    let mut store = store;
    let policies = std::mem::take(&mut store.compiled);
    let mut b = Builder::new(dir, &store, &previous.sets);
    b.organizations(&accounts.value.organizations);
    b.accounts(&accounts.value.accounts);
    b.role_warnings(&accounts.value.accounts);
    b.agency_warnings(&accounts.value.accounts);
    b.credentials(&credentials.value);
    b.resources(&resources.value);
    let errors: Vec<Diagnostic> = b.diags.iter().filter(|d| !d.warning).cloned().collect();
    if !errors.is_empty() {
        return Err(b.diags);
    }
    b.dir.policy_count = store.file_count();
    b.dir.compiled = Compiled {
        policies,
        accounts: Some(accounts),
        credentials: Some(credentials),
        resources: Some(resources),
        sets: std::mem::take(&mut b.sets),
        routes: None, // the snapshot adds its own
    };
    Ok((b.dir, b.diags))
}

/// Parse a TOML file into `T` (`previous`'s value when the bytes are the
/// same); a missing optional file is the default.
fn read_toml<T: DeserializeOwned + Default>(
    path: &Path,
    sources: &mut Sources,
    required: bool,
    previous: Option<&Parsed<T>>,
) -> Result<Parsed<T>, Vec<Diagnostic>> {
    let parsed = |digest, value| Parsed {
        path: path.to_path_buf(),
        digest,
        value: Arc::new(value),
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
            return Ok(parsed(None, T::default()))
        }
        Err(e) => {
            return Err(vec![Diagnostic::error(
                path,
                Place::File,
                format!("cannot read: {e}"),
            )])
        }
    };
    let digest = cache::CompiledPolicies::digest(&bytes);
    let reused = Parsed::reuse(previous, path, &digest);
    let result = match reused {
        Some(value) => Ok(Parsed {
            path: path.to_path_buf(),
            digest: Some(digest),
            value,
        }),
        None => parse_toml(path, &bytes).map(|value| parsed(Some(digest), value)),
    };
    sources.push((path.into(), digest));
    result
}

fn parse_toml<T: DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T, Vec<Diagnostic>> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let msg = format!("cannot read: stream did not contain valid UTF-8 ({e})");
        vec![Diagnostic::error(path, Place::File, msg)]
    })?;
    toml::from_str(text).map_err(|e| vec![diag::from_toml_error(path, text, &e)])
}

/// An org node: its parent and the policies attached to it.
pub(super) struct Node {
    pub(super) cloud: Cloud,
    pub(super) parent: Option<String>,
    pub(super) policies: Arc<PolicySet>,
}

pub(super) struct Builder<'a> {
    pub(super) dir_path: &'a Path,
    pub(super) store: &'a PolicyStore,
    pub(super) diags: Vec<Diagnostic>,
    pub(super) nodes: HashMap<String, Node>,
    /// Org id per cloud (one tree per cloud).
    pub(super) orgs: HashMap<Cloud, String>,
    /// Policy sets built so far, and the previous load's.
    pub(super) sets: cache::PolicySets,
    pub(super) previous_sets: &'a cache::PolicySets,
    pub(super) dir: Directory,
    /// Inline identity policies compiled so far, by name (see `inline`).
    pub(super) inline: HashMap<String, Arc<crate::policy::Policy>>,
}

impl<'a> Builder<'a> {
    pub(super) fn new(
        dir_path: &'a Path,
        store: &'a PolicyStore,
        previous_sets: &'a cache::PolicySets,
    ) -> Self {
        Builder {
            dir_path,
            store,
            diags: Vec::new(),
            nodes: HashMap::new(),
            orgs: HashMap::new(),
            sets: cache::PolicySets::default(),
            previous_sets,
            dir: Directory::default(),
            inline: HashMap::new(),
        }
    }

    pub(super) fn file(&self, name: &str) -> PathBuf {
        self.dir_path.join(name)
    }

    pub(super) fn error(&mut self, file: &str, pointer: String, message: impl Into<String>) {
        let d = Diagnostic::error(&self.file(file), Place::Pointer(pointer), message);
        self.diags.push(d);
    }

    /// Resolve policy names of one kind; unknown names are errors at `at/i`.
    pub(super) fn policies(
        &mut self,
        cloud: Cloud,
        kind: PolicyKind,
        names: &[String],
        at: &str,
    ) -> Vec<Arc<crate::policy::Policy>> {
        let mut out = Vec::new();
        for (i, name) in names.iter().enumerate() {
            match self.store.get(cloud, kind, name) {
                Ok(p) => out.push(p),
                Err(msg) => self.error("accounts.toml", format!("{at}/{i}"), msg),
            }
        }
        out
    }

    /// The identity set of these listed policies (unknown names are
    /// errors at their place).
    pub(super) fn identity_set(&mut self, cloud: Cloud, listed: &[Listed<'_>]) -> Arc<PolicySet> {
        let mut policies = Vec::with_capacity(listed.len());
        for l in listed {
            match self.identity_policy(cloud, &l.name) {
                Ok(p) => policies.push(p),
                Err(msg) => self.error("accounts.toml", l.at.to_string(), msg),
            }
        }
        self.set_of((cloud, PolicyKind::Identity, SamePolicies(policies)))
    }

    /// The set of these resolved policies: one built from the very same
    /// ones earlier in this load or in the previous load (see [`cache`]),
    /// else built now. Equal sets are thus one set, which keeps every
    /// unchanged subject pointer-equal from one reload to the next.
    pub(super) fn set_of(&mut self, key: cache::SetKey) -> Arc<PolicySet> {
        if let Some(set) = self.sets.get(&key) {
            return set.clone();
        }
        let set = match self.previous_sets.get(&key) {
            Some(set) => set.clone(),
            None => Arc::new(PolicySet::new(key.2 .0.clone())),
        };
        self.sets.insert(key, set.clone());
        set
    }

    pub(super) fn accounts(&mut self, accounts: &[AccountEntry]) {
        let mut ids = HashSet::new();
        for (i, acc) in accounts.iter().enumerate() {
            let at = format!("/account/{i}");
            if !ids.insert(acc.id.clone()) {
                self.error(
                    "accounts.toml",
                    format!("{at}/id"),
                    format!("duplicate account id `{}`", acc.id),
                );
                continue;
            }
            self.account(acc, &at);
            if let Some(mode) = acc.enforce {
                self.dir.account_enforce.insert(acc.id.clone(), mode);
            }
        }
    }

    pub(super) fn account(&mut self, acc: &AccountEntry, at: &str) {
        let (levels, org_path) = self.org_path(acc, at);
        let org: Arc<[OrgLevel]> = levels.into();
        let account_id: Arc<str> = acc.id.as_str().into();
        let account_name: Arc<str> = acc.name.as_str().into();
        let principal = |user: Option<User>, identity: Arc<PolicySet>| Principal {
            subject: Arc::new(Subject {
                cloud: acc.cloud,
                root: user.is_none(),
                identity,
                org: org.clone(),
                session: None,
            }),
            cloud: acc.cloud,
            account_id: account_id.clone(),
            account_name: account_name.clone(),
            urn: principal_urn(acc.cloud, &acc.id, user.as_ref().map(|u| u.name.as_str())),
            user,
            org_path: org_path.clone(),
        };
        // The root has no identity policies: one shared empty set.
        let none = self.set_of((acc.cloud, PolicyKind::Identity, SamePolicies(Vec::new())));
        let root = principal(None, none);
        self.dir
            .principals
            .insert((acc.id.clone(), None), Arc::new(root));
        self.projects(acc, at);
        self.roles(acc, at, &org, &org_path);
        let groups = self.groups(acc, at);
        let mut names = HashSet::with_capacity(acc.users.len());
        let mut listed = Vec::new();
        for (j, u) in acc.users.iter().enumerate() {
            let who = IdentityAt::new(at, "user", j);
            if !names.insert(u.name.as_str()) {
                self.error(
                    "accounts.toml",
                    format!("{who}/name"),
                    format!("duplicate user `{}`", u.name),
                );
                continue;
            }
            listed.clear();
            self.user_policies(acc, u, &groups, who, &mut listed);
            let identity = self.identity_set(acc.cloud, &listed);
            let user = User {
                name: u.name.clone(),
                id: u.id.clone().unwrap_or_else(|| u.name.clone()),
                tags: u.tags.clone(),
            };
            self.dir.principals.insert(
                (acc.id.clone(), Some(u.name.clone())),
                Arc::new(principal(Some(user), identity)),
            );
        }
        self.agencies(acc, at, &org, org_path.as_deref());
    }

    /// Group name → its policies (named, then inline).
    pub(super) fn groups<'e>(
        &mut self,
        acc: &'e AccountEntry,
        at: &'e str,
    ) -> HashMap<&'e str, Vec<Listed<'e>>, foldhash::fast::RandomState> {
        let mut groups = HashMap::default();
        for (g, group) in acc.groups.iter().enumerate() {
            let who = IdentityAt::new(at, "group", g);
            let mut listed: Vec<Listed<'e>> = Listed::named(&group.policies, who).collect();
            let owner = || format!("{}/group/{}", acc.id, group.name);
            self.inline_policies(acc.cloud, owner, group.inline(), who, &mut listed);
            if groups.insert(group.name.as_str(), listed).is_some() {
                self.error(
                    "accounts.toml",
                    format!("{who}/name"),
                    format!("duplicate group `{}`", group.name),
                );
            }
        }
        groups
    }

    /// Into `listed`: user-attached policies in listed order, then the
    /// user's inline ones, then each group's (named, then inline) in group
    /// order.
    pub(super) fn user_policies<'l>(
        &mut self,
        acc: &AccountEntry,
        u: &'l crate::directory::files::UserEntry,
        groups: &'l HashMap<&'l str, Vec<Listed<'l>>, foldhash::fast::RandomState>,
        who: IdentityAt<'l>,
        listed: &mut Vec<Listed<'l>>,
    ) {
        listed.extend(Listed::named(&u.policies, who));
        let owner = || format!("{}/user/{}", acc.id, u.name);
        self.inline_policies(acc.cloud, owner, u.inline(), who, listed);
        for (k, g) in u.groups.iter().enumerate() {
            match groups.get(g.as_str()) {
                Some(policies) => listed.extend(policies.iter().map(Listed::borrowed)),
                None => self.error(
                    "accounts.toml",
                    who.at("groups", Some(k)).to_string(),
                    format!("unknown group `{g}`"),
                ),
            }
        }
    }

    pub(super) fn projects(&mut self, acc: &AccountEntry, at: &str) {
        for (p, proj) in acc.projects.iter().enumerate() {
            if acc.cloud != Cloud::Huawei {
                self.error(
                    "accounts.toml",
                    format!("{at}/project/{p}"),
                    "projects exist only in huawei accounts",
                );
            }
            let project = Project {
                id: proj.id.clone(),
                name: proj.name.clone(),
                region: proj.region.clone(),
                account_id: acc.id.as_str().into(),
            };
            if self.dir.projects.insert(proj.id.clone(), project).is_some() {
                self.error(
                    "accounts.toml",
                    format!("{at}/project/{p}/id"),
                    format!("duplicate project id `{}`", proj.id),
                );
            }
        }
    }
}

/// An identity's place in `accounts.toml` (`/account/0/user/7`), formatted
/// only when something there is reported: a reload of 10,000 users formats
/// none of it.
#[derive(Debug, Clone, Copy)]
pub(super) struct IdentityAt<'a> {
    account: &'a str,
    kind: &'static str,
    n: usize,
}

impl<'a> IdentityAt<'a> {
    /// Identity `n` of `kind` (`user`, `group`, `role`, `agency`) under the account at `account`.
    pub(super) fn new(account: &'a str, kind: &'static str, n: usize) -> Self {
        IdentityAt { account, kind, n }
    }

    /// A field of the identity: `…/policies/3`, `…/policy`.
    pub(super) fn at(self, field: &'static str, i: Option<usize>) -> At<'a> {
        At {
            identity: self,
            field,
            i,
        }
    }
}

impl std::fmt::Display for IdentityAt<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.account, self.kind, self.n)
    }
}

/// Where a policy name is written: a field of an identity, with its index.
#[derive(Debug, Clone, Copy)]
pub(super) struct At<'a> {
    identity: IdentityAt<'a>,
    field: &'static str,
    i: Option<usize>,
}

impl std::fmt::Display for At<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.identity, self.field)?;
        match self.i {
            Some(i) => write!(f, "/{i}"),
            None => Ok(()),
        }
    }
}

/// A policy an identity lists (by name, or inline under a generated name)
/// and where it is written.
#[derive(Debug, Clone)]
pub(super) struct Listed<'a> {
    pub(super) name: Cow<'a, str>,
    pub(super) at: At<'a>,
}

impl<'a> Listed<'a> {
    /// The names of an identity's `policies` field.
    pub(super) fn named(
        names: &'a [String],
        who: IdentityAt<'a>,
    ) -> impl Iterator<Item = Listed<'a>> + 'a {
        names.iter().enumerate().map(move |(i, name)| Listed {
            name: Cow::Borrowed(name),
            at: who.at("policies", Some(i)),
        })
    }

    /// The same entry, its name borrowed from this one.
    pub(super) fn borrowed(&self) -> Listed<'_> {
        Listed {
            name: Cow::Borrowed(&self.name),
            at: self.at,
        }
    }
}

/// The principal URN/ARN the deny messages and `g:PrincipalUrn` use.
pub fn principal_urn(cloud: Cloud, account: &str, user: Option<&str>) -> String {
    match (cloud, user) {
        (Cloud::Huawei, Some(u)) => format!("iam::{account}:user:{u}"),
        (Cloud::Huawei, None) => format!("iam::{account}:root"),
        (Cloud::Aliyun, Some(u)) => format!("acs:ram::{account}:user/{u}"),
        (Cloud::Aliyun, None) => format!("acs:ram::{account}:root"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    /// Places are formatted only when something is reported: each kind of
    /// error still names its exact field.
    #[test]
    fn every_error_of_accounts_and_credentials_names_its_field() {
        let dir = tempfile::tempdir().unwrap();
        let write = |rel: &str, text: &str| {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        let read = r#"{"Version":"5.0","Statement":[{"Effect":"Allow","Action":["modelarts:notebook:list"]}]}"#;
        write("huawei/identity/Read.json", read);
        let ram = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:Describe*","Resource":"*"}]}"#;
        write("aliyun/identity/Ram.json", ram);
        let trust = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":"acs:ram::a2:root"}}]}"#;
        write(
            "accounts.toml",
            &format!(
                r#"
[[account]]
id = "a1"
name = "one"
cloud = "huawei"

[[account.group]]
name = "g"
policies = ["Read", "NoGroupPolicy"]

[[account.group]]
name = "h"

[[account.group]]
name = "h"

[[account.user]]
name = "u0"
policies = ["Read", "NoUserPolicy"]
groups = ["g", "nogroup"]

[[account.user]]
name = "u0"

[[account.user]]
name = "u2"
groups = ["g"]

[[account]]
id = "a2"
name = "two"
cloud = "aliyun"

[[account.role]]
name = "R"
policies = ["Ram", "NoRolePolicy"]
trust_policy = '{trust}'
"#
            ),
        );
        write(
            "credentials.toml",
            r#"
[[access_key]]
id = "K0"
secret = ""
account = "a1"
user = "u0"

[[access_key]]
id = "K1"
secret = "s"
account = "a1"
user = "nobody"

[[access_key]]
id = "K0"
secret = "s"
account = "a1"

[[token]]
token = "t0"
account = "a1"
user = "u2"
expires_at = "tomorrow"
"#,
        );
        let errors = load(dir.path(), &mut Vec::new()).unwrap_err();
        let all: Vec<String> = errors.iter().map(|d| d.to_string()).collect();
        let all = all.join("\n");
        for (place, message) in [
            ("#/account/0/group/0/policies/1", "NoGroupPolicy"),
            ("#/account/0/group/2/name", "duplicate group `h`"),
            ("#/account/0/user/0/policies/1", "NoUserPolicy"),
            ("#/account/0/user/0/groups/1", "unknown group `nogroup`"),
            ("#/account/0/user/1/name", "duplicate user `u0`"),
            ("#/account/1/role/0/policies/1", "NoRolePolicy"),
            ("#/access_key/0/secret", "empty secret"),
            ("#/access_key/1", "no user `nobody` in account `a1`"),
            ("#/access_key/2/id", "duplicate access key id `K0`"),
            ("#/token/0/expires_at", "`tomorrow` is not an RFC 3339 time"),
        ] {
            let line = all.lines().find(|l| l.contains(&format!("{place}:")));
            assert!(
                line.is_some_and(|l| l.contains(message)),
                "{place} {message}\n{all}"
            );
        }
        // The group's unknown policy is reported where the group lists it,
        // once per user of the group (u0, u2), and nowhere else.
        let group_errors = all.matches("NoGroupPolicy").count();
        assert_eq!(group_errors, 2, "{all}");
        assert_eq!(all.matches("#/account/0/group/0/policies/1:").count(), 2);
    }
}
