# Identity (dev JWKS issuer): seeded faults proven against the live stack.
.PHONY: test-identity-faults
TEST_STACKS += test-identity-faults

test-identity-faults: deps up ## seeded identity faults (leaking JWKS, HS256 validator) fail their contracts
	@$(PYTEST) tests/identity -q -p no:cacheprovider
