# The mutation harness (issue 9): seeded faults against an isolated stack, kill rate.
.PHONY: mutation stability restart-check
# xdist workers, each with an isolated stack of its own: much of a fault's time is waiting
# (alerts' `for:`, settles, restores), which a second stack overlaps
MUTATION_WORKERS ?= 2

mutation: deps docker env bundle helm-tools helm-files ## apply every seeded fault to an isolated stack; print the kill rate
	@$(STEP) "build images" bash infra/scripts/build-images.sh
	@$(PYTEST) tests/faults -q -p no:randomly -n $(MUTATION_WORKERS) --durations=12

stability: deps up ## run the full suite RUNS times (default 20) against the stack; list flaky tests
	@soma-conformance stability --runs $(or $(RUNS),20) -- --target=compose

restart-check: deps up ## docker restart of each stateful container in turn, each followed by the suite; prints the time back
	@PYTHON=$(PYTHON) REPORT_DIR=$(REPORT_DIR) bash harness/restart_check.sh $(SERVICES)
