//! Credentials (access keys, tokens) and resource attributes: each checked
//! against the principals the accounts file defines.

use std::sync::Arc;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::directory::build::Builder;
use crate::directory::files::{CredentialsFile, ResourcesFile};
use crate::directory::{AccessKey, Principal, ResourceAttrs, Token};

impl Builder<'_> {
    pub(super) fn principal_for(
        &mut self,
        account: &str,
        user: &Option<String>,
        at: impl FnOnce() -> String,
    ) -> Option<Arc<Principal>> {
        let found = self.dir.principal(account, user.as_deref()).cloned();
        if found.is_none() {
            let who = user
                .as_deref()
                .map_or("root".to_string(), |u| format!("user `{u}`"));
            self.error(
                "credentials.toml",
                at(),
                format!("no {who} in account `{account}` (accounts.toml)"),
            );
        }
        found
    }

    pub(super) fn credentials(&mut self, creds: &CredentialsFile) {
        for (i, k) in creds.access_keys.iter().enumerate() {
            // Formatted only for an error: a reload of 10,000 keys formats none.
            let at = || format!("/access_key/{i}");
            let Some(principal) = self.principal_for(&k.account, &k.user, at) else {
                continue;
            };
            if k.secret.is_empty() {
                self.error(
                    "credentials.toml",
                    format!("{}/secret", at()),
                    "empty secret",
                );
            }
            let key = AccessKey {
                secret: k.secret.clone().into_bytes(),
                principal,
            };
            if self.dir.access_keys.insert(k.id.clone(), key).is_some() {
                self.error(
                    "credentials.toml",
                    format!("{}/id", at()),
                    format!(
                        "duplicate access key id `{}` (ids are unique across clouds)",
                        k.id
                    ),
                );
            }
        }
        for (i, t) in creds.tokens.iter().enumerate() {
            let at = || format!("/token/{i}");
            let Some(principal) = self.principal_for(&t.account, &t.user, at) else {
                continue;
            };
            let Ok(expires_at) = OffsetDateTime::parse(&t.expires_at, &Rfc3339) else {
                self.error(
                    "credentials.toml",
                    format!("{}/expires_at", at()),
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
                self.error(
                    "credentials.toml",
                    format!("{}/token", at()),
                    "duplicate token",
                );
            }
        }
        self.passwords(creds);
    }

    /// Passwords for the built-in IAM's password tokens (Huawei accounts only).
    fn passwords(&mut self, creds: &CredentialsFile) {
        for (i, p) in creds.passwords.iter().enumerate() {
            let at = || format!("/password/{i}");
            let Some(principal) = self.principal_for(&p.account, &p.user, at) else {
                continue;
            };
            if principal.cloud != crate::cloud::Cloud::Huawei || p.password.is_empty() {
                let msg = "a password needs a huawei account and a non-empty value";
                self.error("credentials.toml", at(), msg);
                continue;
            }
            let key = (p.account.clone(), p.user.clone());
            if self.dir.passwords.insert(key, p.password.clone()).is_some() {
                self.error(
                    "credentials.toml",
                    at(),
                    "duplicate password for this identity",
                );
            }
        }
    }

    pub(super) fn resources(&mut self, file: &ResourcesFile) {
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
