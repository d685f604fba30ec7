//! Unit tests of the error bodies: every variant's status, codes and
//! messages in each dialect, the Alibaba statuses of authentication
//! failures, the denial bodies (wording, principal type, policy type,
//! encoded explanation) and the labels. Written against the mutants
//! cargo-mutants found (tests/MUTANTS.md): before them only integration
//! tests, which the per-file runs do not build, read these bodies.

use std::sync::Arc;

use http_body_util::BodyExt;
use serde_json::{json, Value};

use super::*;
use crate::identity::ReplayLimit;
use crate::policy::{PolicySource, StatementRef};

const RID: &str = "rid-1";

/// Status, `Content-Type` and JSON body of `e` answered to `cloud`.
async fn render(e: GatewayError, cloud: Option<Cloud>) -> (StatusCode, String, Value) {
    let resp = e.into_response(cloud, RID);
    let status = resp.status();
    let ctype = resp.headers()[http::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_string();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, ctype, serde_json::from_slice(&bytes).unwrap())
}

/// Status, Huawei code and message, Alibaba code and message, label,
/// whether the connection closes.
type Expected = (
    u16,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
);

fn plain_errors() -> Vec<(GatewayError, Expected)> {
    use GatewayError as E;
    let unmapped = "The API does not exist or has not been published: \
                    operation Op of ecs is known but has no action in the catalog";
    let project = "Incorrect project information: project p1: not yours";
    vec![
        (
            E::BadRequest("m".into()),
            (
                400,
                "APIGW.0201",
                "m",
                "InvalidParameter",
                "m",
                "bad_request",
                false,
            ),
        ),
        (
            E::BadFraming("f".into()),
            (
                400,
                "APIGW.0201",
                "f",
                "InvalidParameter",
                "f",
                "bad_request",
                true,
            ),
        ),
        (
            E::BodyTimeout(200),
            (
                408,
                "APIGW.0201",
                "the request body did not arrive within 200 ms",
                "RequestTimeout",
                "the request body did not arrive within 200 ms",
                "bad_request",
                true,
            ),
        ),
        (
            E::Busy("bodies"),
            (
                503,
                "APIGW.0201",
                "the gateway is busy: bodies",
                "ServiceUnavailable",
                "the gateway is busy: bodies",
                "busy",
                false,
            ),
        ),
        (
            E::NotFound,
            (
                404,
                "APIGW.0101",
                "No API found for this method and path",
                "InvalidAction.NotFound",
                "No API found for this method and path",
                "not_found",
                false,
            ),
        ),
        (
            E::ResourceNotFound("vpc-1".into()),
            (
                404,
                "APIGW.0404",
                "the resource does not exist: vpc-1",
                "EntityNotExist",
                "the resource does not exist: vpc-1",
                "foreign_resource",
                false,
            ),
        ),
        (
            E::Unmapped {
                service: "ecs".into(),
                operation: "Op".into(),
            },
            (
                404,
                "APIGW.0101",
                unmapped,
                "InvalidAction.NotFound",
                unmapped,
                "unmapped",
                false,
            ),
        ),
        (
            E::BodyTooLarge { limit: 16 },
            (
                413,
                "APIGW.0201",
                "request body larger than 16 bytes",
                "RequestTooLarge",
                "request body larger than 16 bytes",
                "bad_request",
                true,
            ),
        ),
        (
            E::Project {
                project: "p1".into(),
                why: "not yours".into(),
            },
            (
                403,
                "APIGW.0302",
                project,
                "Forbidden.Project",
                project,
                "wrong_project",
                false,
            ),
        ),
        (
            E::UpstreamUnavailable("refused".into()),
            (
                502,
                "APIGW.0201",
                "Backend unavailable: refused",
                "ServiceUnavailable",
                "Backend unavailable: refused",
                "error",
                false,
            ),
        ),
        (
            E::UpstreamTimeout,
            (
                504,
                "APIGW.0201",
                "Backend timeout",
                "GatewayTimeout",
                "Backend timeout",
                "error",
                false,
            ),
        ),
        (
            E::Service {
                status: StatusCode::FORBIDDEN,
                code: "NoPermission.Role",
                message: "not trusted".into(),
            },
            (
                403,
                "APIGW.0201",
                "not trusted",
                "NoPermission.Role",
                "not trusted",
                "implicit_deny",
                false,
            ),
        ),
        (
            E::Service {
                status: StatusCode::NOT_FOUND,
                code: "EntityNotExist.Role",
                message: "no role".into(),
            },
            (
                404,
                "APIGW.0201",
                "no role",
                "EntityNotExist.Role",
                "no role",
                "not_found",
                false,
            ),
        ),
    ]
}

