# The chart's checks: helm lint/template, the posture policies (policies/posture, OPA) and a
# real kube-apiserver + etcd with PodSecurity admission (tests/helm). The chart's own targets
# (helm-tools, helm-files, helm-lint, helm-package, helm-publish, helm-pages) are in
# infra/mk/helm.mk; the test-only tools come from the project's scripts, cached in
# $(SOMA_CACHE)/bin: the OCI registry (go-tools.sh), kube-apiserver (kube-tools.sh).
.PHONY: kube-tools registry-tool test-helm
TEST_OFFLINE += test-helm

registry-tool: ## build the CNCF distribution OCI registry (for the publish test) into the cache
	@$(STEP) "Go tools: registry" bash infra/scripts/go-tools.sh registry

kube-tools: ## build kube-apiserver into the cache (long the first time; skipped when cached)
	@$(STEP) "Kubernetes binaries" bash infra/scripts/kube-tools.sh

test-helm: deps helm-tools registry-tool kube-tools helm-files ## lint/template/package, posture policies, real kube-apiserver apply (every overlay)
	@$(PYTEST) tests/helm -q -p no:cacheprovider --timeout=900
