# The Kubernetes path: Helm chart infra/helm/soma-infra, its files synced from infra/config,
# the OPA bundle and the contract catalog, then linted, packaged and published. Tools come
# from the project's own scripts, cached in $(SOMA_CACHE)/bin (go-tools.sh).
.PHONY: helm-tools helm-files helm-lint helm-package helm-publish helm-pages
HELM       := $(SOMA_CACHE)/bin/helm
CHART      := infra/helm/soma-infra
HELM_DIST  ?= build/helm

helm-tools: ## build helm, kind, opa and etcd into the cache (skipped when cached)
	@$(STEP) "Go tools: helm kind opa etcd" bash infra/scripts/go-tools.sh helm kind opa etcd

helm-files: bundle ## sync infra/config, the OPA bundle and the catalog into the chart (gitignored files/)
	@$(STEP) "chart files" bash infra/scripts/helm-files.sh

helm-lint: helm-tools helm-files ## helm lint + template for every overlay
	@for o in dev staging prod; do \
	  $(HELM) lint --strict $(CHART) -f $(CHART)/values-$$o.yaml >/dev/null && \
	  $(HELM) template soma-infra $(CHART) -f $(CHART)/values-$$o.yaml | grep -c '^kind:' | \
	    xargs -I{} echo "helm: $$o lint ok, {} objects rendered"; \
	done

helm-package: helm-tools helm-files ## package the chart into $(HELM_DIST) (see docs/infra/INSTALL_KIND.md to publish)
	@mkdir -p $(HELM_DIST) && $(HELM) package $(CHART) -d $(HELM_DIST)

# Publishing: the package of helm-package, pushed to an OCI registry or indexed for a static
# (Pages-style) host. The soma-infra repo's tests/helm/test_publish.py runs both against
# loopback servers and renders each overlay from the published chart byte for byte like the
# local chart.
HELM_PUSH_FLAGS ?=
helm-publish: helm-package ## push the chart to an OCI registry: make helm-publish REGISTRY=oci://host/charts [HELM_PUSH_FLAGS=--plain-http]
	@[ -n "$(REGISTRY)" ] || { echo "helm-publish: REGISTRY=oci://<host>[:port]/<path> is required" >&2; exit 2; }
	@case "$(REGISTRY)" in oci://*) ;; *) echo "helm-publish: REGISTRY must start with oci:// (got $(REGISTRY))" >&2; exit 2;; esac
	@$(HELM) push $(HELM_DIST)/$$($(HELM) show chart $(CHART) | sed -n 's/^name: //p')-$$($(HELM) show chart $(CHART) | sed -n 's/^version: //p').tgz $(REGISTRY) $(HELM_PUSH_FLAGS)

helm-pages: helm-package ## index $(HELM_DIST) for a static host (Pages-style): make helm-pages URL=https://site/charts
	@[ -n "$(URL)" ] || { echo "helm-pages: URL=<where $(HELM_DIST) will be served> is required" >&2; exit 2; }
	@$(HELM) repo index $(HELM_DIST) --url $(URL) $(if $(wildcard $(HELM_DIST)/index.yaml),--merge $(HELM_DIST)/index.yaml,)
	@echo "helm-pages: $(HELM_DIST)/index.yaml + $$(ls $(HELM_DIST)/*.tgz | wc -l) package(s); publish that folder at $(URL)"