#[tokio::test]
async fn every_error_has_its_status_codes_and_messages_in_each_dialect() {
    for (e, expected) in plain_errors() {
        let (status, hw_code, hw_msg, ali_code, ali_msg, label, closes) = expected;
        let name = format!("{e:?}");
        assert_eq!(e.decision_label(), label, "{name}");
        assert_eq!(e.closes_connection(), closes, "{name}");
        let (got, ctype, body) = render(e, None).await;
        assert_eq!(got.as_u16(), status, "{name}");
        assert_eq!(ctype, "application/json", "{name}");
        let both = json!({
            "error_code": hw_code, "error_msg": hw_msg, "request_id": RID,
            "Code": ali_code, "Message": ali_msg, "RequestId": RID,
        });
        assert_eq!(body, both, "{name}");
    }
    for (cloud, shape) in [
        (
            Cloud::Huawei,
            json!({"error_code": "APIGW.0101", "error_msg": "No API found for this method and path", "request_id": RID}),
        ),
        (
            Cloud::Aliyun,
            json!({"RequestId": RID, "Code": "InvalidAction.NotFound", "Message": "No API found for this method and path"}),
        ),
    ] {
        let (status, _, body) = render(GatewayError::NotFound, Some(cloud)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body, shape, "{cloud:?}");
    }
}

/// An authentication failure, its Huawei message detail, its Alibaba code
/// and message, its Huawei status and its Alibaba status.
type AuthCase = (
    AuthError,
    &'static str,
    &'static str,
    &'static str,
    u16,
    u16,
);

fn auth_cases() -> Vec<AuthCase> {
    use AuthError as A;
    use AuthFailure as F;
    let sig = "verify aksk signature fail";
    let incomplete = (
        "IncompleteSignature",
        "The request signature does not conform to Aliyun standards.",
    );
    let mismatch = (
        "SignatureDoesNotMatch",
        "Specified signature does not match our calculation.",
    );
    vec![
        (
            A::Verify(F::Missing),
            "x-auth-token not found",
            incomplete.0,
            incomplete.1,
            401,
            400,
        ),
        (
            A::Verify(F::Expired { date: "d".into() }),
            "x-sdk-date expired",
            "InvalidTimeStamp.Expired",
            "Specified time stamp or date value is expired.",
            401,
            400,
        ),
        (
            A::Verify(F::UnsupportedAlgorithm("X".into())),
            "unsupported algorithm",
            incomplete.0,
            incomplete.1,
            401,
            400,
        ),
        (
            A::Verify(F::TemporaryCredentials),
            "temporary security credentials are not supported",
            incomplete.0,
            incomplete.1,
            401,
            400,
        ),
        (
            A::Verify(F::UnsignedPayload),
            "verify aksk signature fail: UNSIGNED-PAYLOAD is not accepted, the body must be signed",
            incomplete.0,
            incomplete.1,
            401,
            400,
        ),
        (
            A::Verify(F::Malformed("m".into())),
            sig,
            incomplete.0,
            incomplete.1,
            401,
            400,
        ),
        (
            A::Verify(F::SignatureMismatch),
            sig,
            mismatch.0,
            mismatch.1,
            401,
            400,
        ),
        (
            A::Verify(F::BodyHashMismatch),
            sig,
            mismatch.0,
            mismatch.1,
            401,
            400,
        ),
        (
            A::Verify(F::NonceReused),
            sig,
            "SignatureNonceUsed",
            "Specified signature nonce was used already.",
            401,
            400,
        ),
        (
            A::Verify(F::ReplayStoreFull(ReplayLimit::Quota)),
            sig,
            "ServiceUnavailable",
            "The replay-protection store is full; retry later.",
            503,
            503,
        ),
        (
            A::Verify(F::ReplayStoreUnavailable),
            sig,
            "ServiceUnavailable",
            "The replay-protection store is unavailable; retry later.",
            503,
            503,
        ),
        (
            A::UnknownKey,
            "ak not found",
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.",
            401,
            404,
        ),
        (
            A::UnknownToken,
            "decrypt token fail",
            incomplete.0,
            incomplete.1,
            401,
            400,
        ),
        (
            A::TokenExpired {
                expires_at: "t0".into(),
            },
            "token expires, expires_at: t0",
            incomplete.0,
            incomplete.1,
            401,
            400,
        ),
        (
            A::MissingSecurityToken,
            "a security token is required with a temporary access key",
            "MissingSecurityToken",
            "SecurityToken is mandatory for this action.",
            401,
            400,
        ),
        (
            A::SecurityTokenInvalid,
            "security token not recognised",
            "InvalidSecurityToken.Malformed",
            "Specified SecurityToken is malformed.",
            401,
            400,
        ),
        (
            A::SecurityTokenMismatch,
            "security token does not belong to this access key",
            "InvalidSecurityToken.MismatchWithAccessKey",
            "Specified SecurityToken mismatch with the AccessKey.",
            401,
            400,
        ),
        (
            A::SecurityTokenExpired {
                expiration: "t1".into(),
            },
            "security token expired at t1",
            "InvalidSecurityToken.Expired",
            "Specified SecurityToken is expired.",
            401,
            400,
        ),
    ]
}

