# Input validation against the one input schema
# The schema is bundle data (input_schema/data.json, symlinked as
#   policies/input.schema.json), so the policy, the docs and the suite share one shape.
package soma

_schema_check := json.match_schema(input, data.soma.input_schema)

# Checks past this point may assume the input's shape.
well_formed if _schema_check[0]

deny_reasons contains "malformed_input: no input document" if not _input_present

deny_reasons contains sprintf("malformed_input: %s", [err.error]) if {
	some err in _schema_check[1]
}

_input_present if type_name(input)
