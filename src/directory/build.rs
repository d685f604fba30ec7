//! Load and validate `accounts.toml`, `credentials.toml`, `resources.toml`
//! against the policy store, and compile every principal's `Subject`.
//! Every problem is reported with its file and place; nothing is half-built.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::cloud::Cloud;
use crate::diag::{self, Diagnostic, Place};
use crate::directory::files::{
    AccountEntry, AccountsFile, CredentialsFile, OrganizationEntry, ResourcesFile,
};
use crate::directory::policies::{PolicyKind, PolicyStore};
use crate::directory::{AccessKey, Directory, Principal, Project, ResourceAttrs, Token, User};
use crate::policy::{OrgLevel, PolicySet, Subject};

/// Load the whole `policies/` folder. `sources` receives every file read
/// (for the snapshot digest). Ok carries warnings.
pub fn load(
    dir: &Path,
    sources: &mut Vec<(PathBuf, Vec<u8>)>,
) -> Result<(Directory, Vec<Diagnostic>), Vec<Diagnostic>> {
    let store = PolicyStore::load(dir, sources);
    let accounts: Result<AccountsFile, _> = read_toml(&dir.join("accounts.toml"), sources, true);
    let credentials: Result<CredentialsFile, _> =
        read_toml(&dir.join("credentials.toml"), sources, false);
    let resources: Result<ResourcesFile, _> =
        read_toml(&dir.join("resources.toml"), sources, false);
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
    let mut b = Builder::new(dir, &store);
    b.organizations(&accounts.organizations);
    b.accounts(&accounts.accounts);
    b.credentials(&credentials);
    b.resources(&resources);
    let errors: Vec<Diagnostic> = b.diags.iter().filter(|d| !d.warning).cloned().collect();
    if !errors.is_empty() {
        return Err(b.diags);
    }
    b.dir.policy_count = store.file_count();
    Ok((b.dir, b.diags))
}

/// Parse a TOML file into `T`; a missing optional file is the default.
fn read_toml<T: DeserializeOwned + Default>(
    path: &Path,
    sources: &mut Vec<(PathBuf, Vec<u8>)>,
    required: bool,
) -> Result<T, Vec<Diagnostic>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return Ok(T::default()),
        Err(e) => {
            return Err(vec![Diagnostic::error(
                path,
                Place::File,
                format!("cannot read: {e}"),
            )])
        }
    };
    sources.push((path.to_path_buf(), text.clone().into_bytes()));
    toml::from_str(&text).map_err(|e| vec![diag::from_toml_error(path, &text, &e)])
}

/// An org node: its parent and the policies attached to it.
struct Node {
    cloud: Cloud,
    parent: Option<String>,
    policies: Arc<PolicySet>,
}

struct Builder<'a> {
    dir_path: &'a Path,
    store: &'a PolicyStore,
    diags: Vec<Diagnostic>,
    nodes: HashMap<String, Node>,
    /// Org id per cloud (one tree per cloud).
    orgs: HashMap<Cloud, String>,
    identity_sets: HashMap<(Cloud, Vec<String>), Arc<PolicySet>>,
    dir: Directory,
}

impl<'a> Builder<'a> {
    fn new(dir_path: &'a Path, store: &'a PolicyStore) -> Self {
        Builder {
            dir_path,
            store,
            diags: Vec::new(),
            nodes: HashMap::new(),
            orgs: HashMap::new(),
            identity_sets: HashMap::new(),
            dir: Directory::default(),
        }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir_path.join(name)
    }

    fn error(&mut self, file: &str, pointer: String, message: impl Into<String>) {
        let d = Diagnostic::error(&self.file(file), Place::Pointer(pointer), message);
        self.diags.push(d);
    }

