//! Verification of signed requests and tokens: Huawei `SDK-HMAC-SHA256`
//! ([`verify_sdk_hmac`]), Alibaba `ACS3-HMAC-SHA256` ([`verify_acs3`]) with
//! its replay-protecting [`NonceStore`], all failing with one
//! [`AuthFailure`]. Verifiers are pure apart from the nonce store: the
//! secret and `now` are inputs; looking up the secret for an access key and
//! mapping failures to HTTP happen elsewhere.

mod acs3;
pub mod authenticate;
mod authorization;
mod crypto;
mod error;
mod nonce;
mod nonce_redis;
#[cfg(test)]
mod reference_signer;
mod request;
mod sdk_hmac;
#[cfg(test)]
mod test_vectors;

pub use acs3::{
    acs3_canonical_request, acs3_string_to_sign, check_acs3_head, check_acs3_session_head,
    parse_acs3, verify_acs3, verify_acs3_session, verify_acs3_signature, Acs3Auth, ACS3_ALGORITHM,
    MAX_NONCE_LEN,
};
pub use authenticate::{authenticate, identify, AuthError, Authenticated, Credential};
pub use authorization::SignedAuthorization;
pub use crypto::{hmac_sha256_hex, sha256_hex, MAX_CLOCK_SKEW};
pub use error::{AuthFailure, ReplayLimit};
pub use nonce::NonceStore;
pub use nonce_redis::{validate_redis_url, RedisNonceStore, Replay};
pub use request::HttpParts;
pub use sdk_hmac::{
    check_sdk_hmac_head, check_sdk_hmac_session_head, parse_sdk_hmac, sdk_hmac_canonical_request,
    sdk_hmac_string_to_sign, verify_sdk_hmac, verify_sdk_hmac_session, SdkHmacAuth,
    UnsignedPayload, SDK_HMAC_ALGORITHM,
};
