# Unit tests of the decision policy (excluded from the bundle). Tokens are signed here
# with throwaway test-only keys; http.send and time are mocked, so no network is used.
package soma_test

import data.soma

# --- fixtures ------------------------------------------------------------------------
now_ns := 1700000000000000000

now_s := now_ns / 1000000000

# Test-only P-256 keys, generated for these tests; never used anywhere else.
signing_key := {
	"kty": "EC", "crv": "P-256", "kid": "test-1",
	"x": "Js9ivK7IrnoqICRGmpgJM0pzJVAvklzDAAuvs7ZWywQ",
	"y": "BZTA9qw2sLZpWziDUohOKlRKjGygO-r3o4Wh2MkHdJU",
	"d": "a1hTJU0utWEwbsMFAkoCcWTQwTZNQ774G1rgRbu_Fa0",
}

attacker_key := {
	"kty": "EC", "crv": "P-256", "kid": "test-1",
	"x": "UpwdAIl4wJVaTQecYACl7U3AAo9MW9UjnmC8Nwwu2rk",
	"y": "Bukskq7zwZ4MeSR8vDLaBQzfSnDAEitAwo-tjYygza4",
	"d": "l1GDSpig3Sb0sVqfplPqb3Ze2npTOvdc0gr5JQq8LRI",
}

public_jwk(key, kid) := {"kty": key.kty, "crv": key.crv, "x": key.x, "y": key.y, "kid": kid, "use": "sig", "alg": "ES256"}

jwks_doc := {"keys": [public_jwk(signing_key, "test-1")]}

# http.send mocks: the issuer's JWKS, a failing issuer, and one that rotated keys
jwks_ok(_) := jwks_response(jwks_doc)

jwks_down(_) := {"status_code": 0, "error": {"message": "connection refused"}}

jwks_rotated(req) := jwks_response({"keys": []}) if {
	req.headers["x-soma-jwks-fetch"] == "cached"
} else := jwks_response(jwks_doc)

# what http.send answers for a JSON body: the parsed body and the bytes as sent
jwks_response(doc) := {"status_code": 200, "body": doc, "raw_body": json.marshal(doc)}

claims_for(service, tenant) := {
	"iss": data.soma.config.identity.issuer,
	"aud": data.soma.config.identity.audience,
	"sub": sprintf("%s-entity", [service]),
	"iat": now_s - 10,
	"exp": now_s + 300,
	"service": service,
	"tenant": tenant,
}

sign(payload) := io.jwt.encode_sign({"typ": "JWT", "alg": "ES256", "kid": "test-1"}, payload, signing_key)

token(service, tenant) := sign(claims_for(service, tenant))

req(tok, callee, tenant, operation) := {
	"identity": {"token": tok},
	"service": callee,
	"tenant": tenant,
	"request": {"operation": operation, "resource": "r/1"},
	"context": {"usage": {"requests": 1, "cost_units": 1}},
}

ok_input := req(token("gateway", "tenant-a"), "orders", "tenant-a", "read")

decide(inp) := d if {
	d := soma.decision with input as inp with http.send as jwks_ok with time.now_ns as now_ns
}

reasons(inp) := decide(inp).reasons

only(inp, reason) if reasons(inp) == [reason]

# --- allow ---------------------------------------------------------------------------
test_allows_listed_pair_in_own_tenant if {
	decide(ok_input) == {"allow": true, "reasons": [], "route": {"pool": "dedicated", "throttle": false}}
	soma.allow with input as ok_input with http.send as jwks_ok with time.now_ns as now_ns
}

test_routes_standard_tier_batch_and_throttle if {
	d := decide(req(token("gateway", "tenant-b"), "orders", "tenant-b", "write"))
	d.route == {"pool": "shared", "throttle": false}
	batch := json.patch(ok_input, [{"op": "add", "path": "/context/priority", "value": "batch"}])
	decide(batch).route == {"pool": "batch", "throttle": false}
	near := json.patch(ok_input, [{"op": "replace", "path": "/context/usage/cost_units", "value": 4000}])
	decide(near).route == {"pool": "dedicated", "throttle": true}
}

test_cross_tenant_only_where_granted if {
	decide(req(token("reports", "tenant-a"), "orders", "tenant-b", "read")).allow
	only(
		req(token("reports", "tenant-b"), "orders", "tenant-a", "read"),
		"tenant_mismatch: token tenant \"tenant-b\" may not access tenant \"tenant-a\"",
	)
}

test_token_without_kid_is_checked_against_every_key if {
	tok := io.jwt.encode_sign({"typ": "JWT", "alg": "ES256"}, claims_for("gateway", "tenant-a"), signing_key)
	decide(req(tok, "orders", "tenant-a", "read")).allow
}

test_unknown_kid_triggers_one_refresh if {
	d := soma.decision with input as ok_input with http.send as jwks_rotated with time.now_ns as now_ns
	d.allow
}

# --- malformed input -------------------------------------------------------------------
test_no_input_denied if {
	d := soma.decision with http.send as jwks_ok
	d == {"allow": false, "reasons": ["malformed_input: no input document"], "route": null}
	not soma.allow
}

test_schema_path_agrees_when_the_fast_path_declines if {
	d := soma.decision with input as ok_input
		with http.send as jwks_ok
		with time.now_ns as now_ns
		with soma._fast_ok as false

	d.allow
}

