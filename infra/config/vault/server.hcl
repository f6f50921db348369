# OpenBao server (compose and every Helm overlay; no dev mode anywhere): durable storage,
# automatic offline unseal, self-initialisation. telemetry.hcl adds the contract listener.
# What each deployment sets through the environment, not here:
#   VAULT_SEAL_KEY          the static seal key (32 bytes, base64 or hex): env file / Secret
#   BAO_DEV_ROOT_TOKEN_ID   id of the admin token self-initialisation creates (env file / Secret)
#   BAO_RAFT_NODE_ID        stable per node: compose vault-0, Kubernetes the pod name
#   BAO_API_ADDR, BAO_CLUSTER_ADDR   this node's stable DNS name (:8200 / :8201)

# Integrated Raft storage. A single server here; the Helm chart's cluster (vault.replicas
# > 1) replaces this stanza with its cluster.hcl (same path and timing, plus a retry_join
# per server), and only its first server self-initialises. /openbao/file is the image's
# data directory, owned by the image user: a Docker named volume created on it inherits
# that owner (Kubernetes: fsGroup on the PVC).
storage "raft" {
  path = "/openbao/file"
  # Raft's tight timing, which OpenBao recommends for production: a new node elects
  # itself in ~2 s instead of ~10 s (the default, 5, is sized for minimal servers)
  performance_multiplier = 1
}

# Auto-unseal with a static key from the environment: a restarted, recreated or
# rescheduled server unseals itself, offline. Only as safe as the store the key comes from:
# dev keeps it in the env file or a dev Secret; a real deployment uses a KMS/HSM seal
# ("awskms", "gcpckms", "azurekeyvault", "pkcs11", "transit") instead. The id names this key
# for good: a new key gets a new id, and the old one moves to previous_key/previous_key_id.
seal "static" {
  current_key_id = "soma-seal-1"
  current_key    = "env://VAULT_SEAL_KEY"
}

# Self-initialisation, once, when the storage is empty (never again after that): OpenBao
# initialises itself with this seal, runs the requests below with a temporary root token,
# then revokes that token; no recovery key is printed anywhere. The one request creates the
# admin token the bootstrap and the suite use, with the id from the env file / Secret: an
# orphan (it must outlive the revoked init token) with the root policy (so no TTL).
initialize "soma" {
  request "admin-token" {
    operation = "update"
    path      = "auth/token/create-orphan"
    data = {
      id = {
        eval_source     = "env"
        eval_type       = "string"
        env_var         = "BAO_DEV_ROOT_TOKEN_ID"
        require_present = true
      }
      policies     = ["root"]
      display_name = "soma-admin"
    }
  }
}

ui = false
