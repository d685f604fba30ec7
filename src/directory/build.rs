//! Load and validate `accounts.toml`, `credentials.toml`, `resources.toml`
//! against the policy store, and compile every principal's `Subject`.
//! Every problem is reported with its file and place; nothing is half-built.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::cloud::Cloud;
use crate::diag::{self, Diagnostic, Place};
use crate::directory::cache::{self, Compiled, ContentDigest, Parsed, Reread, SamePolicies};
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
    sources: &mut Vec<(PathBuf, ContentDigest)>,
) -> Result<(Directory, Vec<Diagnostic>), Vec<Diagnostic>> {
    load_reusing(dir, sources, &Compiled::default(), Reread::All)
}

/// [`load`], reusing what `previous` compiled from files whose bytes did
/// not change (a reload: see [`crate::directory::cache`]); policy files
/// `reread` leaves out are not read again.
pub fn load_reusing(
    dir: &Path,
    sources: &mut Vec<(PathBuf, ContentDigest)>,
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
    };
    Ok((b.dir, b.diags))
}

/// Parse a TOML file into `T` (`previous`'s value when the bytes are the
/// same); a missing optional file is the default.
fn read_toml<T: DeserializeOwned + Default>(
    path: &Path,
    sources: &mut Vec<(PathBuf, ContentDigest)>,
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
    sources.push((path.to_path_buf(), digest));
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

    pub(super) fn identity_set(
        &mut self,
        cloud: Cloud,
        names: &[String],
        ats: Vec<String>,
    ) -> Arc<PolicySet> {
        let mut policies = Vec::with_capacity(names.len());
        for (name, at) in names.iter().zip(ats) {
            match self.identity_policy(cloud, name) {
                Ok(p) => policies.push(p),
                Err(msg) => self.error("accounts.toml", at, msg),
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
            account_name: acc.name.as_str().into(),
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
            let (names, ats) = self.user_policy_names(acc, u, &groups, &uat);
            let identity = self.identity_set(acc.cloud, &names, ats);
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

    /// Group name → (its policy names, their places).
    pub(super) fn groups(
        &mut self,
        acc: &AccountEntry,
        at: &str,
    ) -> HashMap<String, (Vec<String>, Vec<String>)> {
        let mut groups = HashMap::new();
        for (g, group) in acc.groups.iter().enumerate() {
            let gat = format!("{at}/group/{g}");
            let mut ats: Vec<String> = (0..group.policies.len())
                .map(|i| format!("{gat}/policies/{i}"))
                .collect();
            let mut names = group.policies.clone();
            let owner = format!("{}/group/{}", acc.id, group.name);
            let (inline, inline_ats) =
                self.inline_policies(acc.cloud, &owner, group.inline(), &gat);
            names.extend(inline);
            ats.extend(inline_ats);
            if groups.insert(group.name.clone(), (names, ats)).is_some() {
                self.error(
                    "accounts.toml",
                    format!("{gat}/name"),
                    format!("duplicate group `{}`", group.name),
                );
            }
        }
        groups
    }

    /// User-attached policies in listed order, then the user's inline ones,
    /// then each group's (named, then inline) in group order.
    pub(super) fn user_policy_names(
        &mut self,
        acc: &AccountEntry,
        u: &crate::directory::files::UserEntry,
        groups: &HashMap<String, (Vec<String>, Vec<String>)>,
        uat: &str,
    ) -> (Vec<String>, Vec<String>) {
        let mut names = u.policies.clone();
        let mut ats: Vec<String> = (0..names.len())
            .map(|i| format!("{uat}/policies/{i}"))
            .collect();
        let owner = format!("{}/user/{}", acc.id, u.name);
        let (inline, inline_ats) = self.inline_policies(acc.cloud, &owner, u.inline(), uat);
        names.extend(inline);
        ats.extend(inline_ats);
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

/// The principal URN/ARN the deny messages and `g:PrincipalUrn` use.
pub fn principal_urn(cloud: Cloud, account: &str, user: Option<&str>) -> String {
    match (cloud, user) {
        (Cloud::Huawei, Some(u)) => format!("iam::{account}:user:{u}"),
        (Cloud::Huawei, None) => format!("iam::{account}:root"),
        (Cloud::Aliyun, Some(u)) => format!("acs:ram::{account}:user/{u}"),
        (Cloud::Aliyun, None) => format!("acs:ram::{account}:root"),
    }
}
