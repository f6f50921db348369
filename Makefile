# soma-infra operator and developer entry points. The infra's own targets (stack, bundle,
# images, Helm, Kind, backups) live in infra/mk/ so that infra/ splits off whole (`make
# split`); the suite's and the project's checks live in mk/<area>.mk, and each area
# appends its checks to TEST_OFFLINE (starts no container) or TEST_STACKS (brings up
# stacks), so `make test` runs them all.
PYTHON      ?= python3
REPORT_DIR  ?= reports
PYTEST      := $(PYTHON) -m pytest
# The suite in two processes: the policy properties' Python side (hypothesis draws, one
# GIL) and OPA's CPU quota then overlap instead of alternating (docs/infra/SUITE.md)
SUITE_XDIST ?= -n 2 --dist worksteal
SUITE_COMPOSE = $(PYTEST) --pyargs conformance --target=compose $(SUITE_XDIST) --report-dir=$(REPORT_DIR)
TEST_OFFLINE :=
TEST_STACKS  :=

include infra/mk/infra.mk
include $(sort $(wildcard mk/*.mk))

.PHONY: deps conformance test test-prep test-unit test-suite lint

# one pip at a time on a machine: two installs at once (CI beside a developer's run) leave a
# half-written distribution that makes the other one crash
# (DEPS_READY=1: already installed by this run; a reinstall would briefly remove the
# suite's entry points from under a pytest starting in the other lane of `make test`)
deps: ## install the suite and its dev tools (pip, editable)
ifndef DEPS_READY
	@mkdir -p $(SOMA_CACHE)
	@$(STEP) "python packages (pip install -e .[dev])" flock -w 900 $(SOMA_CACHE)/.pip.lock \
	  $(PYTHON) -m pip install -q --root-user-action=ignore --disable-pip-version-check -e '.[dev]'
endif

conformance: deps up ## all set-up, then the full suite against the stack, with the report
	@$(SUITE_COMPOSE) -p no:cacheprovider

lint: deps ## ruff, mypy --strict and shellcheck
	@$(PYTHON) -m ruff check conformance harness tests
	@$(PYTHON) -m mypy
	@PYTHON=$(PYTHON) bash infra/scripts/shellcheck.sh

# one worker per core: most of their time is waiting on subprocesses and bounded timeouts
test-unit: deps ## the suite's own unit tests (no Docker needed)
	@$(PYTEST) tests/unit -q -n auto

test-suite: deps up ## the contract suite against the real compose stack
	@$(SUITE_COMPOSE) -q

# Everything both lanes need, built once before they start (nothing is built twice at once).
test-prep: deps docker env bundle images helm-tools registry-tool kube-tools helm-files chromium $(PROM_FAST)

# Two lanes at once (mk/lanes.sh): the checks that start no container beside the ones that
# bring up stacks, whose time is mostly waiting on them; each lane stops at its first
# failure, and the offline lane's output follows the stack lane's. Kind last: its cluster
# wants the 2 cores to itself, and on a new machine its first build is the part that may
# not fit (it resumes from its caches).
test: test-prep ## all set-up, then every check of the project, the live Kind run last
	@bash mk/lanes.sh "$(MAKE) --no-print-directory DEPS_READY=1" \
	  "lint test-unit $(TEST_OFFLINE)" "$(TEST_STACKS) test-suite mutation"
	@$(MAKE) --no-print-directory DEPS_READY=1 test-kind
