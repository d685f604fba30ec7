//! What the engine answers: a `Decision` with the reason that decided it,
//! and the `Permit` that alone lets the proxy forward a request.

use std::sync::Arc;

use serde::Serialize;

/// Where a statement came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PolicySource {
    /// An identity policy attached to the user or one of its groups.
    Identity,
    /// An organisation policy (Huawei SCP, Alibaba control policy) attached at
    /// `level` (0 = the root) to `node`.
    Org { level: usize, node: Arc<str> },
    /// The session policy of a role session (STS `AssumeRole` `Policy`).
    Session,
}

/// A statement named as policy + 0-based index (+ Sid when present).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementRef {
    pub source: PolicySource,
    pub policy: Arc<str>,
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<Arc<str>>,
}

impl std::fmt::Display for StatementRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}", self.policy, self.index)?;
        if let Some(sid) = &self.sid {
            write!(f, " ({sid})")?;
        }
        if let PolicySource::Org { level, node } = &self.source {
            write!(f, " at organisation level {level} ({node})")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
}

impl DecisionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionKind::Allow => "allow",
            DecisionKind::ExplicitDeny => "explicit_deny",
            DecisionKind::ImplicitDeny => "implicit_deny",
        }
    }
}

/// Why the engine decided as it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reason {
    /// This statement allowed (the first allowing identity statement) or
    /// explicitly denied (the first deny, organisation levels first).
    Statement(StatementRef),
    /// No policy attached at this organisation level allows the request.
    NoOrgAllow { level: usize, node: Arc<str> },
    /// No identity policy allows the request.
    NoIdentityAllow,
    /// The account root identity is not subject to identity policies.
    RootUser,
    /// The identity policies allow, but the session policy does not.
    NoSessionAllow,
}

/// The answer for one action on one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub kind: DecisionKind,
    pub reason: Reason,
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        self.kind == DecisionKind::Allow
    }

    /// True when an organisation policy (SCP / control policy) decided a denial.
    pub fn decided_by_org(&self) -> bool {
        matches!(
            &self.reason,
            Reason::NoOrgAllow { .. }
                | Reason::Statement(StatementRef {
                    source: PolicySource::Org { .. },
                    ..
                })
        )
    }

    /// A short label for logs and metrics: `identity`, `org`, `root`.
    pub fn decided_by_label(&self) -> &'static str {
        match &self.reason {
            Reason::RootUser => "root",
            _ if self.decided_by_org() => "org",
            _ => "identity",
        }
    }

    /// The reasons as a list (the deciding one first), for explanations.
    pub fn reasons(&self) -> Vec<&Reason> {
        vec![&self.reason]
    }
}

/// One allowed (action, resource) pair with the decision that allowed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    pub action: String,
    pub resource: String,
    pub decision: Decision,
}

/// Proof that every action a request needs was allowed. Only this module can
/// make one, and the proxy forwards nothing without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permit {
    grants: Vec<Grant>,
    unmapped: bool,
}

impl Permit {
    pub(super) fn new(grants: Vec<Grant>) -> Permit {
        Permit {
            grants,
            unmapped: false,
        }
    }

    /// The operator chose `unmapped = "forward"`: an authenticated request for
    /// a known SDK operation with no action is let through without a decision.
    pub fn for_unmapped_operation_by_configuration() -> Permit {
        Permit {
            grants: Vec::new(),
            unmapped: true,
        }
    }

    /// Audit mode (`enforce = "audit"`): a request the policies deny is
    /// forwarded all the same and recorded as `audit_deny`. The handler
    /// calls this only with the denial in hand, for a request that passed
    /// authentication and every hygiene rule.
    pub fn for_audit_mode_by_configuration() -> Permit {
        Permit {
            grants: Vec::new(),
            unmapped: false,
        }
    }

    pub fn grants(&self) -> &[Grant] {
        &self.grants
    }

    pub fn is_unmapped_forward(&self) -> bool {
        self.unmapped
    }
}

/// The first action of a request that was not allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Denial {
    pub action: String,
    pub resource: String,
    pub decision: Decision,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "decision_tests.rs"]
mod tests;
