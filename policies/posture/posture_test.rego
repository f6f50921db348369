# Unit tests of the posture policy: a compliant minimal release passes, and each
# deliberately bad manifest is flagged (run: opa test policies/posture).
package soma.posture_test

import data.soma.posture
import rego.v1

sc := {
	"runAsNonRoot": true, "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
	"capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
}

res := {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}}

good_container := {
	"name": "opa", "image": "soma-infra/opa:local", "securityContext": sc, "resources": res,
	"livenessProbe": {"httpGet": {"path": "/health", "port": 8181}},
	"readinessProbe": {"httpGet": {"path": "/health", "port": 8181}},
}

good_pod_spec := {
	"automountServiceAccountToken": false,
	"securityContext": {"runAsNonRoot": true, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
	"containers": [good_container],
}

deployment(spec) := {
	"apiVersion": "apps/v1", "kind": "Deployment",
	"metadata": {"name": "opa", "namespace": "soma-infra"},
	"spec": {"template": {"metadata": {"labels": {"app.kubernetes.io/name": "opa"}}, "spec": spec}},
}

namespace := {"apiVersion": "v1", "kind": "Namespace", "metadata": {
	"name": "soma-infra",
	"labels": {"pod-security.kubernetes.io/enforce": "restricted"},
}}

service := {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "opa", "namespace": "soma-infra"}, "spec": {
	"selector": {"app.kubernetes.io/name": "opa"},
	"ports": [{"name": "http", "port": 8181}],
}}

np(name, spec) := {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name, "namespace": "soma-infra"}, "spec": spec}

default_deny := np("default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})

dns := np("allow-dns-egress", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"ports": [{"protocol": "UDP", "port": 53}]}]})

clients := np("allow-clients-opa", {
	"podSelector": {"matchLabels": {"app.kubernetes.io/name": "opa"}}, "policyTypes": ["Ingress"],
	"ingress": [{"from": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"soma.io/client-opa": "true"}}}], "ports": [{"protocol": "TCP", "port": 8181}]}],
})

good_objects := [namespace, service, default_deny, dns, clients, deployment(good_pod_spec)]

input_of(objects) := {
	"overlay": "dev", "namespace": "soma-infra", "catalog_services": {"opa": 8181}, "objects": objects,
	"ha_overlays": ["staging", "prod"], "ha_min_replicas": {"kafka": 3, "etcd": 3, "postgres": 2, "opa": 2, "vault": 3},
}

replace_last(objects, obj) := array.concat(array.slice(objects, 0, count(objects) - 1), [obj])

flagged(objects, fragment) if {
	some msg in posture.deny with input as input_of(objects)
	contains(msg, fragment)
}

test_good_release_is_compliant if {
	count(posture.deny) == 0 with input as input_of(good_objects)
}

test_privileged_pod_flagged if {
	bad := json.patch(good_pod_spec, [{"op": "add", "path": "/containers/0/securityContext/privileged", "value": true}])
	pod := {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "evil", "namespace": "soma-infra"}, "spec": bad}
	flagged(array.concat(good_objects, [pod]), "Pod/evil: container opa: privileged")
}

test_missing_default_deny_flagged if {
	objects := [o | some o in good_objects; o.metadata.name != "default-deny"]
	flagged(objects, "no default-deny")
}

test_default_deny_with_rules_is_not_default_deny if {
	leaky := np("default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": [{}]})
	objects := array.concat([o | some o in good_objects; o.metadata.name != "default-deny"], [leaky])
	flagged(objects, "no default-deny")
}

test_missing_client_policy_flagged if {
	objects := [o | some o in good_objects; o.metadata.name != "allow-clients-opa"]
	flagged(objects, "Service/opa: no NetworkPolicy lets pods labelled soma.io/client-opa=true")
}

test_no_limits_flagged if {
	bad := json.patch(good_pod_spec, [{"op": "remove", "path": "/containers/0/resources/limits"}])
	flagged(replace_last(good_objects, deployment(bad)), "resources.limits.cpu missing")
}

test_no_run_as_non_root_flagged if {
	bad := json.patch(good_pod_spec, [{"op": "remove", "path": "/securityContext/runAsNonRoot"}, {"op": "remove", "path": "/containers/0/securityContext/runAsNonRoot"}])
	flagged(replace_last(good_objects, deployment(bad)), "runAsNonRoot must be true")
}

