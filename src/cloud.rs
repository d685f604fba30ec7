//! The clouds iamgate speaks. A cloud fixes the policy grammar, the form of
//! resource names (URN or ARN), the signature schemes and the error bodies.

use serde::Deserialize;

/// A cloud dialect. Every account, route file and policy belongs to one.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Cloud {
    /// Huawei Cloud: IAM v5 identity policies, Organizations SCPs, SDK-HMAC-SHA256.
    Huawei,
    /// Alibaba Cloud: RAM policies, Resource Directory control policies, ACS3-HMAC-SHA256.
    Aliyun,
}

impl Cloud {
    /// The name used in files and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Cloud::Huawei => "huawei",
            Cloud::Aliyun => "aliyun",
        }
    }

    /// The `Version` a policy document of this cloud must declare.
    pub fn policy_version(self) -> &'static str {
        match self {
            Cloud::Huawei => "5.0",
            Cloud::Aliyun => "1",
        }
    }

    /// The built-in organisation policy a node gets when it lists none.
    pub fn default_org_policy(self) -> &'static str {
        match self {
            Cloud::Huawei => "FullAccess",
            Cloud::Aliyun => "FullAliyunAccess",
        }
    }
}

impl std::fmt::Display for Cloud {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
