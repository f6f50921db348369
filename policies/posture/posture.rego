# Security posture of the soma-infra Helm chart, evaluated by OPA against the rendered
# manifests of one overlay (infra/scripts/helm-check.sh; tests in posture_test.rego).
#
# input:
#   overlay:  "dev" | "staging" | "prod"
#   namespace: "soma-infra"
#   catalog_services: {"postgres": 5432, ...}   (infra/contracts/catalog.yaml, enabled ones)
#   ha_overlays: ["staging", "prod"], ha_min_replicas: {"kafka": 3, ...}   (its resilience)
#   objects:  [ every rendered Kubernetes object ]
#
# data.soma.posture.deny is the set of violations (empty = compliant).
package soma.posture

import rego.v1

workload_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}

long_running_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}

cluster_scoped_kinds := {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass"}

# the services whose data must survive a restart (seed: PVCs for the stateful services;
# Vault keeps its identity issuer's keys, issue 31)
stateful_services := {"postgres", "kafka", "redis", "etcd", "prometheus", "grafana", "vault"}

dev_secret := "soma-infra-dev-credentials"

label_enforce := "pod-security.kubernetes.io/enforce"

id(obj) := sprintf("%s/%s", [obj.kind, obj.metadata.name])

# ---- pod templates -------------------------------------------------------------------

pods contains [id(obj), obj.kind, obj.spec.template.spec] if {
	some obj in input.objects
	obj.kind in workload_kinds
}

pods contains [id(obj), obj.kind, obj.spec] if {
	some obj in input.objects
	obj.kind == "Pod"
}

pods contains [id(obj), obj.kind, obj.spec.jobTemplate.spec.template.spec] if {
	some obj in input.objects
	obj.kind == "CronJob"
}

all_containers(spec) := array.concat(
	array.concat(object.get(spec, "containers", []), object.get(spec, "initContainers", [])),
	object.get(spec, "ephemeralContainers", []),
)

# effective value: the container's securityContext wins over the pod's
effective(spec, c, field) := v if {
	v := c.securityContext[field]
} else := v if {
	v := spec.securityContext[field]
}

run_as_non_root(spec, c) if effective(spec, c, "runAsNonRoot") == true

seccomp_runtime_default(spec, c) if effective(spec, c, "seccompProfile").type == "RuntimeDefault"

deny contains msg if {
	some [name, _, spec] in pods
	some c in all_containers(spec)
	not run_as_non_root(spec, c)
	msg := sprintf("%s: container %s: runAsNonRoot must be true", [name, c.name])
}

deny contains msg if {
	some [name, _, spec] in pods
	some c in all_containers(spec)
	effective(spec, c, "runAsUser") == 0
	msg := sprintf("%s: container %s: runAsUser 0 (root)", [name, c.name])
}

deny contains msg if {
	some [name, _, spec] in pods
	some c in all_containers(spec)
	not seccomp_runtime_default(spec, c)
	msg := sprintf("%s: container %s: seccompProfile must be RuntimeDefault", [name, c.name])
}

deny contains msg if {
	some [name, _, spec] in pods
	some c in all_containers(spec)
	object.get(c, ["securityContext", "allowPrivilegeEscalation"], true) != false
	msg := sprintf("%s: container %s: allowPrivilegeEscalation must be false", [name, c.name])
}

deny contains msg if {
	some [name, _, spec] in pods
	some c in all_containers(spec)
	object.get(c, ["securityContext", "readOnlyRootFilesystem"], false) != true
	msg := sprintf("%s: container %s: readOnlyRootFilesystem must be true", [name, c.name])
}

deny contains msg if {
	some [name, _, spec] in pods
	some c in all_containers(spec)
	not "ALL" in object.get(c, ["securityContext", "capabilities", "drop"], [])
	msg := sprintf("%s: container %s: capabilities must drop ALL", [name, c.name])
}

deny contains msg if {
	some [name, _, spec] in pods
	some c in all_containers(spec)
	some cap in object.get(c, ["securityContext", "capabilities", "add"], [])
	msg := sprintf("%s: container %s: adds capability %s", [name, c.name, cap])
}

deny contains msg if {
	some [name, _, spec] in pods
	some c in all_containers(spec)
	c.securityContext.privileged == true
	msg := sprintf("%s: container %s: privileged", [name, c.name])
}

deny contains msg if {
	some [name, _, spec] in pods
	some field in ["hostNetwork", "hostPID", "hostIPC"]
	spec[field] == true
	msg := sprintf("%s: %s is not allowed", [name, field])
}

deny contains msg if {
	some [name, _, spec] in pods
	some v in object.get(spec, "volumes", [])
	v.hostPath
	msg := sprintf("%s: hostPath volume %s is not allowed", [name, v.name])
}

deny contains msg if {
	some [name, _, spec] in pods
	some c in all_containers(spec)
	some p in object.get(c, "ports", [])
	p.hostPort
	msg := sprintf("%s: container %s: hostPort is not allowed", [name, c.name])
}

deny contains msg if {
	some [name, _, spec] in pods
	object.get(spec, "automountServiceAccountToken", true) != false
	msg := sprintf("%s: automountServiceAccountToken must be false (no API access needed)", [name])
}

# requests and limits for cpu and memory on every container
deny contains msg if {
	some [name, _, spec] in pods
	some c in object.get(spec, "containers", [])
	some kind in ["requests", "limits"]
	some res in ["cpu", "memory"]
	not c.resources[kind][res]
	msg := sprintf("%s: container %s: resources.%s.%s missing", [name, c.name, kind, res])
}

# liveness and readiness probes on long-running workloads
deny contains msg if {
	some [name, kind, spec] in pods
	kind in long_running_kinds
	some c in object.get(spec, "containers", [])
	some probe in ["livenessProbe", "readinessProbe"]
	not c[probe]
	msg := sprintf("%s: container %s: %s missing", [name, c.name, probe])
}

# ---- persistence ---------------------------------------------------------------------

deny contains msg if {
	some obj in input.objects
	obj.kind in workload_kinds
	obj.metadata.name in stateful_services
	not obj.kind == "StatefulSet"
	msg := sprintf("%s: stateful service must be a StatefulSet with a PVC", [id(obj)])
}

deny contains msg if {
	some obj in input.objects
	obj.kind == "StatefulSet"
	obj.metadata.name in stateful_services
	count(object.get(obj.spec, "volumeClaimTemplates", [])) == 0
	msg := sprintf("%s: no volumeClaimTemplates (PVC) for a stateful service", [id(obj)])
}

# ---- namespace -----------------------------------------------------------------------

deny contains msg if {
	not namespace_restricted
	msg := sprintf("Namespace/%s: missing, or not labelled %s=restricted", [input.namespace, label_enforce])
}

namespace_restricted if {
	some obj in input.objects
	obj.kind == "Namespace"
	obj.metadata.name == input.namespace
	obj.metadata.labels[label_enforce] == "restricted"
}

deny contains msg if {
	some obj in input.objects
	obj.kind == "Namespace"
	object.get(obj.metadata, ["labels", label_enforce], "") != "restricted"
	msg := sprintf("%s: not labelled %s=restricted", [id(obj), label_enforce])
}

deny contains msg if {
	some obj in input.objects
	not obj.kind in cluster_scoped_kinds
	object.get(obj.metadata, "namespace", "") != input.namespace
	msg := sprintf("%s: namespace must be %s", [id(obj), input.namespace])
}

# ---- credentials ---------------------------------------------------------------------

deny contains msg if {
	input.overlay != "dev"
	some obj in input.objects
	obj.kind == "Secret"
	obj.metadata.name == dev_secret
	msg := sprintf("Secret/%s: dev credentials rendered in overlay %s", [dev_secret, input.overlay])
}

# ---- network policies ----------------------------------------------------------------

netpols := [np | some np in input.objects; np.kind == "NetworkPolicy"]

default_deny if {
	some np in netpols
	np.spec.podSelector == {}
	"Ingress" in np.spec.policyTypes
	"Egress" in np.spec.policyTypes
	count(object.get(np.spec, "ingress", [])) == 0
	count(object.get(np.spec, "egress", [])) == 0
}

deny contains "NetworkPolicy: no default-deny (podSelector {}, Ingress+Egress, no rules)" if not default_deny

dns_egress if {
	some np in netpols
	np.spec.podSelector == {}
	some rule in np.spec.egress
	some p in rule.ports
	p.port == 53
	p.protocol == "UDP"
}

deny contains "NetworkPolicy: no DNS egress (port 53/UDP) for the namespace's pods" if not dns_egress

selects(np, selector) if {
	count(np.spec.podSelector.matchLabels) > 0
	every k, v in np.spec.podSelector.matchLabels {
		selector[k] == v
	}
}

allows_ingress(np, port, from_label) if {
	"Ingress" in np.spec.policyTypes
	some rule in np.spec.ingress
	some p in rule.ports
	p.port == port
	some peer in rule.from
	peer.podSelector.matchLabels[from_label] == "true"
}

# every contract service: consumers carrying soma.io/client-<svc>="true" are let in
deny contains msg if {
	some svc in input.objects
	svc.kind == "Service"
	port := input.catalog_services[svc.metadata.name]
	label := sprintf("soma.io/client-%s", [svc.metadata.name])
	not client_allowed(svc, port, label)
	msg := sprintf("Service/%s: no NetworkPolicy lets pods labelled %s=true reach port %d", [svc.metadata.name, label, port])
}

client_allowed(svc, port, label) if {
	some np in netpols
	selects(np, svc.spec.selector)
	allows_ingress(np, port, label)
}

# An allow may admit a catalog service's own clients, nothing wider (security.networkpolicy
# probes the same from an app namespace): not every source, not every pod of a namespace,
# not the clients of another service.
catalog_service_of(np) := svc.metadata.name if {
	some svc in input.objects
	svc.kind == "Service"
	input.catalog_services[svc.metadata.name]
	selects(np, svc.spec.selector)
}

ingress_rules(np) := object.get(np.spec, "ingress", []) if "Ingress" in np.spec.policyTypes

deny contains msg if {
	some np in netpols
	name := catalog_service_of(np)
	some rule in ingress_rules(np)
	count(object.get(rule, "from", [])) == 0
	msg := sprintf("NetworkPolicy/%s: admits every source to %s", [np.metadata.name, name])
}

deny contains msg if {
	some np in netpols
	name := catalog_service_of(np)
	some rule in ingress_rules(np)
	some peer in object.get(rule, "from", [])
	"namespaceSelector" in object.keys(peer)
	count(object.get(peer, ["podSelector", "matchLabels"], {})) == 0
	count(object.get(peer, ["podSelector", "matchExpressions"], [])) == 0
	msg := sprintf("NetworkPolicy/%s: admits every pod of every namespace to %s", [np.metadata.name, name])
}

deny contains msg if {
	some np in netpols
	name := catalog_service_of(np)
	some rule in ingress_rules(np)
	some peer in object.get(rule, "from", [])
	some label, _ in object.get(peer, ["podSelector", "matchLabels"], {})
	startswith(label, "soma.io/client-")
	label != sprintf("soma.io/client-%s", [name])
	msg := sprintf("NetworkPolicy/%s: admits %s pods to %s", [np.metadata.name, label, name])
}

# every metrics port is open to the Prometheus scraper
deny contains msg if {
	some svc in input.objects
	svc.kind == "Service"
	some p in svc.spec.ports
	p.name == "metrics"
	not scrape_allowed(svc, p.port)
	msg := sprintf("Service/%s: metrics port %d not open to Prometheus (soma.io/metrics-scraper)", [svc.metadata.name, p.port])
}

scrape_allowed(svc, port) if {
	some np in netpols
	selects(np, svc.spec.selector)
	allows_ingress(np, port, "soma.io/metrics-scraper")
}

# every contract service in the catalog (enabled in this overlay) has its Service
deny contains msg if {
	some name, _ in input.catalog_services
	not service_present(name)
	msg := sprintf("Service/%s: contract service missing", [name])
}

service_present(name) if {
	some svc in input.objects
	svc.kind == "Service"
	svc.metadata.name == name
}

deny contains msg if {
	some svc in input.objects
	svc.kind == "Service"
	want := input.catalog_services[svc.metadata.name]
	not want in [p.port | some p in svc.spec.ports]
	msg := sprintf("Service/%s: contract port %d not exposed", [svc.metadata.name, want])
}

# every Service selects at least one pod template: one that selects nothing never gets an
# endpoint, so its contract name never routes (readiness.kubernetes fails live)
deny contains msg if {
	some svc in input.objects
	svc.kind == "Service"
	count(object.get(svc.spec, "selector", {})) > 0
	not selects_some_pod(svc.spec.selector)
	msg := sprintf("Service/%s: its selector matches no pod template (never routable)", [svc.metadata.name])
}

selects_some_pod(selector) if {
	some obj in input.objects
	obj.kind in long_running_kinds
	labels := object.get(obj.spec.template, ["metadata", "labels"], {})
	later := runtime_labels(obj)
	every k, v in selector {
		label_matches(labels, later, k, v)
	}
}

# Label keys a program in the pod sets on it at run time (Patroni's role label, on which
# the Service postgres selects the primary), declared on the template by the annotation
# soma.io/runtime-labels (comma-separated keys). Only a key the template leaves unset.
runtime_labels(obj) := {trim_space(k) |
	some k in split(object.get(obj.spec.template, ["metadata", "annotations", "soma.io/runtime-labels"], ""), ",")
	trim_space(k) != ""
}

label_matches(labels, _, k, v) if labels[k] == v

label_matches(labels, later, k, _) if {
	k in later
	not labels[k]
}

# ---- high availability ---------------------------------------------------------------

replicated_kinds := {"Deployment", "StatefulSet"}

hostname_key := "kubernetes.io/hostname"

# the HA topology of the staging and prod overlays, at least this many members each: the
# catalog's resilience.ha_overlays and resilience.min_replicas (input.ha_overlays,
# input.ha_min_replicas), which the live resilience contracts read too
ha_overlays := {o | some o in object.get(input, "ha_overlays", [])}

# (OpenBao among them: a Raft cluster of three keeps its issuer through one server lost)
ha_min_replicas := object.get(input, "ha_min_replicas", {})

replicas(obj) := object.get(obj.spec, "replicas", 1)

template_labels(obj) := object.get(obj.spec.template, ["metadata", "labels"], {})

# a label selector (matchLabels, non-empty) that matches the workload's pods
selects_pods(selector, obj) if {
	count(object.get(selector, "matchLabels", {})) > 0
	every k, v in selector.matchLabels {
		template_labels(obj)[k] == v
	}
}

# every replicated workload: a PodDisruptionBudget selecting its pods, so a node drain
# evicts one member at a time and never a quorum
deny contains msg if {
	some obj in input.objects
	obj.kind in replicated_kinds
	replicas(obj) > 1
	not pdb_covers(obj)
	msg := sprintf("%s: %d replicas and no PodDisruptionBudget selects its pods", [id(obj), replicas(obj)])
}

pdb_covers(obj) if {
	some pdb in input.objects
	pdb.kind == "PodDisruptionBudget"
	selects_pods(pdb.spec.selector, obj)
}

# ... and its members on distinct nodes: a topology spread constraint on the hostname that
# refuses to schedule otherwise, or a required pod anti-affinity on it
deny contains msg if {
	some obj in input.objects
	obj.kind in replicated_kinds
	replicas(obj) > 1
	not spread_over_nodes(obj)
	msg := sprintf("%s: %d replicas with no spread over nodes (topologySpreadConstraint DoNotSchedule or required podAntiAffinity on %s)", [id(obj), replicas(obj), hostname_key])
}

spread_over_nodes(obj) if {
	some c in object.get(obj.spec.template.spec, "topologySpreadConstraints", [])
	c.topologyKey == hostname_key
	c.whenUnsatisfiable == "DoNotSchedule"
	selects_pods(c.labelSelector, obj)
}

spread_over_nodes(obj) if {
	some term in object.get(obj.spec.template.spec, ["affinity", "podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution"], [])
	term.topologyKey == hostname_key
	selects_pods(term.labelSelector, obj)
}

# the staging and prod overlays keep their HA topology (one OPA or one Postgres is a
# single point of failure again)
deny contains msg if {
	input.overlay in ha_overlays
	some obj in input.objects
	obj.kind in replicated_kinds
	want := ha_min_replicas[obj.metadata.name]
	replicas(obj) < want
	msg := sprintf("%s: %d replica(s) in overlay %s; its HA topology needs at least %d", [id(obj), replicas(obj), input.overlay, want])
}

# a Kafka cluster acknowledges a write (acks=all) only once a second broker holds it, and
# never elects a leader that lacks acknowledged writes
kafka_durability := {
	"KAFKA_MIN_INSYNC_REPLICAS": 2,
	"KAFKA_DEFAULT_REPLICATION_FACTOR": 3,
	"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": 3,
	"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": 3,
	"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": 2,
}

kafka_env(obj) := {e.name: object.get(e, "value", "") |
	some c in obj.spec.template.spec.containers
	c.name == "kafka"
	some e in object.get(c, "env", [])
}

deny contains msg if {
	some obj in input.objects
	obj.kind == "StatefulSet"
	obj.metadata.name == "kafka"
	replicas(obj) >= 3
	some name, least in kafka_durability
	not to_number(object.get(kafka_env(obj), name, "0")) >= least
	msg := sprintf("%s: %s is %s with %d brokers; at least %d keeps acknowledged writes through a broker lost", [id(obj), name, object.get(kafka_env(obj), name, "unset"), replicas(obj), least])
}

deny contains msg if {
	some obj in input.objects
	obj.kind == "StatefulSet"
	obj.metadata.name == "kafka"
	replicas(obj) >= 3
	object.get(kafka_env(obj), "KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE", "") != "false"
	msg := sprintf("%s: unclean leader election must be off (KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE=false)", [id(obj)])
}

# ---- API access ----------------------------------------------------------------------

# a pod that projects an API token (no automount) runs as a ServiceAccount of its own,
# never the namespace's default one, so a Role grants only what that workload needs
deny contains msg if {
	some [name, _, spec] in pods
	some v in object.get(spec, "volumes", [])
	some src in object.get(v, ["projected", "sources"], [])
	src.serviceAccountToken
	object.get(spec, "serviceAccountName", "default") == "default"
	msg := sprintf("%s: volume %s projects an API token for the default ServiceAccount", [name, v.name])
}

# RBAC stays in the namespace: the release grants nothing cluster-wide
deny contains msg if {
	some obj in input.objects
	obj.kind in {"ClusterRole", "ClusterRoleBinding"}
	msg := sprintf("%s: cluster-wide RBAC; grant a namespaced Role instead", [id(obj)])
}
