# The split (issue 15): infra/, docs/infra/ and policies/ exported with their history into
# a repo of their own (infra/scripts/split.sh), proven to stand alone by tests/split:
#   test-split       nothing there points into conformance/, its compose config is valid,
#                    its own Makefile has the operator targets, its chart lints and renders;
#   test-split-live  its own `make up` reaches all-healthy under a project name and host
#                    ports of its own, and the full suite from this checkout passes against it.
.PHONY: split test-split test-split-live
# offline part: ~35 s here without the chart lint (the helm binary was not cached yet)
TEST_OFFLINE += test-split

split: ## export infra/, docs/infra/, policies/ with history into a new repo: make split DEST=dir
	@[ -n "$(DEST)" ] || { echo "split: DEST=<new directory> is required" >&2; exit 2; }
	@bash infra/scripts/split.sh "$(DEST)"

test-split: deps docker helm-tools ## split into a temp dir: no conformance/ reference, compose config valid, chart lints there
	@$(PYTEST) tests/split -q -rs -p no:cacheprovider

test-split-live: deps docker helm-tools ## the split repo's own make up (own project, free ports) all-healthy, then the full suite against it
	@SOMA_SPLIT_LIVE=1 $(PYTEST) tests/split -q -rs -p no:cacheprovider --timeout=7200