#[tokio::test]
async fn authentication_failures_have_each_clouds_code_and_status() {
    for (a, detail, ali_code, ali_msg, hw_status, ali_status) in auth_cases() {
        let name = format!("{a:?}");
        let hw_msg = format!("Incorrect IAM authentication information: {detail}");
        let e = || GatewayError::Auth(a.clone());
        assert_eq!(e().decision_label(), "unauthenticated", "{name}");
        assert!(!e().closes_connection(), "{name}");

        let (status, ctype, body) = render(e(), Some(Cloud::Huawei)).await;
        assert_eq!(status.as_u16(), hw_status, "{name}");
        assert_eq!(ctype, "application/json");
        let huawei = json!({"error_code": "APIGW.0301", "error_msg": hw_msg, "request_id": RID});
        assert_eq!(body, huawei, "{name}");

        let (status, _, body) = render(e(), Some(Cloud::Aliyun)).await;
        assert_eq!(status.as_u16(), ali_status, "{name}");
        let aliyun = json!({"RequestId": RID, "Code": ali_code, "Message": ali_msg});
        assert_eq!(body, aliyun, "{name}");

        // No dialect known: both shapes, the Huawei status.
        let (status, _, body) = render(e(), None).await;
        assert_eq!(status.as_u16(), hw_status, "{name}");
        assert_eq!(body["error_msg"], hw_msg.as_str(), "{name}");
        assert_eq!(body["Code"], ali_code, "{name}");
    }
}

fn denied(kind: DecisionKind, reason: Reason, urn: &str, is_root: bool) -> GatewayError {
    GatewayError::Denied(Box::new(DenialDetails {
        denial: Denial {
            action: "ecs:servers:list".into(),
            resource: "ecs:*:123:server/*".into(),
            decision: Decision { kind, reason },
        },
        principal_urn: urn.into(),
        principal_display: "alice".into(),
        account_id: "123".into(),
        is_root,
        explanation: json!({"decision": kind.as_str(), "n": 1}).to_string(),
    }))
}

fn org_statement() -> Reason {
    Reason::Statement(StatementRef {
        source: PolicySource::Org {
            level: 1,
            node: "ou-x".into(),
        },
        policy: "scp".into(),
        index: 0,
        sid: None,
    })
}

