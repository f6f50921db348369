# Day-2 backups of Postgres (issue 15): every database as a pg_dump custom-format archive
# plus the roles, into a dated folder; restore into a running stack. One script for both
# paths, run inside the postgres container (compose exec / kubectl exec). The compose round
# trip (rows written, backup, volume removed, restore, rows read back) runs on an isolated
# compose project in the soma-infra repo's tests/stack/test_backup.py (part of test-stack).
.PHONY: backup restore backup-kind restore-kind
BACKUP_DIR   ?= backups
KUBE_CONTEXT ?= kind-soma
# the writable primary: with Patroni (postgres.ha.enabled) the pod labelled role=master,
# else the single server postgres-0
PG_KIND_POD   = $$(kubectl --context $(KUBE_CONTEXT) -n soma-infra get pods -o name \
                  -l app.kubernetes.io/name=postgres,role=master | grep . || echo postgres-0)
PG_KIND_EXEC  = kubectl --context $(KUBE_CONTEXT) -n soma-infra exec -i $(PG_KIND_POD) -c postgres --
PG_BACKUP     = bash infra/scripts/pg-backup.sh
NEED_FROM     = @[ -n "$(FROM)" ] || { echo "restore: FROM=<backup folder> is required, e.g. FROM=$(BACKUP_DIR)/$$(ls $(BACKUP_DIR) 2>/dev/null | tail -n1)" >&2; exit 2; }

backup: env ## pg_dump (custom format) of every database + roles into $(BACKUP_DIR)/<UTC>/
	@PG_EXEC="$(COMPOSE) exec -T postgres" $(PG_BACKUP) backup "$(BACKUP_DIR)/$$(date -u +%Y%m%dT%H%M%SZ)"

restore: env ## restore a backup folder into the running stack: make restore FROM=backups/<UTC>
	$(NEED_FROM)
	@PG_EXEC="$(COMPOSE) exec -T postgres" $(PG_BACKUP) restore "$(FROM)"

backup-kind: ## the same backup from the Kind cluster (kubectl exec into the primary: postgres-0, or Patroni's leader)
	@PG_EXEC="$(PG_KIND_EXEC)" $(PG_BACKUP) backup "$(BACKUP_DIR)/kind-$$(date -u +%Y%m%dT%H%M%SZ)"

restore-kind: ## restore a backup folder into the Kind cluster's primary (as backup-kind): FROM=...
	$(NEED_FROM)
	@PG_EXEC="$(PG_KIND_EXEC)" $(PG_BACKUP) restore "$(FROM)"
