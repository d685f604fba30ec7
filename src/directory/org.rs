//! Organisation trees (Huawei Organizations, Alibaba Resource Directory):
//! nodes with their attached policies, parent checks, and the levels
//! root → … → account that bound every principal of an account.

use std::collections::HashSet;
use std::sync::Arc;

use crate::cloud::Cloud;
use crate::diag::{Diagnostic, Place};
use crate::directory::build::{Builder, Node};
use crate::directory::cache::SamePolicies;
use crate::directory::files::{AccountEntry, OrganizationEntry};
use crate::directory::policies::PolicyKind;
use crate::policy::{OrgLevel, PolicySet};

impl Builder<'_> {
    /// Org policies of a node: absent → the built-in full access; an explicit
    /// empty list is an error for Huawei (every node needs an SCP) and a
    /// warning for Alibaba (the node allows nothing).
    pub(super) fn node_policies(
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
        let policies = self.policies(cloud, PolicyKind::Org, names, at);
        self.set_of((cloud, PolicyKind::Org, SamePolicies(policies)))
    }

    pub(super) fn organizations(&mut self, orgs: &[OrganizationEntry]) {
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

    pub(super) fn add_node(&mut self, id: &str, node: Node, at: &str) {
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
    pub(super) fn check_parents(&mut self) {
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
    pub(super) fn org_path(
        &mut self,
        acc: &AccountEntry,
        at: &str,
    ) -> (Vec<OrgLevel>, Option<String>) {
        let Some(parent) = &acc.parent else {
            if acc.policies.is_some() {
                self.error(
                    "accounts.toml",
                    format!("{at}/policies"),
                    "organisation policies on an account outside any organisation: `policies` on an [[account]] attaches SCPs / control policies to its organisation node (set `parent`); attach identity policies to users or groups ([[account.user]] or [[account.group]] `policies`)",
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
}