test_container_overrides_pod_run_as_non_root if {
	bad := json.patch(good_pod_spec, [{"op": "replace", "path": "/containers/0/securityContext/runAsNonRoot", "value": false}])
	flagged(replace_last(good_objects, deployment(bad)), "runAsNonRoot must be true")
}

test_writable_root_flagged if {
	bad := json.patch(good_pod_spec, [{"op": "replace", "path": "/containers/0/securityContext/readOnlyRootFilesystem", "value": false}])
	flagged(replace_last(good_objects, deployment(bad)), "readOnlyRootFilesystem must be true")
}

test_missing_probe_flagged if {
	bad := json.patch(good_pod_spec, [{"op": "remove", "path": "/containers/0/readinessProbe"}])
	flagged(replace_last(good_objects, deployment(bad)), "readinessProbe missing")
}

test_no_seccomp_flagged if {
	bad := json.patch(good_pod_spec, [{"op": "remove", "path": "/securityContext/seccompProfile"}, {"op": "remove", "path": "/containers/0/securityContext/seccompProfile"}])
	flagged(replace_last(good_objects, deployment(bad)), "seccompProfile must be RuntimeDefault")
}

test_caps_not_dropped_flagged if {
	bad := json.patch(good_pod_spec, [{"op": "replace", "path": "/containers/0/securityContext/capabilities", "value": {"add": ["NET_ADMIN"]}}])
	flagged(replace_last(good_objects, deployment(bad)), "capabilities must drop ALL")
	flagged(replace_last(good_objects, deployment(bad)), "adds capability NET_ADMIN")
}

test_host_path_flagged if {
	bad := json.patch(good_pod_spec, [{"op": "add", "path": "/volumes", "value": [{"name": "root", "hostPath": {"path": "/"}}]}])
	flagged(replace_last(good_objects, deployment(bad)), "hostPath volume root")
}

test_namespace_without_restricted_flagged if {
	ns := json.patch(namespace, [{"op": "replace", "path": "/metadata/labels", "value": {"pod-security.kubernetes.io/enforce": "baseline"}}])
	objects := array.concat([ns], array.slice(good_objects, 1, count(good_objects)))
	flagged(objects, "not labelled pod-security.kubernetes.io/enforce=restricted")
}

test_dev_secret_outside_dev_flagged if {
	secret := {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "soma-infra-dev-credentials", "namespace": "soma-infra"}}
	some msg in posture.deny with input as object.union(input_of(array.concat(good_objects, [secret])), {"overlay": "prod"})
	contains(msg, "dev credentials rendered in overlay prod")
}

test_stateful_without_pvc_flagged if {
	sts := {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "postgres", "namespace": "soma-infra"}, "spec": {"template": {"spec": good_pod_spec}}}
	flagged(array.concat(good_objects, [sts]), "StatefulSet/postgres: no volumeClaimTemplates")
}

test_wrong_namespace_flagged if {
	moved := json.patch(service, [{"op": "replace", "path": "/metadata/namespace", "value": "default"}])
	objects := [namespace, moved, default_deny, dns, clients, deployment(good_pod_spec)]
	flagged(objects, "Service/opa: namespace must be soma-infra")
}

test_contract_port_mismatch_flagged if {
	wrong := json.patch(service, [{"op": "replace", "path": "/spec/ports/0/port", "value": 8282}])
	objects := [namespace, wrong, default_deny, dns, clients, deployment(good_pod_spec)]
	flagged(objects, "Service/opa: contract port 8181 not exposed")
}

test_service_selecting_no_pod_flagged if {
	lonely := json.patch(service, [{"op": "replace", "path": "/spec/selector", "value": {"app.kubernetes.io/name": "nobody"}}])
	flagged([namespace, lonely, default_deny, dns, clients, deployment(good_pod_spec)], "Service/opa: its selector matches no pod template")
}

# ---- services selecting a label set at run time ----------------------------------------

primary_service := json.patch(service, [{"op": "add", "path": "/spec/selector/role", "value": "master"}])

runtime_role := {"metadata": {"labels": {"app.kubernetes.io/name": "opa"}, "annotations": {"soma.io/runtime-labels": "role"}}, "spec": good_pod_spec}

