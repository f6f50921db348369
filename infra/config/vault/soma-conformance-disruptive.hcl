# Added to `soma-conformance` only for runs with --allow-disruptive: identity.rotation
# rotates the live signing key (the JWKS grows by one key).
#   bao token create -policy=soma-conformance -policy=soma-conformance-disruptive -ttl=1h -field=token
path "identity/oidc/key/soma-dev/rotate" {
  capabilities = ["update"]
}
