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

input_of(objects) := {"overlay": "dev", "namespace": "soma-infra", "catalog_services": {"opa": 8181}, "objects": objects}

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
