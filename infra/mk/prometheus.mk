# Prometheus scraping every 5 s on demand (the contract interval is 15 s): the variant is
# rendered from the one config source by infra/scripts/prometheus-variant.sh.
.PHONY: prometheus-5s prometheus-15s
PROM_FAST        := build/prometheus/prometheus.yml

$(PROM_FAST): infra/config/prometheus/prometheus.yml infra/scripts/prometheus-variant.sh
	@bash infra/scripts/prometheus-variant.sh 5s 4s $@

prometheus-5s: docker env $(PROM_FAST) ## scrape every 5 s (on demand), same config source
	@$(COMPOSE) -f infra/docker/prometheus-5s.override.yaml up -d --wait --no-deps prometheus

prometheus-15s: docker env ## back to the contract's 15 s scrape interval
	@$(COMPOSE) up -d --wait --no-deps prometheus