    /// Resolve policy names of one kind; unknown names are errors at `at/i`.
    fn policies(
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

    /// Org policies of a node: absent → the built-in full access; an explicit
    /// empty list is an error for Huawei (every node needs an SCP) and a
    /// warning for Alibaba (the node allows nothing).
    fn node_policies(
        &mut self,
        cloud: Cloud,
        list: &Option<Vec<String>>,
        at: &str,
    ) -> Arc<PolicySet> {
        let default = vec![cloud.default_org_policy().to_string()];
        let names = list.as_ref().unwrap_or(&default);
        if names.is_empty() {
            let msg = "an organisation node with no policy attached allows nothing";
            let file = self.file("accounts.toml");
            let d = match cloud {
                Cloud::Huawei => Diagnostic::error(
                    &file,
                    Place::Pointer(at.into()),
                    format!("{msg}; every node needs at least one SCP"),
                ),
                Cloud::Aliyun => Diagnostic::warning(&file, Place::Pointer(at.into()), msg),
            };
            self.diags.push(d.with_hint(format!(
                "attach `{}` to keep the default",
                cloud.default_org_policy()
            )));
        }
        Arc::new(PolicySet::new(self.policies(
            cloud,
            PolicyKind::Org,
            names,
            at,
        )))
    }

    fn organizations(&mut self, orgs: &[OrganizationEntry]) {
        for (i, org) in orgs.iter().enumerate() {
            let at = format!("/organization/{i}");
            if self.orgs.insert(org.cloud, org.id.clone()).is_some() {
                self.error(
                    "accounts.toml",
                    at.clone(),
                    format!("a second {} organisation (one tree per cloud)", org.cloud),
                );
            }
            let policies = self.node_policies(org.cloud, &org.policies, &format!("{at}/policies"));
            self.add_node(
                &org.root,
                Node {
                    cloud: org.cloud,
                    parent: None,
                    policies,
                },
                &format!("{at}/root"),
            );
            for (j, unit) in org.units.iter().enumerate() {
                let uat = format!("{at}/unit/{j}");
                let policies =
                    self.node_policies(org.cloud, &unit.policies, &format!("{uat}/policies"));
                let node = Node {
                    cloud: org.cloud,
                    parent: Some(unit.parent.clone()),
                    policies,
                };
                self.add_node(&unit.id, node, &format!("{uat}/id"));
            }
        }
        self.check_parents();
    }

    fn add_node(&mut self, id: &str, node: Node, at: &str) {
        if self.nodes.contains_key(id) {
            self.error(
                "accounts.toml",
                at.into(),
                format!("duplicate organisation node id `{id}`"),
            );
        } else {
            self.nodes.insert(id.to_string(), node);
        }
    }

    /// Every unit's parent exists in the same cloud's tree, with no cycle.
    fn check_parents(&mut self) {
        let mut problems = Vec::new();
        for (id, node) in &self.nodes {
            let mut seen = HashSet::from([id.as_str()]);
            let mut cur = node.parent.as_deref();
            while let Some(p) = cur {
                match self.nodes.get(p) {
                    Some(n) if n.cloud == node.cloud && seen.insert(p) => cur = n.parent.as_deref(),
                    Some(n) if n.cloud != node.cloud => {
                        problems.push(format!(
                            "unit `{id}` has parent `{p}` in the {} tree",
                            n.cloud
                        ));
                        break;
                    }
                    Some(_) => {
                        problems.push(format!("unit `{id}` is part of a cycle"));
                        break;
                    }
                    None => {
                        problems.push(format!("unit `{id}` has unknown parent `{p}`"));
                        break;
                    }
                }
            }
        }
        problems.sort();
        for msg in problems {
            self.error("accounts.toml", "/organization".into(), msg);
        }
    }

    /// Org levels root → … → `parent`, plus the account's own level.
    fn org_path(&mut self, acc: &AccountEntry, at: &str) -> (Vec<OrgLevel>, Option<String>) {
        let Some(parent) = &acc.parent else {
            if acc.policies.is_some() {
                self.error(
                    "accounts.toml",
                    format!("{at}/policies"),
                    "organisation policies on an account outside any organisation",
                );
            }
            return (Vec::new(), None);
        };
        let mut chain = Vec::new();
        let mut cur = Some(parent.clone());
        while let Some(id) = cur {
            match self.nodes.get(&id) {
                Some(n) if n.cloud == acc.cloud && chain.len() < 64 => {
                    chain.push(OrgLevel {
                        node: id.as_str().into(),
                        policies: n.policies.clone(),
                    });
                    cur = n.parent.clone();
                }
                _ => {
                    self.error(
                        "accounts.toml",
                        format!("{at}/parent"),
                        format!("`{id}` is not a node of the {} organisation", acc.cloud),
                    );
                    return (Vec::new(), None);
                }
            }
        }
        chain.reverse();
        let own = self.node_policies(acc.cloud, &acc.policies, &format!("{at}/policies"));
        chain.push(OrgLevel {
            node: acc.id.as_str().into(),
            policies: own,
        });
        let org_id = self.orgs.get(&acc.cloud).cloned().unwrap_or_default();
        let path: Vec<&str> = std::iter::once(org_id.as_str())
            .chain(chain.iter().map(|l| &*l.node))
            .collect();
        let path = path.join("/");
        (chain, Some(path))
    }

    fn identity_set(
        &mut self,
        cloud: Cloud,
        names: Vec<String>,
        ats: Vec<String>,
    ) -> Arc<PolicySet> {
        if let Some(set) = self.identity_sets.get(&(cloud, names.clone())) {
            return set.clone();
        }
        let mut policies = Vec::new();
        for (name, at) in names.iter().zip(&ats) {
            match self.store.get(cloud, PolicyKind::Identity, name) {
                Ok(p) => policies.push(p),
                Err(msg) => self.error("accounts.toml", at.clone(), msg),
            }
        }
        let set = Arc::new(PolicySet::new(policies));
        self.identity_sets.insert((cloud, names), set.clone());
        set
    }

    fn accounts(&mut self, accounts: &[AccountEntry]) {
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
        }
    }

