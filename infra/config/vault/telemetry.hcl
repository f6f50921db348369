# Merged with server.hcl into the OpenBao server's config. The contract listener (:8200;
# its cluster port is 8201) is declared here so that Prometheus can read
# /v1/sys/metrics?format=prometheus without a token (as the upstream Vault/OpenBao charts
# configure it).
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