test_non_object_input_denied if {
	reasons("{\"tenant\": \"tenant-a\"}") == ["malformed_input: input must be an object, got string"]
	reasons([ok_input]) == ["malformed_input: input must be an object, got array"]
}

test_mistyped_and_missing_fields_denied if {
	bad := json.patch(ok_input, [
		{"op": "replace", "path": "/tenant", "value": 7},
		{"op": "remove", "path": "/request/resource"},
	])
	reasons(bad) == [
		"malformed_input: request: resource is required",
		"malformed_input: tenant: Invalid type. Expected: string, given: integer",
	]
}

# --- identity --------------------------------------------------------------------------
test_undecodable_token_denied if {
	only(req("e30.e30.x", "orders", "tenant-a", "read"), "token_invalid: not a decodable JWT")
}

test_disallowed_algorithm_denied if {
	hs := io.jwt.encode_sign({"typ": "JWT", "alg": "HS256"}, claims_for("gateway", "tenant-a"), {"kty": "oct", "k": "c2VjcmV0"})
	only(req(hs, "orders", "tenant-a", "read"), "token_invalid: algorithm HS256 is not accepted")
}

test_jwks_unavailable_denied if {
	d := soma.decision with input as ok_input with http.send as jwks_down with time.now_ns as now_ns
	d.reasons == ["token_invalid: signing keys unavailable (JWKS fetch failed)"]
}

rejected := "token_invalid: signature, issuer, audience or validity period rejected"

test_foreign_signature_denied if {
	forged := io.jwt.encode_sign({"typ": "JWT", "alg": "ES256", "kid": "test-1"}, claims_for("gateway", "tenant-a"), attacker_key)
	only(req(forged, "orders", "tenant-a", "read"), rejected)
}

test_wrong_issuer_audience_expired_denied if {
	some change in [
		{"iss": "http://attacker.example/"},
		{"aud": "someone-else"},
		{"exp": now_s - 1},
		{"nbf": now_s + 600},
	]
	tok := sign(object.union(claims_for("gateway", "tenant-a"), change))
	only(req(tok, "orders", "tenant-a", "read"), rejected)
}

test_required_claim_missing_denied if {
	tok := sign(object.remove(claims_for("gateway", "tenant-a"), ["sub"]))
	only(req(tok, "orders", "tenant-a", "read"), "token_invalid: required claim sub is missing")
}

test_untyped_claims_denied if {
	tok := sign(object.union(claims_for("gateway", "tenant-a"), {"service": 5}))
	only(req(tok, "orders", "tenant-a", "read"), "token_invalid: claims service and tenant must be strings")
}

# --- allowlist, tenant, budget ---------------------------------------------------------
test_pair_outside_allowlist_denied if {
	only(
		req(token("billing", "tenant-a"), "orders", "tenant-a", "read"),
		"pair_not_allowed: service \"billing\" may not call service \"orders\"",
	)
}

test_operation_outside_allowlist_denied if {
	only(
		req(token("gateway", "tenant-a"), "billing", "tenant-a", "charge"),
		"operation_not_allowed: service \"gateway\" may not \"charge\" on service \"billing\"",
	)
}

test_tenant_mismatch_denied if {
	only(
		req(token("gateway", "tenant-a"), "orders", "tenant-b", "read"),
		"tenant_mismatch: token tenant \"tenant-a\" may not access tenant \"tenant-b\"",
	)
}

test_unknown_tenant_denied if {
	only(req(token("gateway", "tenant-z"), "orders", "tenant-z", "read"), "unknown_tenant: tenant \"tenant-z\" has no budget")
}

test_over_budget_denied if {
	over := json.patch(ok_input, [
		{"op": "replace", "path": "/context/usage/requests", "value": 100001},
		{"op": "replace", "path": "/context/usage/cost_units", "value": 5000.5},
	])
	reasons(over) == [
		"budget_exceeded: 100001 requests over the budget of 100000",
		"budget_exceeded: 5000.5 cost_units over the budget of 5000",
	]
	at_limit := json.patch(ok_input, [{"op": "replace", "path": "/context/usage/requests", "value": 100000}])
	decide(at_limit).allow
}

# --- invariants over every input above ---------------------------------------------------
all_inputs := [
	ok_input,
	req(token("billing", "tenant-a"), "orders", "tenant-a", "read"),
	req(token("gateway", "tenant-a"), "orders", "tenant-b", "read"),
	req(token("gateway", "tenant-z"), "orders", "tenant-z", "read"),
	req("e30.e30.x", "orders", "tenant-a", "read"),
	{"tenant": 1},
	"{}",
]

consistent(d) if {
	d.allow
	d.reasons == []
}

consistent(d) if {
	not d.allow
	count(d.reasons) > 0
}

test_allow_iff_no_reasons if {
	every inp in all_inputs {
		consistent(decide(inp))
	}
}

test_every_reason_has_a_known_code if {
	every inp in all_inputs {
		every r in reasons(inp) {
			split(r, ":")[0] in soma.reason_codes
		}
	}
}

test_data_is_consistent if {
	every _, t in data.soma.config.tenants {
		data.soma.config.routing.pools[t.tier]
	}
	every caller, callees in data.soma.config.allowlist {
		every callee, _ in callees {
			data.soma.config.allowlist[caller]
			data.soma.config.allowlist[callee]
		}
	}
}