test_selector_on_a_declared_runtime_label_is_routable if {
	dep := json.patch(deployment(good_pod_spec), [{"op": "replace", "path": "/spec/template", "value": runtime_role}])
	count(posture.deny) == 0 with input as input_of([namespace, primary_service, default_deny, dns, clients, dep])
}

test_selector_on_an_undeclared_label_is_not_routable if {
	flagged([namespace, primary_service, default_deny, dns, clients, deployment(good_pod_spec)], "Service/opa: its selector matches no pod template")
}

test_runtime_label_fixed_otherwise_in_the_template_is_not_routable if {
	fixed := json.patch(runtime_role, [{"op": "add", "path": "/metadata/labels/role", "value": "replica"}])
	dep := json.patch(deployment(good_pod_spec), [{"op": "replace", "path": "/spec/template", "value": fixed}])
	flagged([namespace, primary_service, default_deny, dns, clients, dep], "Service/opa: its selector matches no pod template")
}

# ---- high availability -------------------------------------------------------------------

opa_selector := {"matchLabels": {"app.kubernetes.io/name": "opa"}}

anti_affinity := {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": "kubernetes.io/hostname", "labelSelector": opa_selector}]}}

pdb := {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "opa", "namespace": "soma-infra"}, "spec": {"maxUnavailable": 1, "selector": opa_selector}}

replicated(n, spec) := json.patch(deployment(spec), [{"op": "add", "path": "/spec/replicas", "value": n}])

ha_spec := object.union(good_pod_spec, {"affinity": anti_affinity})

ha_objects := [namespace, service, default_deny, dns, clients, pdb, replicated(2, ha_spec)]

prod_input(objects) := object.union(input_of(objects), {"overlay": "prod"})

test_replicated_with_pdb_and_anti_affinity_is_compliant if {
	count(posture.deny) == 0 with input as prod_input(ha_objects)
}

test_replicated_with_topology_spread_is_compliant if {
	spread := object.union(good_pod_spec, {"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule", "labelSelector": opa_selector}]})
	count(posture.deny) == 0 with input as prod_input(replace_last(ha_objects, replicated(2, spread)))
}

test_replicated_without_pdb_flagged if {
	objects := [o | some o in ha_objects; o.kind != "PodDisruptionBudget"]
	flagged(objects, "Deployment/opa: 2 replicas and no PodDisruptionBudget selects its pods")
}

test_pdb_of_other_pods_does_not_count if {
	other := json.patch(pdb, [{"op": "replace", "path": "/spec/selector", "value": {"matchLabels": {"app.kubernetes.io/name": "redis"}}}])
	objects := [namespace, service, default_deny, dns, clients, other, replicated(2, ha_spec)]
	flagged(objects, "no PodDisruptionBudget selects its pods")
}

test_replicated_without_spread_flagged if {
	flagged(replace_last(ha_objects, replicated(3, good_pod_spec)), "Deployment/opa: 3 replicas with no spread over nodes")
}

test_spread_that_schedules_anyway_does_not_count if {
	soft := object.union(good_pod_spec, {"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": opa_selector}]})
	flagged(replace_last(ha_objects, replicated(2, soft)), "with no spread over nodes")
}

test_anti_affinity_on_another_key_does_not_count if {
	zone := json.patch(ha_spec, [{"op": "replace", "path": "/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/0/topologyKey", "value": "topology.kubernetes.io/zone"}])
	flagged(replace_last(ha_objects, replicated(2, zone)), "with no spread over nodes")
}

test_single_replica_needs_no_pdb_nor_spread if {
	count(posture.deny) == 0 with input as input_of(good_objects)
}

test_ha_overlay_below_its_topology_flagged if {
	some msg in posture.deny with input as prod_input(replace_last(ha_objects, replicated(1, ha_spec)))
	msg == "Deployment/opa: 1 replica(s) in overlay prod; its HA topology needs at least 2"
}

test_dev_overlay_has_no_ha_floor if {
	count(posture.deny) == 0 with input as input_of(replace_last(ha_objects, replicated(1, ha_spec)))
}

# OpenBao: three Raft servers in staging and prod, one per node, a budget; one is refused
vault_selector := {"matchLabels": {"app.kubernetes.io/name": "vault"}}

vault_sts(n) := {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "vault", "namespace": "soma-infra"}, "spec": {
	"replicas": n,
	"volumeClaimTemplates": [{"metadata": {"name": "data"}}],
	"template": {"metadata": {"labels": {"app.kubernetes.io/name": "vault"}}, "spec": object.union(good_pod_spec, {"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": "kubernetes.io/hostname", "labelSelector": vault_selector}]}}})},
}}

