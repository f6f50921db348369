# The compose stack's own tests: health of every service and persistence across restart.
# One module at a time: with two stacks side by side (-n 2 --dist loadfile) a CI run failed
# test_fault_injection (Prometheus could not resolve its own postgres-exporter; not root-caused).
.PHONY: test-stack repeat-testcontainers
TEST_STACKS += test-stack

test-stack: deps docker env bundle $(PROM_FAST) ## stack from a clean state: healthy, data survives a restart
	@$(STEP) "build images" bash infra/scripts/build-images.sh
	@$(PYTEST) tests/stack -q --durations=10

repeat-testcontainers: deps docker env bundle ## the testcontainers stack test RUNS times (10), the last BESIDE (3) with a second stack
	@$(STEP) "build images" bash infra/scripts/build-images.sh
	@$(PYTHON) -m tests.stack.repeat_testcontainers --runs $(or $(RUNS),10) --beside $(or $(BESIDE),3)
