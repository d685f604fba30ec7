"""The sample identities of policies/ (obviously fake credentials), as the
end-to-end tests use them."""

ACME_PROJECT = "p-acme-cn4"
SOLO_PROJECT = "p-solo-cn4"

# user → (access key, secret) in account acme0001 (org: r-demo → ou-prod → acme0001)
ALICE = ("HWALICEEXAMPLEAK0001", "alice-example-secret-not-real")
READER = ("HWREADEREXAMPLEAK002", "reader-example-secret-not-real")
OPERATOR = ("HWOPERATOREXAMPLE003", "operator-example-secret-not-real")
TAGGER = ("HWTAGGEREXAMPLEAK004", "tagger-example-secret-not-real")
# solo0002: an account outside any organisation
SOLO = ("HWSOLOEXAMPLEAK00005", "solo-example-secret-not-real")


def modelarts_client(url, creds, project=ACME_PROJECT):
    """The unchanged Huawei ModelArts SDK pointed at the gateway."""
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkmodelarts.v1 import ModelArtsClient

    ak, sk = creds
    return (
        ModelArtsClient.new_builder()
        .with_credentials(BasicCredentials(ak, sk, project))
        .with_endpoints([url])
        .build()
    )


# --- Alibaba Cloud (Resource Directory rd-demo: rd-root → fd-dev / fd-prod) ---

AGENTRUN_REGION = "cn-hangzhou"
# 1234567890123456 agentrun-dev, under fd-dev (FullAliyunAccess only)
DEV_ACCOUNT = "1234567890123456"
# 6543210987654321 agentrun-prod, under fd-prod (FullAliyunAccess + DenyAgentRuntimeDelete)
PROD_ACCOUNT = "6543210987654321"

# user → (AccessKey id, secret)
RUNNER = ("LTAIRUNNEREXAMPLE0001", "runner-example-secret-not-real")  # seed full-access policy
VIEWER = ("LTAIVIEWEREXAMPLE0002", "viewer-example-secret-not-real")  # Get*/List* on templates/*
GUARDED = ("LTAIGUARDEDEXAMPLE003", "guarded-example-secret-not-real")  # full access, in fd-prod
PROD_ROOT = ("LTAIPRODROOTEXAMPLE04", "prod-root-example-secret-not-real")  # root of agentrun-prod


def agentrun_client(host, port, creds):
    """The unchanged Alibaba AgentRun SDK pointed at the gateway."""
    from alibabacloud_agentrun20250910.client import Client
    from alibabacloud_tea_openapi import models as open_api_models

    ak, sk = creds
    config = open_api_models.Config(
        access_key_id=ak, access_key_secret=sk, endpoint=f"{host}:{port}", protocol="http"
    )
    return Client(config)

# May assume the account's agentrun* roles (policy sts-assume-agentrun-roles).
ASSUMER = ("LTAIASSUMEREXAMPLE004", "assumer-example-secret-not-real")


def sts_client(host, port, creds):
    """The unchanged Alibaba STS SDK (alibabacloud-sts20150401 1.2.0) pointed at the gateway."""
    from alibabacloud_sts20150401.client import Client
    from alibabacloud_tea_openapi import models as open_api_models

    ak, sk = creds
    config = open_api_models.Config(
        access_key_id=ak, access_key_secret=sk, endpoint=f"{host}:{port}", protocol="http"
    )
    return Client(config)


def session_agentrun_client(host, port, credentials):
    """The AgentRun SDK signing with STS credentials (AccessKeyId, secret, SecurityToken)."""
    from alibabacloud_agentrun20250910.client import Client
    from alibabacloud_tea_openapi import models as open_api_models

    config = open_api_models.Config(
        access_key_id=credentials.access_key_id,
        access_key_secret=credentials.access_key_secret,
        security_token=credentials.security_token,
        endpoint=f"{host}:{port}",
        protocol="http",
    )
    return Client(config)
