# soma-infra operator and developer entry points. Each area keeps its own targets in
# mk/<area>.mk and appends its checks to TEST_STEPS, so `make test` runs them all.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

ROOT        := $(abspath .)
PYTHON      ?= python3
export SOMA_CACHE ?= $(HOME)/.cache/soma-infra
ENV_FILE    := infra/env/.env.shared
ENV_EXAMPLE := infra/env/.env.shared.example
COMPOSE_FILE := infra/docker/shared-infra.compose.yaml
# SOMA_IMAGES=upstream runs the official images instead of the locally built ones
UPSTREAM_ENV := $(if $(filter upstream,$(SOMA_IMAGES)),--env-file infra/env/images.upstream.env,)
COMPOSE     := docker compose --env-file $(ENV_FILE) $(UPSTREAM_ENV) -f $(COMPOSE_FILE)
REPORT_DIR  ?= reports
PYTEST      := $(PYTHON) -m pytest
TEST_STEPS  :=
# Set-up steps print one line each (`==> build images ... ok (12s)`); what the tools print
# goes to a log in $(SOMA_CACHE)/logs, whose path and last lines are shown if a step fails.
# `make <target> VERBOSE=1` (or SOMA_VERBOSE=1) prints everything as it comes.
export SOMA_VERBOSE ?= $(VERBOSE)
STEP        := bash infra/scripts/step.sh

include $(sort $(wildcard mk/*.mk))

.PHONY: help deps docker images bundle env up down status logs conformance test test-unit test-suite lint measure

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

deps: ## install the suite and its dev tools (pip, editable)
	@$(STEP) "python packages (pip install -e .[dev])" \
	  $(PYTHON) -m pip install -q --root-user-action=ignore --disable-pip-version-check -e '.[dev]'

docker: ## install/start the Docker engine and Compose v2 if missing
	@$(STEP) "docker engine and compose" bash infra/scripts/ensure-docker.sh

$(ENV_FILE):
	@cp $(ENV_EXAMPLE) $(ENV_FILE) && echo "env: created $(ENV_FILE) from the example"

env: $(ENV_FILE)

images: docker ## build every offline image from package registries (cached)
	@$(STEP) "build images" bash infra/scripts/build-images.sh

bundle: ## build the OPA bundle from policies/bundle (content-hash revision)
	@$(STEP) "OPA bundle" bash infra/scripts/opa-bundle.sh

up: docker env bundle ## install what is missing, build images, start the stack, wait until healthy
	@$(if $(UPSTREAM_ENV),true,$(STEP) "build images" bash infra/scripts/build-images.sh)
	@$(STEP) "start the stack (compose up --wait)" $(COMPOSE) up -d --wait --remove-orphans
	@$(MAKE) --no-print-directory status

down: ## stop the stack (volumes kept; `make down V=1` removes them)
	@$(COMPOSE) down --remove-orphans $(if $(V),-v,)

status: ## one line per service with its health
	@$(COMPOSE) ps -a --format 'table {{.Service}}\t{{.Status}}\t{{.Ports}}'

logs: ## follow the stack's logs
	@$(COMPOSE) logs -f --tail=100

conformance: deps up ## all set-up, then the full suite against the stack, with the report
	@$(PYTEST) --pyargs conformance --target=compose --report-dir=$(REPORT_DIR) -p no:cacheprovider

lint: deps ## ruff, mypy --strict and shellcheck
	@$(PYTHON) -m ruff check conformance tests
	@$(PYTHON) -m mypy
	@PYTHON=$(PYTHON) bash infra/scripts/shellcheck.sh

test-unit: deps ## the suite's own unit tests (no Docker needed)
	@$(PYTEST) tests/unit -q

test-suite: deps up ## the contract suite against the real compose stack
	@$(PYTEST) --pyargs conformance --target=compose -q --report-dir=$(REPORT_DIR)

test: lint test-unit $(TEST_STEPS) test-suite mutation ## all set-up, then every check of the project (mutation last: longest)

measure: ## print warm start time, memory (and `make measure COLD=1`: cold image build time)
	@bash infra/scripts/measure.sh $(if $(COLD),cold,)
