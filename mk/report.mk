# The conformance report (issue 8): writers, JSON schema, history classification, runs
# killed by SIGINT/SIGKILL, and the HTML opened in headless Chromium (screenshot kept in
# $(REPORT_DIR)/screenshots/). `make nightly` is the scheduled entry point.
.PHONY: test-report chromium nightly
TEST_OFFLINE += test-report

chromium: ## install headless Chromium (Debian package) if it is missing
	@command -v chromium >/dev/null 2>&1 || $(STEP) "headless Chromium (apt)" bash infra/scripts/apt-install.sh chromium

test-report: deps chromium ## report: schema, history classes, SIGINT/SIGKILL runs, HTML in headless Chromium
	@SOMA_REQUIRE_CHROMIUM=1 SOMA_SCREENSHOT_DIR=$(REPORT_DIR)/screenshots \
	  $(PYTEST) tests/unit/test_report_*.py -q -p no:randomly
	@echo "report: screenshots of the HTML report in $(REPORT_DIR)/screenshots/ (report-html.png, report-html-700.png)"

nightly: deps up ## the nightly run: $(REPORT_DIR)/<UTC time>/ with every artefact, plus $(REPORT_DIR)/latest
	@$(PYTHON) -m conformance.cli nightly --target compose --reports $(REPORT_DIR) \
	  $(if $(TEXTFILE_DIR),--textfile-dir $(TEXTFILE_DIR),)
