//! The built-in Alibaba STS service: `AssumeRole` answered by the gateway
//! itself (never forwarded), authorised by the same engine as every other
//! route, and the role sessions its temporary credentials stand for.
//! [`pass_role`] adds `ram:PassRole` to AgentRun requests whose body names
//! a role. `routes/sts.toml` declares the service with the upstream
//! [`BUILTIN_UPSTREAM`]; the pipeline (`proxy::builtin`) hands such a route to
//! [`assume_role::prepare`] and, once authorised, [`assume_role::complete`].

pub mod assume_role;
pub mod pass_role;
pub mod sessions;

/// The upstream name of a route file served in-process by this module.
pub const BUILTIN_UPSTREAM: &str = "builtin:sts";
