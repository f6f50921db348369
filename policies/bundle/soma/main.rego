# METADATA
# title: Soma runtime authorization decision
# description: |
#   Every app asks POST /v1/data/soma/allow with {identity, request, service, tenant,
#   context} (policies/input.schema.json) and trusts the boolean. /v1/data/soma/decision
#   returns the same verdict with its deny reasons and the routing output. Default deny:
#   allow needs every positive condition; each missing one yields exactly one reason code.
package soma

# The contract path. Anything not positively allowed is denied.
default allow := false

allow if {
	well_formed
	claims
	operation_allowed
	tenant_allowed
	within_budget
}

# The debugging/report view of the same evaluation.
decision := {"allow": allow, "reasons": sort(deny_reasons), "route": route}

# Every reason string starts with one of these codes ("<code>: <detail>").
reason_codes := {
	"malformed_input",
	"token_invalid",
	"pair_not_allowed",
	"operation_not_allowed",
	"tenant_mismatch",
	"unknown_tenant",
	"budget_exceeded",
}

cfg := data.soma.config
