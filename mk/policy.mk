# The runtime authorization policy (policies/bundle): strict compile, formatting, unit
# tests with an exact 100% coverage gate; and the decision-latency measurement.
.PHONY: test-policy bench-policy test-policy-faults
TEST_OFFLINE += test-policy

test-policy: ## OPA policy: check --strict, fmt clean, opa test with exactly 100% coverage
	@bash infra/scripts/policy-test.sh

bench-policy: deps ## decision cost: sequential p50/p99, OPA eval time, 8-client load at the stack's CPU limit and unlimited
	@$(PYTHON) -m harness.bench.policy_latency $(BENCH_ARGS)

test-policy-faults: deps ## seeded policy faults on a spare OPA beside the running stack: each must be caught
	@$(PYTEST) tests/live/test_policy_faults.py -q -s
