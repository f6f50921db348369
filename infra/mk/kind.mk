# The offline Kind cluster: node image assembled from package registries
# (infra/scripts/kind-node-image.sh), cluster `soma` (context kind-soma), the stack's
# images, the chart with the dev overlay, every pod Ready (infra/scripts/kind-cluster.sh).
.PHONY: kind-tools kind-image kind-up kind-down kind-status kind-measure

kind-tools: ## build kind's node programs: crictl, CoreDNS, kube-router, local-path, pause (cached)
	@$(STEP) "Kind node programs" bash infra/scripts/kind-tools.sh

kind-image: docker ## assemble the offline Kind node image (cached by a hash of its pinned inputs)
	@$(STEP) "Kind node image" bash infra/scripts/kind-node-image.sh

# OVERLAY=dev (cluster soma, one node) or prod (cluster soma-prod, three nodes, HA overlay)
OVERLAY ?= dev
kind-up: docker helm-tools images bundle ## node image, cluster soma, images, chart (dev overlay), all pods Ready; OVERLAY=prod: 3-node soma-prod
	@$(if $(filter prod,$(OVERLAY)),$(STEP) "build image: postgres-ha" bash infra/scripts/build-images.sh postgres-ha)
	@OVERLAY=$(OVERLAY) bash infra/scripts/kind-cluster.sh up

kind-down: ## delete the Kind cluster soma (OVERLAY=prod: soma-prod)
	@OVERLAY=$(OVERLAY) bash infra/scripts/kind-cluster.sh down

kind-status: ## pods of the Kind cluster soma (OVERLAY=prod: soma-prod)
	@OVERLAY=$(OVERLAY) bash infra/scripts/kind-cluster.sh status

kind-measure: ## print cold node-image build time, warm kind-up time to all pods Ready, cluster memory (COLD=1 rebuilds the image)
	@bash infra/scripts/kind-measure.sh $(if $(COLD),cold,)