fn decode(v: &Value) -> Value {
    let text = v.as_str().unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn a_denial_names_who_what_and_which_kind_of_policy() {
    let user = "iam::123:user/alice";
    let session = "sts::123:assumed-role/ops/s1";
    let cases = [
        (
            denied(
                DecisionKind::ImplicitDeny,
                Reason::NoIdentityAllow,
                user,
                false,
            ),
            "because no identity-based policy allows the ecs:servers:list action",
            ("SubUser", "AccountLevelIdentityBasedPolicy", "ImplicitDeny"),
        ),
        (
            denied(DecisionKind::ExplicitDeny, org_statement(), session, false),
            "with an explicit deny in a service control policy",
            ("AssumedRoleUser", "ControlPolicy", "ExplicitDeny"),
        ),
        (
            denied(
                DecisionKind::ExplicitDeny,
                Reason::NoIdentityAllow,
                user,
                true,
            ),
            "with an explicit deny in an identity-based policy",
            ("Account", "AccountLevelIdentityBasedPolicy", "ExplicitDeny"),
        ),
        (
            denied(
                DecisionKind::ImplicitDeny,
                Reason::NoOrgAllow {
                    level: 0,
                    node: "r-root".into(),
                },
                session,
                true,
            ),
            "because no service control policy allows the ecs:servers:list action",
            ("Account", "ControlPolicy", "ImplicitDeny"),
        ),
    ];
    for (e, tail, (ptype, policy_type, no_permission)) in cases {
        let GatewayError::Denied(d) = &e else {
            unreachable!()
        };
        let (urn, kind) = (d.principal_urn.clone(), d.denial.decision.kind);
        assert_eq!(e.decision_label(), kind.as_str());
        assert!(!e.closes_connection());
        let explanation: Value = serde_json::from_str(&d.explanation).unwrap();
        let hw_msg = format!(
            "User: {urn} is not authorized to perform: ecs:servers:list \
             on resource: ecs:*:123:server/* {tail}"
        );
        let ali_msg = "You are not authorized to do this action. \
                       Resource: ecs:*:123:server/* Action: ecs:servers:list";

        let again = denied(kind, d.denial.decision.reason.clone(), &urn, d.is_root);
        let both = denied(kind, d.denial.decision.reason.clone(), &urn, d.is_root);
        let (status, _, body) = render(e, Some(Cloud::Huawei)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["error_code"], "APIGW.0302");
        assert_eq!(body["error_msg"], hw_msg.as_str());
        assert_eq!(body["request_id"], RID);
        assert_eq!(decode(&body["encoded_authorization_message"]), explanation);

        let (status, _, body) = render(again, Some(Cloud::Aliyun)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(body.get("encoded_authorization_message").is_none());
        assert_eq!(body["Code"], "NoPermission");
        assert_eq!(body["Message"], ali_msg);
        let detail = &body["AccessDeniedDetail"];
        assert_eq!(detail["AuthAction"], "ecs:servers:list");
        assert_eq!(detail["AuthPrincipalType"], ptype, "{urn}");
        assert_eq!(detail["AuthPrincipalOwnerId"], "123");
        assert_eq!(detail["AuthPrincipalDisplayName"], "alice");
        assert_eq!(detail["PolicyType"], policy_type);
        assert_eq!(detail["NoPermissionType"], no_permission);
        assert_eq!(decode(&detail["EncodedDiagnosticMessage"]), explanation);

        // No dialect known (never the case for a denial on the wire, which
        // always has a route): both shapes, each with its details.
        let (status, _, body) = render(both, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["error_code"], "APIGW.0302");
        assert_eq!(body["Code"], "NoPermission");
        assert_eq!(decode(&body["encoded_authorization_message"]), explanation);
        let detail = &body["AccessDeniedDetail"];
        assert_eq!(decode(&detail["EncodedDiagnosticMessage"]), explanation);
    }
}

#[test]
fn a_built_in_services_refusal_is_labelled_by_its_status() {
    assert_eq!(service_label(StatusCode::FORBIDDEN), "implicit_deny");
    assert_eq!(service_label(StatusCode::NOT_FOUND), "not_found");
    assert_eq!(service_label(StatusCode::BAD_REQUEST), "bad_request");
    assert_eq!(service_label(StatusCode::CONFLICT), "bad_request");
}

#[tokio::test]
async fn json_response_sets_status_type_and_body() {
    let resp = json_response(StatusCode::CONFLICT, &json!({"a": [1, "b"]}));
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert_eq!(
        resp.headers()[http::header::CONTENT_TYPE],
        "application/json"
    );
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&bytes[..], br#"{"a":[1,"b"]}"#);
}

#[test]
fn each_reason_has_a_one_line_summary() {
    let statement = Reason::Statement(StatementRef {
        source: PolicySource::Identity,
        policy: "p".into(),
        index: 2,
        sid: Some(Arc::from("S1")),
    });
    let cases = [
        (statement, "p#2 (S1)"),
        (
            Reason::NoOrgAllow {
                level: 1,
                node: "ou-x".into(),
            },
            "no allow at organisation level 1 (ou-x)",
        ),
        (
            Reason::NoIdentityAllow,
            "no identity-based policy allows it",
        ),
        (Reason::RootUser, "account root identity"),
        (
            Reason::NoSessionAllow,
            "the session policy does not allow it",
        ),
    ];
    for (reason, text) in cases {
        assert_eq!(reason_summary(&reason), text);
    }
}

#[test]
fn an_encoded_explanation_is_written_exactly_as_the_escaping_serializer_writes_it() {
    let long = format!("{{\"a\":\"{}\"}}", "x\"é\u{1F600}\\".repeat(300));
    for json in ["", "{}", r#"{"reason":"no \"allow\" é"}"#, long.as_str()] {
        let raw = encode(json);
        assert!(matches!(raw, Encoded::Raw(_)), "{json}");
        let text = Encoded::Text(base64::engine::general_purpose::STANDARD.encode(json));
        let (raw, text) = (serde_json::to_string(&raw), serde_json::to_string(&text));
        assert_eq!(raw.unwrap(), text.unwrap(), "{json}");
    }
}
