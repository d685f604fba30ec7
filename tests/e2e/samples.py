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