vault_pdb := json.patch(pdb, [
	{"op": "replace", "path": "/metadata/name", "value": "vault"},
	{"op": "replace", "path": "/spec/selector", "value": vault_selector},
])

staging_input(objects) := object.union(input_of(objects), {"overlay": "staging"})

test_vault_cluster_of_three_is_compliant if {
	count(posture.deny) == 0 with input as staging_input(array.concat(ha_objects, [vault_pdb, vault_sts(3)]))
}

test_single_vault_in_staging_flagged if {
	some msg in posture.deny with input as staging_input(array.concat(ha_objects, [vault_sts(1)]))
	msg == "StatefulSet/vault: 1 replica(s) in overlay staging; its HA topology needs at least 3"
}

test_single_vault_in_dev_is_compliant if {
	count(posture.deny) == 0 with input as input_of(array.concat(good_objects, [vault_sts(1)]))
}

kafka_env := [
	{"name": "KAFKA_DEFAULT_REPLICATION_FACTOR", "value": "3"},
	{"name": "KAFKA_MIN_INSYNC_REPLICAS", "value": "2"},
	{"name": "KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE", "value": "false"},
	{"name": "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "value": "3"},
	{"name": "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "value": "3"},
	{"name": "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "value": "2"},
]

kafka_sts(env) := {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "kafka", "namespace": "soma-infra"}, "spec": {
	"replicas": 3,
	"volumeClaimTemplates": [{"metadata": {"name": "data"}}],
	"template": {"metadata": {"labels": {"app.kubernetes.io/name": "kafka"}}, "spec": object.union(good_pod_spec, {
		"containers": [object.union(good_container, {"name": "kafka", "env": env})],
		"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "kafka"}}}]}},
	})},
}}

kafka_pdb := json.patch(pdb, [
	{"op": "replace", "path": "/metadata/name", "value": "kafka"},
	{"op": "replace", "path": "/spec/selector", "value": {"matchLabels": {"app.kubernetes.io/name": "kafka"}}},
])

kafka_objects(env) := array.concat(good_objects, [kafka_pdb, kafka_sts(env)])

test_durable_kafka_cluster_is_compliant if {
	count(posture.deny) == 0 with input as input_of(kafka_objects(kafka_env))
}

test_kafka_min_insync_one_flagged if {
	acks1 := json.patch(kafka_env, [{"op": "replace", "path": "/1/value", "value": "1"}])
	flagged(kafka_objects(acks1), "StatefulSet/kafka: KAFKA_MIN_INSYNC_REPLICAS is 1 with 3 brokers")
}

test_kafka_replication_factor_unset_flagged if {
	unset := array.slice(kafka_env, 1, count(kafka_env))
	flagged(kafka_objects(unset), "StatefulSet/kafka: KAFKA_DEFAULT_REPLICATION_FACTOR is unset with 3 brokers")
}

test_kafka_unclean_election_flagged if {
	unclean := json.patch(kafka_env, [{"op": "replace", "path": "/2/value", "value": "true"}])
	flagged(kafka_objects(unclean), "StatefulSet/kafka: unclean leader election must be off")
}

# ---- API access -------------------------------------------------------------------------

token_volume := {"name": "kube-api", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}

test_projected_token_for_own_service_account_is_compliant if {
	spec := object.union(good_pod_spec, {"serviceAccountName": "opa", "volumes": [token_volume]})
	count(posture.deny) == 0 with input as input_of(replace_last(good_objects, deployment(spec)))
}

test_projected_token_for_default_service_account_flagged if {
	spec := object.union(good_pod_spec, {"volumes": [token_volume]})
	flagged(replace_last(good_objects, deployment(spec)), "Deployment/opa: volume kube-api projects an API token for the default ServiceAccount")
}

test_cluster_wide_rbac_flagged if {
	binding := {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "patroni"}}
	flagged(array.concat(good_objects, [binding]), "ClusterRoleBinding/patroni: cluster-wide RBAC")
}

# ---- the remaining rules, one bad manifest each (100% line coverage) ----------------------

test_cron_job_pod_template_checked if {
	bad := json.patch(good_pod_spec, [{"op": "add", "path": "/containers/0/securityContext/privileged", "value": true}])
	cron := {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly", "namespace": "soma-infra"}, "spec": {"jobTemplate": {"spec": {"template": {"spec": bad}}}}}
	flagged(array.concat(good_objects, [cron]), "CronJob/nightly: container opa: privileged")
}

test_root_uid_flagged if {
	bad := json.patch(good_pod_spec, [{"op": "add", "path": "/containers/0/securityContext/runAsUser", "value": 0}])
	flagged(replace_last(good_objects, deployment(bad)), "container opa: runAsUser 0 (root)")
}

test_privilege_escalation_flagged if {
	bad := json.patch(good_pod_spec, [{"op": "remove", "path": "/containers/0/securityContext/allowPrivilegeEscalation"}])
	flagged(replace_last(good_objects, deployment(bad)), "container opa: allowPrivilegeEscalation must be false")
}

test_host_network_flagged if {
	bad := object.union(good_pod_spec, {"hostNetwork": true})
	flagged(replace_last(good_objects, deployment(bad)), "Deployment/opa: hostNetwork is not allowed")
}

test_host_port_flagged if {
	bad := json.patch(good_pod_spec, [{"op": "add", "path": "/containers/0/ports", "value": [{"containerPort": 8181, "hostPort": 8181}]}])
	flagged(replace_last(good_objects, deployment(bad)), "container opa: hostPort is not allowed")
}

test_automounted_token_flagged if {
	bad := json.patch(good_pod_spec, [{"op": "remove", "path": "/automountServiceAccountToken"}])
	flagged(replace_last(good_objects, deployment(bad)), "Deployment/opa: automountServiceAccountToken must be false")
}

test_stateful_service_as_deployment_flagged if {
	redis := json.patch(deployment(good_pod_spec), [{"op": "replace", "path": "/metadata/name", "value": "redis"}])
	flagged(array.concat(good_objects, [redis]), "Deployment/redis: stateful service must be a StatefulSet")
}

test_missing_dns_egress_flagged if {
	flagged([o | some o in good_objects; o.metadata.name != "allow-dns-egress"], "no DNS egress")
}

metrics_service := json.patch(service, [{"op": "add", "path": "/spec/ports/-", "value": {"name": "metrics", "port": 9999}}])

test_metrics_port_closed_to_prometheus_flagged if {
	flagged(array.concat(good_objects, [metrics_service]), "Service/opa: metrics port 9999 not open to Prometheus")
}

test_metrics_port_open_to_prometheus_is_compliant if {
	scrape := np("allow-scrape-opa", {
		"podSelector": {"matchLabels": {"app.kubernetes.io/name": "opa"}}, "policyTypes": ["Ingress"],
		"ingress": [{"from": [{"podSelector": {"matchLabels": {"soma.io/metrics-scraper": "true"}}}], "ports": [{"protocol": "TCP", "port": 9999}]}],
	})
	objects := [namespace, metrics_service, default_deny, dns, clients, scrape, deployment(good_pod_spec)]
	count(posture.deny) == 0 with input as input_of(objects)
}

test_missing_contract_service_flagged if {
	some msg in posture.deny with input as object.union(input_of(good_objects), {"catalog_services": {"opa": 8181, "redis": 6379}})
	msg == "Service/redis: contract service missing"
}

opa_allow(name, ingress) := np(name, {
	"podSelector": {"matchLabels": {"app.kubernetes.io/name": "opa"}}, "policyTypes": ["Ingress"], "ingress": ingress,
})

test_allow_all_ingress_flagged if {
	flagged(array.concat(good_objects, [opa_allow("allow-all-opa", [{}])]), "NetworkPolicy/allow-all-opa: admits every source to opa")
}

test_client_allow_of_any_pod_flagged if {
	any_pod := opa_allow("allow-any", [{"from": [{"namespaceSelector": {}, "podSelector": {}}], "ports": [{"port": 8181}]}])
	flagged(array.concat(good_objects, [any_pod]), "NetworkPolicy/allow-any: admits every pod of every namespace to opa")
}

test_allow_of_another_services_clients_flagged if {
	other := opa_allow("allow-redis-clients", [{"from": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"soma.io/client-redis": "true"}}}]}])
	flagged(array.concat(good_objects, [other]), "NetworkPolicy/allow-redis-clients: admits soma.io/client-redis pods to opa")
}
