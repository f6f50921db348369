# Caller identity, verified inside OPA
#   The caller's JWT is verified against the issuer's JWKS (http.send with a bounded
#   timeout and a forced cache kept deserialized; an unknown kid triggers one
#   rate-limited refresh, so key rotation works), with iss, aud, exp/nbf, algorithm and
#   required claims checked.
#   Claims are never taken on trust: every other rule reads them from `claims`.
package soma

_id := cfg.identity

_token_header := io.jwt.decode(input.identity.token)[0] if well_formed

# The whole response: its parsed body picks keys, its raw body is the key set that
# decode_verify reads (no json.marshal of the parsed set on every decision).
_fetch_jwks(mode, seconds) := resp if {
	resp := http.send({
		"method": "GET",
		"url": _id.jwks_url,
		"headers": {"x-soma-jwks-fetch": mode},
		"timeout": _id.jwks_timeout,
		"raise_error": false,
		"force_cache": true,
		"force_cache_duration_seconds": seconds,
		"caching_mode": "deserialized",
	})
	resp.status_code == 200
	is_array(resp.body.keys)
}

_cached_response := _fetch_jwks("cached", _id.jwks_cache_seconds)

_jwks_cached := _cached_response.body

# The cached key set when it knows the token's kid, else one refresh (own cache entry
# with a short lifetime: at most one fetch per refresh period, whatever kids arrive).
jwks := _jwks_cached if {
	some key in _jwks_cached.keys
	key.kid == _token_header.kid
} else := _fetch_jwks("refresh", _id.jwks_refresh_seconds).body

# Only the key the token names (decode_verify would otherwise parse every published key,
# and rotation keeps several): kid picks among the issuer's own keys, never a key source.
_keys := {"keys": [key | some key in jwks.keys; key.kid == _token_header.kid]} if {
	_token_header.kid
} else := jwks

_verify(cert) := io.jwt.decode_verify(input.identity.token, {
	"cert": cert,
	"iss": _id.issuer,
	"aud": _id.audience,
	"time": time.now_ns(),
})

# Hot path: a token whose kid the cached set knows is verified against that set as the
# issuer sent it (decode_verify picks the key by kid; OPA parses a given set once and
# remembers the signature check per token), so the header is not decoded, no key list is
# built and nothing is re-serialized.
_verified_payload := payload if {
	well_formed
	[valid, header, payload] := _verify(_cached_response.raw_body)
	valid
	header.alg in _id.algorithms
	some key in _jwks_cached.keys
	key.kid == header.kid
} else := payload if {
	_token_header.alg in _id.algorithms
	[valid, _, payload] := _verify(json.marshal(_keys))
	valid
}

# The verified claims with everything the policy needs present and typed (every
# required claim present: one object.filter, not a set of keys and a loop per claim).
claims := _verified_payload if {
	count(object.filter(_verified_payload, _id.required_claims)) == count(_id.required_claims)
	is_string(_verified_payload.service)
	is_string(_verified_payload.tenant)
}

# The token_invalid reasons below explain why `claims` is undefined, so each first asks
# `not claims`: for a valid token (every allowed and most denied decisions) none of them
# decodes the header again or walks the key set.
deny_reasons contains "token_invalid: not a decodable JWT" if {
	not claims
	well_formed
	not _token_header
}

deny_reasons contains sprintf("token_invalid: algorithm %v is not accepted", [_token_header.alg]) if {
	not claims
	not _token_header.alg in _id.algorithms
}

deny_reasons contains "token_invalid: signing keys unavailable (JWKS fetch failed)" if {
	not claims
	_token_header.alg in _id.algorithms
	not jwks
}

deny_reasons contains "token_invalid: signature, issuer, audience or validity period rejected" if {
	not claims
	_token_header.alg in _id.algorithms
	jwks
	not _verified_payload
}

deny_reasons contains sprintf("token_invalid: required claim %s is missing", [name]) if {
	not claims
	some name in _id.required_claims
	not name in _payload_keys
}

_payload_keys := object.keys(_verified_payload)

deny_reasons contains "token_invalid: claims service and tenant must be strings" if {
	not claims
	_verified_payload
	not _typed_claims
}

_typed_claims if {
	is_string(_verified_payload.service)
	is_string(_verified_payload.tenant)
}
