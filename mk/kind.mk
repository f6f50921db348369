# The live Kind run end to end (see docs/infra/INSTALL_KIND.md); the cluster's own targets
# (kind-up, kind-down, ...) are in infra/mk/kind.mk.
.PHONY: test-kind test-kind-prod

# the release record lives in soma-infra (kind-cluster.sh lets Helm adopt the Namespace)
KIND_PATH := PATH="$(SOMA_CACHE)/bin:$$PATH"
test-kind: deps kind-up ## live Kind: full suite + report, helm test, backup, day-2 rollout, chart faults; cluster deleted after (KEEP=1 keeps it)
	@status=0; t0=$$SECONDS; \
	$(KIND_PATH) $(PYTEST) --pyargs conformance --target=kind -q -p no:cacheprovider \
	  --report-dir=$(REPORT_DIR)/kind || status=$$?; \
	echo "test-kind: suite --target=kind exit $$status ($$((SECONDS - t0))s)"; t1=$$SECONDS; \
	if [ $$status -eq 0 ]; then \
	  $(KIND_PATH) helm test soma-infra -n soma-infra --kube-context kind-soma --timeout 5m >/dev/null \
	    || { status=$$?; echo "test-kind: helm test failed: helm test soma-infra -n soma-infra --kube-context kind-soma --logs"; }; \
	  echo "test-kind: helm test exit $$status ($$((SECONDS - t1))s)"; t1=$$SECONDS; fi; \
	if [ $$status -eq 0 ]; then \
	  $(KIND_PATH) $(PYTEST) tests/kind -q -p no:cacheprovider --durations=10 || status=$$?; \
	  echo "test-kind: tests/kind (backup, day-2 bundle rollout, chart faults) exit $$status ($$((SECONDS - t1))s)"; fi; \
	if [ -z "$(KEEP)" ]; then bash infra/scripts/kind-cluster.sh down; fi; \
	exit $$status

# The prod overlay (HA) on the 3-node cluster soma-prod: the whole suite, the resilience
# contracts with it (one member removed under load, a node drained), every other contract
# again on the cluster they left behind, then the prod overlay's chart faults live
# (tests/kind/test_live_faults.py with SOMA_KIND_OVERLAY=prod).
test-kind-prod: deps ## live HA: 3-node soma-prod, full suite + resilience, prod chart faults; cluster deleted after (KEEP=1 keeps it)
	@$(MAKE) --no-print-directory DEPS_READY=1 kind-up OVERLAY=prod
	@status=0; t0=$$SECONDS; \
	$(KIND_PATH) $(PYTEST) --pyargs conformance --target=kind --kube-context=kind-soma-prod -q -p no:cacheprovider \
	  --report-dir=$(REPORT_DIR)/kind-prod || status=$$?; \
	echo "test-kind-prod: suite --target=kind --kube-context=kind-soma-prod exit $$status ($$((SECONDS - t0))s)"; \
	t1=$$SECONDS; \
	if [ $$status -eq 0 ]; then \
	  $(KIND_PATH) $(PYTEST) --pyargs conformance --target=kind --kube-context=kind-soma-prod -q -p no:cacheprovider \
	    -m "not durability and not resilience" --report-dir=$(REPORT_DIR)/kind-prod-after || status=$$?; \
	  echo "test-kind-prod: every other contract again, after the restarts, losses and drain: exit $$status ($$((SECONDS - t1))s)"; \
	  t1=$$SECONDS; fi; \
	if [ $$status -eq 0 ]; then \
	  SOMA_KIND_OVERLAY=prod $(KIND_PATH) $(PYTEST) tests/kind/test_live_faults.py -q -p no:cacheprovider \
	    --durations=10 || status=$$?; \
	  echo "test-kind-prod: tests/kind/test_live_faults.py (prod chart faults) exit $$status ($$((SECONDS - t1))s)"; fi; \
	if [ -z "$(KEEP)" ]; then OVERLAY=prod bash infra/scripts/kind-cluster.sh down; fi; \
	exit $$status
