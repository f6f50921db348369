# The Kubernetes path: Helm chart infra/helm/soma-infra, checked by helm lint/template,
# the posture policies (policies/posture, OPA) and a real kube-apiserver + etcd with
# PodSecurity admission (tests/helm). Tools come from the project's own scripts, cached
# in $(SOMA_CACHE)/bin: helm, opa, etcd (go-tools.sh), kube-apiserver (kube-tools.sh).
.PHONY: helm-tools kube-tools helm-files helm-lint helm-package test-helm
TEST_STEPS += test-helm
HELM       := $(SOMA_CACHE)/bin/helm
CHART      := infra/helm/soma-infra
HELM_DIST  ?= build/helm

helm-tools: ## build helm, kind, opa and etcd into the cache (skipped when cached)
	@bash infra/scripts/go-tools.sh helm kind opa etcd

kube-tools: ## build kube-apiserver into the cache (long the first time; skipped when cached)
	@bash infra/scripts/kube-tools.sh

helm-files: bundle ## sync infra/config, the OPA bundle and the catalog into the chart (gitignored files/)
	@bash infra/scripts/helm-files.sh

helm-lint: helm-tools helm-files ## helm lint + template for every overlay
	@for o in dev staging prod; do \
	  $(HELM) lint --strict $(CHART) -f $(CHART)/values-$$o.yaml >/dev/null && \
	  $(HELM) template soma-infra $(CHART) -f $(CHART)/values-$$o.yaml | grep -c '^kind:' | \
	    xargs -I{} echo "helm: $$o lint ok, {} objects rendered"; \
	done

helm-package: helm-tools helm-files ## package the chart into $(HELM_DIST) (see docs/infra/INSTALL_KIND.md to publish)
	@mkdir -p $(HELM_DIST) && $(HELM) package $(CHART) -d $(HELM_DIST)

test-helm: deps helm-tools kube-tools helm-files ## lint/template/package, posture policies, real kube-apiserver apply (every overlay)
	@$(PYTEST) tests/helm -q -p no:cacheprovider --timeout=900
