//! Small signers written from spec/signing.md, independent of the gateway's
//! verifier (no shared canonicaliser): Huawei `SDK-HMAC-SHA256` and Alibaba
//! `ACS3-HMAC-SHA256`, for paths without a query and ASCII-safe segments.

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::Request;
use http_body_util::Full;
use sha2::{Digest, Sha256};
use time::macros::format_description;
use time::OffsetDateTime;

/// The `Host` every signed test request carries.
pub const HOST: &str = "127.0.0.1:8080";

/// Lower-case hex SHA-256.
pub fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Lower-case hex HMAC-SHA256 of `text` under `key`.
pub fn hex_hmac(key: &str, text: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(text.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Canonical headers and the signed-header list for `headers` (lower-case
/// names, any order).
fn canonical_headers(headers: &[(&str, String)]) -> (String, String) {
    let mut sorted: Vec<_> = headers.to_vec();
    sorted.sort();
    let lines: String = sorted
        .iter()
        .map(|(k, v)| format!("{k}:{}\n", v.trim()))
        .collect();
    let names: Vec<&str> = sorted.iter().map(|(k, _)| *k).collect();
    (lines, names.join(";"))
}

/// A Huawei AK/SK request: `extra` headers are signed too.
pub fn huawei(
    method: &str,
    path: &str,
    body: &[u8],
    key: (&str, &str),
    extra: &[(&str, &str)],
) -> Request<Full<Bytes>> {
    let fmt = format_description!("[year][month][day]T[hour][minute][second]Z");
    let date = OffsetDateTime::now_utc().format(fmt).unwrap();
    let mut headers = vec![("host", HOST.to_string()), ("x-sdk-date", date.clone())];
    headers.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    let (lines, signed) = canonical_headers(&headers);
    let canonical = format!(
        "{method}\n{path}/\n\n{lines}\n{signed}\n{}",
        hex_sha256(body)
    );
    let to_sign = format!(
        "SDK-HMAC-SHA256\n{date}\n{}",
        hex_sha256(canonical.as_bytes())
    );
    let sig = hex_hmac(key.1, &to_sign);
    let mut b = Request::builder().method(method).uri(path);
    for (k, v) in &headers {
        b = b.header(*k, v);
    }
    let auth = format!(
        "SDK-HMAC-SHA256 Access={}, SignedHeaders={signed}, Signature={sig}",
        key.0
    );
    b.header("authorization", auth)
        .body(Full::new(Bytes::copy_from_slice(body)))
        .unwrap()
}

/// An Alibaba ACS3 request with a fresh nonce: `extra` headers are signed too.
pub fn acs3(
    method: &str,
    path: &str,
    key: (&str, &str),
    extra: &[(&str, &str)],
) -> Request<Full<Bytes>> {
    let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    let date = OffsetDateTime::now_utc().format(fmt).unwrap();
    let payload = hex_sha256(b"");
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let mut headers = vec![
        ("host", HOST.to_string()),
        ("x-acs-content-sha256", payload.clone()),
        ("x-acs-date", date),
        ("x-acs-signature-nonce", nonce),
    ];
    headers.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    let (lines, signed) = canonical_headers(&headers);
    let canonical = format!("{method}\n{path}\n\n{lines}\n{signed}\n{payload}");
    let sig = hex_hmac(
        key.1,
        &format!("ACS3-HMAC-SHA256\n{}", hex_sha256(canonical.as_bytes())),
    );
    let mut b = Request::builder().method(method).uri(path);
    for (k, v) in &headers {
        b = b.header(*k, v);
    }
    let auth = format!(
        "ACS3-HMAC-SHA256 Credential={},SignedHeaders={signed},Signature={sig}",
        key.0
    );
    b.header("authorization", auth)
        .body(Full::new(Bytes::new()))
        .unwrap()
}
