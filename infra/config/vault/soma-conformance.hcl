# Least privilege for the conformance suite (policy `soma-conformance`): what a read-only
# run needs to mint real tokens for the dev identities and read the signing key's settings.
# Give the suite a token with this policy, never the root token:
#   bao token create -policy=soma-conformance -ttl=1h -field=token
# Issuing a single-use secret_id (10 min TTL) is the only write: it is how an identity
# logs in; nothing persists. Key rotation needs soma-conformance-disruptive.hcl as well.

# role ids of the dev identities (<service>.<tenant>), and a fresh single-use secret_id
path "auth/approle/role/+/role-id" {
  capabilities = ["read"]
}
path "auth/approle/role/+/secret-id" {
  capabilities = ["update"]
}
# the signing key's rotation period and verification TTL (identity.rotation reads them)
path "identity/oidc/key/soma-dev" {
  capabilities = ["read"]
}
