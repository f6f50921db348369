# The consumer trial (issue 17): the wheel alone, in a fresh venv, from an empty directory:
# an unrelated project unaffected; compose by project name; endpoints init --from-compose
# then a read-only external run that changes nothing; usage errors are one line, exit 4.
# Brings up its own isolated stack (consumer-trial-*, free ports) unless TRIAL_PROJECT names
# a running one. Measured: see the last line it prints ("consumer trial passed in Ns").
.PHONY: test-consumer
TEST_STACKS += test-consumer

test-consumer: deps docker env bundle ## consumer trial: wheel in a fresh venv against an isolated stack (prints its time)
	@$(STEP) "build images" bash infra/scripts/build-images.sh
	@TRIAL_PROJECT=$(TRIAL_PROJECT) bash tests/consumer/trial.sh