    fn account(&mut self, acc: &AccountEntry, at: &str) {
        let (levels, org_path) = self.org_path(acc, at);
        let org: Arc<[OrgLevel]> = levels.into();
        let account_id: Arc<str> = acc.id.as_str().into();
        let principal = |user: Option<User>, identity: Arc<PolicySet>| Principal {
            subject: Arc::new(Subject {
                cloud: acc.cloud,
                root: user.is_none(),
                identity,
                org: org.clone(),
            }),
            cloud: acc.cloud,
            account_id: account_id.clone(),
            account_name: acc.name.as_str().into(),
            urn: principal_urn(acc.cloud, &acc.id, user.as_ref().map(|u| u.name.as_str())),
            user,
            org_path: org_path.clone(),
        };
        let root = principal(None, Arc::new(PolicySet::default()));
        self.dir
            .principals
            .insert((acc.id.clone(), None), Arc::new(root));
        self.projects(acc, at);
        let groups = self.groups(acc, at);
        let mut names = HashSet::new();
        for (j, u) in acc.users.iter().enumerate() {
            let uat = format!("{at}/user/{j}");
            if !names.insert(u.name.clone()) {
                self.error(
                    "accounts.toml",
                    format!("{uat}/name"),
                    format!("duplicate user `{}`", u.name),
                );
                continue;
            }
            let (names, ats) = self.user_policy_names(u, &groups, &uat);
            let identity = self.identity_set(acc.cloud, names, ats);
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
    }

    /// Group name → (its policy names, their places).
    fn groups(
        &mut self,
        acc: &AccountEntry,
        at: &str,
    ) -> HashMap<String, (Vec<String>, Vec<String>)> {
        let mut groups = HashMap::new();
        for (g, group) in acc.groups.iter().enumerate() {
            let gat = format!("{at}/group/{g}");
            let ats = (0..group.policies.len())
                .map(|i| format!("{gat}/policies/{i}"))
                .collect();
            if groups
                .insert(group.name.clone(), (group.policies.clone(), ats))
                .is_some()
            {
                self.error(
                    "accounts.toml",
                    format!("{gat}/name"),
                    format!("duplicate group `{}`", group.name),
                );
            }
        }
        groups
    }

    /// User-attached policies in listed order, then each group's in group order.
    fn user_policy_names(
        &mut self,
        u: &crate::directory::files::UserEntry,
        groups: &HashMap<String, (Vec<String>, Vec<String>)>,
        uat: &str,
    ) -> (Vec<String>, Vec<String>) {
        let mut names = u.policies.clone();
        let mut ats: Vec<String> = (0..names.len())
            .map(|i| format!("{uat}/policies/{i}"))
            .collect();
        for (k, g) in u.groups.iter().enumerate() {
            match groups.get(g) {
                Some((gn, ga)) => {
                    names.extend(gn.iter().cloned());
                    ats.extend(ga.iter().cloned());
                }
                None => self.error(
                    "accounts.toml",
                    format!("{uat}/groups/{k}"),
                    format!("unknown group `{g}`"),
                ),
            }
        }
        (names, ats)
    }

    fn projects(&mut self, acc: &AccountEntry, at: &str) {
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

    fn principal_for(
        &mut self,
        account: &str,
        user: &Option<String>,
        at: String,
    ) -> Option<Arc<Principal>> {
        let found = self.dir.principal(account, user.as_deref()).cloned();
        if found.is_none() {
            let who = user
                .as_deref()
                .map_or("root".to_string(), |u| format!("user `{u}`"));
            self.error(
                "credentials.toml",
                at,
                format!("no {who} in account `{account}` (accounts.toml)"),
            );
        }
        found
    }

    fn credentials(&mut self, creds: &CredentialsFile) {
        for (i, k) in creds.access_keys.iter().enumerate() {
            let at = format!("/access_key/{i}");
            let Some(principal) = self.principal_for(&k.account, &k.user, at.clone()) else {
                continue;
            };
            if k.secret.is_empty() {
                self.error("credentials.toml", format!("{at}/secret"), "empty secret");
            }
            let key = AccessKey {
                secret: k.secret.clone().into_bytes(),
                principal,
            };
            if self.dir.access_keys.insert(k.id.clone(), key).is_some() {
                self.error(
                    "credentials.toml",
                    format!("{at}/id"),
                    format!(
                        "duplicate access key id `{}` (ids are unique across clouds)",
                        k.id
                    ),
                );
            }
        }
        for (i, t) in creds.tokens.iter().enumerate() {
            let at = format!("/token/{i}");
            let Some(principal) = self.principal_for(&t.account, &t.user, at.clone()) else {
                continue;
            };
            let Ok(expires_at) = OffsetDateTime::parse(&t.expires_at, &Rfc3339) else {
                self.error(
                    "credentials.toml",
                    format!("{at}/expires_at"),
                    format!("`{}` is not an RFC 3339 time", t.expires_at),
                );
                continue;
            };
            let token = Token {
                principal,
                expires_at,
                expires_text: t.expires_at.clone(),
                mfa: t.mfa,
            };
            if self.dir.tokens.insert(t.token.clone(), token).is_some() {
                self.error("credentials.toml", format!("{at}/token"), "duplicate token");
            }
        }
    }

    fn resources(&mut self, file: &ResourcesFile) {
        for (i, r) in file.resources.iter().enumerate() {
            let attrs = ResourceAttrs {
                tags: r.tags.clone(),
                enterprise_project_id: r.enterprise_project_id.clone(),
                keys: r.keys.clone(),
            };
            if self.dir.resources.insert(r.urn.clone(), attrs).is_some() {
                self.error(
                    "resources.toml",
                    format!("/resource/{i}/urn"),
                    format!("duplicate resource `{}`", r.urn),
                );
            }
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
