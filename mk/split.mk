# The split (issue 15): infra/, docs/infra/ and policies/ exported with their history into
# a repo of their own (infra/scripts/split.sh), and proven to stand alone: nothing there
# points into conformance/, its compose file is valid, and (live, tests/split) its own
# `make up` reaches all-healthy under its own project name and ports, and the suite from
# this checkout passes against it.
.PHONY: split test-split

split: ## export infra/, docs/infra/, policies/ with history into a new repo: make split DEST=dir
	@[ -n "$(DEST)" ] || { echo "split: DEST=<new directory> is required" >&2; exit 2; }
	@bash infra/scripts/split.sh "$(DEST)"

test-split: deps docker ## split into a temp dir: no conformance/ reference, compose config valid; live: its make up + the suite
	@$(PYTEST) tests/split -q -rs -p no:cacheprovider
