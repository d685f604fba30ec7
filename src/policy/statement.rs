//! Compiled policies: statements whose patterns are already globs and whose
//! conditions are already typed. Built by [`super::document::parse_policy`];
//! they cannot represent an invalid document.

use std::sync::Arc;

use crate::cloud::Cloud;
use crate::policy::condition::Condition;
use crate::policy::glob::Glob;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Effect {
    Allow,
    Deny,
}

/// `Action` or `NotAction`, with lower-cased patterns (actions ignore case).
#[derive(Debug, Clone, PartialEq)]
pub enum ActionSet {
    Action(Vec<Glob>),
    NotAction(Vec<Glob>),
}

/// `Resource` or `NotResource` (case-sensitive patterns).
#[derive(Debug, Clone, PartialEq)]
pub enum ResourceSet {
    Resource(Vec<Glob>),
    NotResource(Vec<Glob>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// 0-based position in the policy.
    pub index: usize,
    pub sid: Option<Arc<str>>,
    pub effect: Effect,
    pub actions: ActionSet,
    pub resources: ResourceSet,
    pub conditions: Vec<Condition>,
}

impl Statement {
    /// `action` must already be lower-cased.
    pub fn matches_action(&self, action: &str) -> bool {
        match &self.actions {
            ActionSet::Action(p) => p.iter().any(|g| g.matches(action)),
            ActionSet::NotAction(p) => !p.iter().any(|g| g.matches(action)),
        }
    }

    pub fn matches_resource(&self, resource: &str) -> bool {
        self.resources_match(|_, g| g.matches(resource))
    }

    /// `Resource` / `NotResource` over a test of each pattern (its index
    /// and glob): any pattern matching, or none.
    pub fn resources_match(&self, mut matches: impl FnMut(usize, &Glob) -> bool) -> bool {
        let mut any = |p: &[Glob]| p.iter().enumerate().any(|(i, g)| matches(i, g));
        match &self.resources {
            ResourceSet::Resource(p) => any(p),
            ResourceSet::NotResource(p) => !any(p),
        }
    }

    /// The resource patterns, `Resource` or `NotResource`.
    pub fn resource_patterns(&self) -> &[Glob] {
        match &self.resources {
            ResourceSet::Resource(p) | ResourceSet::NotResource(p) => p,
        }
    }
}

/// A compiled policy: its name (the file stem), cloud and statements.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub name: Arc<str>,
    pub cloud: Cloud,
    pub statements: Vec<Statement>,
}

impl Policy {
    /// The system policy that allows everything (`FullAccess`, `FullAliyunAccess`).
    pub fn full_access(cloud: Cloud) -> Policy {
        Policy {
            name: cloud.default_org_policy().into(),
            cloud,
            statements: vec![Statement {
                index: 0,
                sid: None,
                effect: Effect::Allow,
                actions: ActionSet::Action(vec![Glob::Any]),
                resources: ResourceSet::Resource(vec![Glob::Any]),
                conditions: Vec::new(),
            }],
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn statement(actions: ActionSet, resources: ResourceSet) -> Statement {
        Statement {
            index: 0,
            sid: None,
            effect: Effect::Allow,
            actions,
            resources,
            conditions: Vec::new(),
        }
    }

    #[test]
    fn not_action_and_not_resource_match_everything_else() {
        let globs = || vec![Glob::new("obs:*"), Glob::new("ecs:get")];
        let st = statement(ActionSet::Action(globs()), ResourceSet::Resource(globs()));
        assert!(st.matches_action("obs:put") && st.matches_action("ecs:get"));
        assert!(!st.matches_action("ecs:put"));
        assert!(st.matches_resource("obs:b") && !st.matches_resource("ecs:x"));
        let not = statement(
            ActionSet::NotAction(globs()),
            ResourceSet::NotResource(globs()),
        );
        assert!(!not.matches_action("obs:put") && !not.matches_action("ecs:get"));
        assert!(not.matches_action("ecs:put"));
        assert!(!not.matches_resource("obs:b") && not.matches_resource("ecs:x"));
    }

    #[test]
    fn full_access_allows_everything_under_the_clouds_name() {
        let p = Policy::full_access(Cloud::Aliyun);
        assert_eq!(&*p.name, Cloud::Aliyun.default_org_policy());
        assert_eq!(p.cloud, Cloud::Aliyun);
        let [st] = &p.statements[..] else {
            panic!("one statement")
        };
        assert_eq!(st.effect, Effect::Allow);
        assert!(st.matches_action("any:thing") && st.matches_resource("x"));
        assert!(st.conditions.is_empty());
    }
}
