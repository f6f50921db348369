# The compose stack's own tests: health of every service and persistence across restart.
.PHONY: test-stack
TEST_STEPS += test-stack

test-stack: deps docker env bundle ## stack from a clean state: healthy, data survives a restart
	@$(STEP) "build images" bash infra/scripts/build-images.sh
	@$(PYTEST) tests/stack -q
