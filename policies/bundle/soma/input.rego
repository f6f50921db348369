# Input validation against the one input schema
#   The schema is bundle data (input_schema/data.json, symlinked as
#   policies/input.schema.json), so the policy, the docs and the suite share one shape.
#   json.match_schema compiles the schema on every call (~0.5 ms), so a well-formed input
#   is recognised first by _fast_ok, a direct check that reads its limits from the same
#   schema and is never looser than it (tests/unit/test_policy_schema.py compares both
#   with the suite's JSON Schema validator); only the rest pays for json.match_schema,
#   whose error messages become the deny reasons.
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
	_string_ok(input.identity.token, _spec.identity.properties.token)
	_string_ok(input.service, _spec.service)
	_string_ok(input.tenant, _spec.tenant)
	object.keys(input.request) == {"operation", "resource"}
	_string_ok(input.request.operation, _spec.request.properties.operation)
	_string_ok(input.request.resource, _spec.request.properties.resource)
	_usage_ok(input.context.usage, _spec.context.properties.usage.properties)
	_priority_ok
}

_string_ok(value, spec) if {
	is_string(value)
	regex.match(object.get(spec, "pattern", ""), value)
	count(value) >= object.get(spec, "minLength", 0)
	count(value) <= object.get(spec, "maxLength", count(value))
}

_usage_ok(usage, spec) if {
	object.keys(usage) == {"requests", "cost_units"}
	is_number(usage.requests)
	usage.requests == floor(usage.requests)
	usage.requests >= spec.requests.minimum
	is_number(usage.cost_units)
	usage.cost_units >= spec.cost_units.minimum
}

_priority_ok if not "priority" in object.keys(input.context)

_priority_ok if input.context.priority in _spec.context.properties.priority.enum
