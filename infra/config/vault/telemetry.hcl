# Merged into the OpenBao dev server's config. The contract listener (:8200) is declared
# here so that Prometheus can read /v1/sys/metrics?format=prometheus without a token
# (as the upstream Vault/OpenBao charts configure it); the dev listener stays on loopback.
listener "tcp" {
  address     = "0.0.0.0:8200"
  tls_disable = true
  telemetry {
    unauthenticated_metrics_access = true
  }
}

telemetry {
  prometheus_retention_time = "60s"
  disable_hostname          = true
}
