//! The cryptographic and clock checks both schemes share: hex SHA-256,
//! HMAC-SHA256 signing (for tests and test clients), constant-time
//! signature verification (`Mac::verify_slice` on the decoded hex, so no
//! early-exit string comparison), and the ±[`MAX_CLOCK_SKEW`] date window.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use time::format_description::BorrowedFormatItem;
use time::{OffsetDateTime, PrimitiveDateTime};

use super::error::{snippet, AuthFailure};

type HmacSha256 = Hmac<Sha256>;

/// How far a request's date header may be from the gateway's clock, either way.
pub const MAX_CLOCK_SKEW: time::Duration = time::Duration::minutes(15);

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex32(&Sha256::digest(bytes).into())
}

/// Lower-case hex of a 32-byte digest, encoded into a buffer at once
/// (`hex::encode` goes a `char` at a time: a tenth of a verification).
fn hex32(digest: &[u8; 32]) -> String {
    let mut buf = [0u8; 64];
    match hex::encode_to_slice(digest, &mut buf) {
        Ok(()) => String::from_utf8_lossy(&buf).into_owned(),
        // 64 bytes hold 32 encoded: unreachable.
        Err(_) => hex::encode(digest),
    }
}

/// Lower-case hex HMAC-SHA256 of `message` under `key` (how both SDKs sign
/// the string to sign). Verification must use [`verify_signature_hex`].
pub fn hmac_sha256_hex(key: &[u8], message: &str) -> String {
    match HmacSha256::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(message.as_bytes());
            hex32(&mac.finalize().into_bytes().into())
        }
        // HMAC accepts keys of any length; this arm is unreachable.
        Err(_) => String::new(),
    }
}

/// Checks in constant time that `signature_hex` is the HMAC-SHA256 of
/// `string_to_sign` under `secret`.
pub(crate) fn verify_signature_hex(
    secret: &[u8],
    string_to_sign: &str,
    signature_hex: &str,
) -> Result<(), AuthFailure> {
    let mut expected = [0u8; 32];
    hex::decode_to_slice(signature_hex, &mut expected)
        .map_err(|_| AuthFailure::SignatureMismatch)?;
    let mut mac = HmacSha256::new_from_slice(secret).map_err(|_| AuthFailure::SignatureMismatch)?;
    mac.update(string_to_sign.as_bytes());
    mac.verify_slice(&expected)
        .map_err(|_| AuthFailure::SignatureMismatch)
}

/// Parses `value` with `format` as a UTC time and checks that it lies within
/// ±[`MAX_CLOCK_SKEW`] of `now`, returning it; unparsable or outside →
/// `Expired`.
pub(crate) fn check_date(
    value: &str,
    format: &[BorrowedFormatItem<'_>],
    now: OffsetDateTime,
) -> Result<OffsetDateTime, AuthFailure> {
    let expired = || AuthFailure::Expired {
        date: snippet(value),
    };
    let date = PrimitiveDateTime::parse(value, format)
        .map_err(|_| expired())?
        .assume_utc();
    if (now - date).abs() > MAX_CLOCK_SKEW {
        return Err(expired());
    }
    Ok(date)
}

/// Whether a signature is 64 hex digits (32 bytes), checked at parse time.
pub(crate) fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use time::macros::{datetime, format_description};

    #[test]
    fn empty_sha256_is_the_known_constant() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn verify_accepts_own_signature_and_rejects_others() {
        let sig = hmac_sha256_hex(b"k", "msg");
        assert_eq!(verify_signature_hex(b"k", "msg", &sig), Ok(()));
        assert_eq!(
            verify_signature_hex(b"k2", "msg", &sig),
            Err(AuthFailure::SignatureMismatch)
        );
        assert_eq!(
            verify_signature_hex(b"k", "msg", "zz"),
            Err(AuthFailure::SignatureMismatch)
        );
    }

    #[test]
    fn date_window_is_inclusive_at_fifteen_minutes() {
        let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
        let date = "2025-01-01T00:00:00Z";
        assert!(check_date(date, fmt, datetime!(2025-01-01 00:15:00 UTC)).is_ok());
        assert!(check_date(date, fmt, datetime!(2024-12-31 23:45:00 UTC)).is_ok());
        assert!(check_date(date, fmt, datetime!(2025-01-01 00:15:01 UTC)).is_err());
        assert!(check_date("garbage", fmt, datetime!(2025-01-01 00:00:00 UTC)).is_err());
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231, test case 2.
        assert_eq!(
            hmac_sha256_hex(b"Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_signature_is_exactly_64_hex_digits() {
        assert!(is_sha256_hex(&"aF".repeat(32)));
        assert!(!is_sha256_hex(&"a".repeat(63)));
        assert!(!is_sha256_hex(&"a".repeat(65)));
        assert!(!is_sha256_hex(&format!("{}g", "a".repeat(63))));
    }

    #[test]
    fn the_parsed_date_is_returned() {
        let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
        let now = datetime!(2025-01-01 00:10:00 UTC);
        let got = check_date("2025-01-01T00:00:07Z", fmt, now).unwrap();
        assert_eq!(got, datetime!(2025-01-01 00:00:07 UTC));
    }
}
