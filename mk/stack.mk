# The compose stack's own tests: health of every service and persistence across restart.
# Two modules at a time (--dist loadfile keeps a module and its own stack on one worker).
.PHONY: test-stack repeat-testcontainers
TEST_STEPS += test-stack

test-stack: deps docker env bundle ## stack from a clean state: healthy, data survives a restart
	@$(STEP) "build images" bash infra/scripts/build-images.sh
	@$(PYTEST) tests/stack -q -n 2 --dist loadfile --durations=10

repeat-testcontainers: deps docker env bundle ## the testcontainers stack test RUNS times (10), the last BESIDE (3) with a second stack
	@$(STEP) "build images" bash infra/scripts/build-images.sh
	@$(PYTHON) -m tests.stack.repeat_testcontainers --runs $(or $(RUNS),10) --beside $(or $(BESIDE),3)
