use super::*;
use crate::directory::load;
use http::HeaderValue;

fn sample() -> Directory {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    load(&dir, &mut Vec::new()).unwrap().0
}

fn who(dir: &Directory, user: Option<&str>) -> Authenticated {
    Authenticated {
        principal: dir.principal("1234567890123456", user).unwrap().clone(),
        access_key: Some("LTAIASSUMEREXAMPLE004".into()),
        mfa: false,
    }
}

fn headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("x-acs-action", HeaderValue::from_static("AssumeRole"));
    h.insert("x-acs-version", HeaderValue::from_static("2015-04-01"));
    h
}

const READER: &str =
    "RoleArn=acs%3Aram%3A%3A1234567890123456%3Arole%2FAgentRunReader&RoleSessionName=ci";

fn code(r: Result<AssumeRoleCall, GatewayError>) -> (StatusCode, &'static str) {
    match r.map(|_| ()).unwrap_err() {
        GatewayError::Service { status, code, .. } => (status, code),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_valid_call_names_the_role_and_defaults_to_an_hour() {
    let dir = sample();
    let call = prepare(&dir, &who(&dir, Some("assumer")), &headers(), Some(READER)).unwrap();
    assert_eq!(
        call.role.arn,
        "acs:ram::1234567890123456:role/agentrunreader"
    );
    assert_eq!((call.session_name.as_str(), call.duration), ("ci", 3600));
    assert!(call.policy.is_none() && call.external_id.is_none());
}

#[test]
fn parameter_errors_have_sts_codes() {
    let dir = sample();
    let w = who(&dir, Some("assumer"));
    let h = headers();
    let bad = StatusCode::BAD_REQUEST;
    let q = |extra: &str| format!("{READER}{extra}");
    assert_eq!(
        code(prepare(&dir, &w, &h, Some("RoleSessionName=ci"))),
        (bad, "MissingRoleArn")
    );
    assert_eq!(
        code(prepare(&dir, &w, &h, Some("RoleArn=x"))),
        (bad, "MissingRoleSessionName")
    );
    let bad_name = READER.replace("=ci", "=c");
    assert_eq!(
        code(prepare(&dir, &w, &h, Some(&bad_name))),
        (bad, "InvalidParameter.RoleSessionName")
    );
    assert_eq!(
        code(prepare(&dir, &w, &h, Some(&q("&DurationSeconds=899")))),
        (bad, "InvalidParameter.DurationSeconds")
    );
    assert_eq!(
        code(prepare(&dir, &w, &h, Some(&q("&DurationSeconds=3601")))),
        (bad, "InvalidParameter.DurationSeconds")
    );
    assert!(prepare(&dir, &w, &h, Some(&q("&DurationSeconds=900"))).is_ok());
    assert_eq!(
        code(prepare(&dir, &w, &h, Some(&q("&Policy=%7B")))),
        (bad, "InvalidParameter.PolicyGrammar")
    );
    assert_eq!(
        code(prepare(&dir, &w, &h, Some(&q("&RoleSessionName=again")))),
        (bad, "InvalidParameter")
    );
    let malformed = "RoleArn=acs%3Aram%3A%3A1%3Auser%2Fx&RoleSessionName=ci";
    assert_eq!(
        code(prepare(&dir, &w, &h, Some(malformed))),
        (bad, "InvalidParameter.RoleArn")
    );
    let unknown = "RoleArn=acs%3Aram%3A%3A1234567890123456%3Arole%2Fnope&RoleSessionName=ci";
    assert_eq!(
        code(prepare(&dir, &w, &h, Some(unknown))),
        (StatusCode::NOT_FOUND, "EntityNotExist.Role")
    );
}

#[test]
fn the_deployer_allows_two_hours() {
    let dir = sample();
    let w = who(&dir, Some("assumer"));
    let q = "RoleArn=acs%3Aram%3A%3A1234567890123456%3Arole%2Fagentrundeployer&RoleSessionName=deploy&DurationSeconds=7200";
    assert_eq!(
        prepare(&dir, &w, &headers(), Some(q)).unwrap().duration,
        7200
    );
}

#[test]
fn root_and_other_actions_are_refused() {
    let dir = sample();
    let root = who(&dir, None);
    assert_eq!(
        code(prepare(&dir, &root, &headers(), Some(READER))),
        (StatusCode::FORBIDDEN, "NoPermission")
    );
    let mut h = headers();
    h.insert(
        "x-acs-action",
        HeaderValue::from_static("GetCallerIdentity"),
    );
    let w = who(&dir, Some("assumer"));
    assert_eq!(
        code(prepare(&dir, &w, &h, Some(READER))),
        (StatusCode::NOT_FOUND, "InvalidAction.NotFound")
    );
}

#[test]
fn complete_asks_the_trust_policy_with_the_external_id() {
    let dir = sample();
    let w = who(&dir, Some("assumer"));
    let q =
        "RoleArn=acs%3Aram%3A%3A1234567890123456%3Arole%2FAgentRunDeployer&RoleSessionName=deploy";
    let call = prepare(&dir, &w, &headers(), Some(q)).unwrap();
    let now = OffsetDateTime::now_utc();
    let refused = complete(&call, &w, Context::new(), now, "rid")
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(
            refused,
            GatewayError::Service {
                status: StatusCode::FORBIDDEN,
                code: "NoPermission",
                ..
            }
        ),
        "{refused:?}"
    );
    assert!(
        refused.to_string().contains("agentrundeployer"),
        "{refused}"
    );
    let with_id = format!("{q}&ExternalId=deploy-pipeline");
    let call = prepare(&dir, &w, &headers(), Some(&with_id)).unwrap();
    let resp = complete(&call, &w, Context::new(), now, "rid").unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}
