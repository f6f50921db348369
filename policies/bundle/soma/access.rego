# Service allowlist, tenant enforcement, budgets and routing
# All driven by bundle data (config/data.json); checks run only on
#   well-formed input and read the caller from verified claims, never from input.
package soma

# --- service-to-service allowlist: caller -> callee -> operations -------------------
operation_allowed if input.request.operation in cfg.allowlist[claims.service][input.service]

_pair_listed(caller, callee) if is_array(cfg.allowlist[caller][callee])

deny_reasons contains sprintf("pair_not_allowed: service %q may not call service %q", [caller, input.service]) if {
	caller := claims.service
	not _pair_listed(caller, input.service)
}

deny_reasons contains sprintf(
	"operation_not_allowed: service %q may not %q on service %q",
	[caller, input.request.operation, input.service],
) if {
	caller := claims.service
	_pair_listed(caller, input.service)
	not input.request.operation in cfg.allowlist[caller][input.service]
}

# --- tenant enforcement: own tenant, or an explicit cross-tenant grant --------------
tenant_allowed if claims.tenant == input.tenant

tenant_allowed if {
	some grant in cfg.cross_tenant
	grant.caller == claims.service
	grant.from_tenant == claims.tenant
	grant.to_tenant == input.tenant
	input.request.operation in grant.operations
}

deny_reasons contains sprintf("tenant_mismatch: token tenant %q may not access tenant %q", [token_tenant, input.tenant]) if {
	token_tenant := claims.tenant
	not tenant_allowed
}

# --- budgets: usage (this call included) must not exceed the tenant's budget --------
_tenant := cfg.tenants[input.tenant] if well_formed

_usage := input.context.usage

within_budget if {
	_usage.requests <= _tenant.budget.requests
	_usage.cost_units <= _tenant.budget.cost_units
}

deny_reasons contains sprintf("unknown_tenant: tenant %q has no budget", [input.tenant]) if {
	well_formed
	not _tenant
}

deny_reasons contains sprintf("budget_exceeded: %v %s over the budget of %v", [_usage[kind], kind, limit]) if {
	some kind, limit in _tenant.budget
	_usage[kind] > limit
}

# --- routing: where an allowed call goes --------------------------------------------
default route := null

route := {"pool": _pool, "throttle": _throttle} if allow

_pool := cfg.routing.batch_pool if {
	input.context.priority == "batch"
} else := cfg.routing.pools[_tenant.tier]

default _throttle := false

# Near the budget (throttle_ratio of any limit): the caller should slow down.
_throttle if {
	some kind, limit in _tenant.budget
	_usage[kind] >= cfg.routing.throttle_ratio * limit
}
