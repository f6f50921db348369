# The shared infra's own make targets: the compose stack, the OPA bundle, images, Helm,
# Kind, backups. They need nothing outside infra/, policies/ and docs/infra/, so the same
# file drives the soma-infra repo (its Makefile includes it) and the repo `make split`
# exports (infra/standalone/Makefile). Each area keeps its targets in infra/mk/<area>.mk.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

ROOT        := $(abspath .)
export SOMA_CACHE ?= $(HOME)/.cache/soma-infra
ENV_FILE    := infra/env/.env.shared
ENV_EXAMPLE := infra/env/.env.shared.example
COMPOSE_FILE := infra/docker/shared-infra.compose.yaml
# SOMA_IMAGES=upstream runs the official images instead of the locally built ones
UPSTREAM_ENV := $(if $(filter upstream,$(SOMA_IMAGES)),--env-file infra/env/images.upstream.env,)
COMPOSE     := docker compose --env-file $(ENV_FILE) $(UPSTREAM_ENV) -f $(COMPOSE_FILE)
# Set-up steps print one line each (`==> build images ... ok (12s)`); what the tools print
# goes to a log in $(SOMA_CACHE)/logs, whose path and last lines are shown if a step fails.
# `make <target> VERBOSE=1` (or SOMA_VERBOSE=1) prints everything as it comes.
export SOMA_VERBOSE ?= $(VERBOSE)
STEP        := bash infra/scripts/step.sh

include $(filter-out infra/mk/infra.mk,$(sort $(wildcard infra/mk/*.mk)))

.PHONY: help docker images bundle env up down status logs measure

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

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
	@$(STEP) "OPA serves the built bundle" bash infra/scripts/opa-rollout.sh $(COMPOSE)
	@$(MAKE) --no-print-directory status

down: env ## stop the stack (volumes kept; `make down V=1` removes them)
	@$(COMPOSE) down --remove-orphans $(if $(V),-v,)

status: env ## one line per service with its health
	@$(COMPOSE) ps -a --format 'table {{.Service}}\t{{.Status}}\t{{.Ports}}'

logs: env ## follow the stack's logs
	@$(COMPOSE) logs -f --tail=100

measure: ## print warm start time, memory (and `make measure COLD=1`: cold image build time)
	@bash infra/scripts/measure.sh $(if $(COLD),cold,)
