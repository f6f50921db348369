# Input validation against the one input schema
#   The schema is bundle data (input_schema/data.json, symlinked as
#   policies/input.schema.json), so the policy, the docs and the suite share one shape.
#   json.match_schema costs far more than a direct check, so a well-formed input is
#   recognised first by _fast_ok: one flat rule (no helper functions: every function call
#   hashes its arguments, the 800-byte token included) that reads each limit from the same
#   schema and is never looser than it. tests/unit/test_policy_data.py compares both with
#   the suite's JSON Schema validator and fails if the schema gains a keyword _fast_ok does
#   not check; only the rest pays for json.match_schema, whose errors become the reasons.
package soma

# Checks past this point may assume the input's shape.
well_formed if _fast_ok

well_formed if {
	not _fast_ok
	_schema_check[0]
}

# Only objects reach the schema: json.match_schema would parse a string input as JSON.
_schema_check := json.match_schema(input, data.soma.input_schema) if {
	is_object(input)
	not _fast_ok
}

deny_reasons contains "malformed_input: no input document" if not _input_present

deny_reasons contains sprintf("malformed_input: input must be an object, got %s", [type_name(input)]) if {
	not is_object(input)
}

deny_reasons contains sprintf("malformed_input: %s", [err.error]) if {
	some err in _schema_check[1]
}

_input_present if type_name(input)

_spec := data.soma.input_schema.properties

_fast_ok if {
	object.keys(input) == object.keys(_spec)
	object.keys(input.identity) == {"token"}
	object.keys(input.request) == {"operation", "resource"}
	object.keys(input.context.usage) == {"requests", "cost_units"}
	_priority_ok
	is_string(input.identity.token)
	count(input.identity.token) <= _spec.identity.properties.token.maxLength
	regex.match(_spec.identity.properties.token.pattern, input.identity.token)
	is_string(input.service)
	regex.match(_spec.service.pattern, input.service)
	is_string(input.tenant)
	regex.match(_spec.tenant.pattern, input.tenant)
	is_string(input.request.operation)
	regex.match(_spec.request.properties.operation.pattern, input.request.operation)
	is_string(input.request.resource)
	count(input.request.resource) >= _spec.request.properties.resource.minLength
	count(input.request.resource) <= _spec.request.properties.resource.maxLength
	is_number(input.context.usage.requests)
	input.context.usage.requests == floor(input.context.usage.requests)
	input.context.usage.requests >= _spec.context.properties.usage.properties.requests.minimum
	is_number(input.context.usage.cost_units)
	input.context.usage.cost_units >= _spec.context.properties.usage.properties.cost_units.minimum
}

_priority_ok if not "priority" in object.keys(input.context)

_priority_ok if input.context.priority in _spec.context.properties.priority.enum
