{{/* The contract catalog (infra/contracts/catalog.yaml, synced into files/ by helm-files.sh). */}}
{{- define "soma.catalog" -}}
{{- $raw := .Files.Get "files/catalog.yaml" -}}
{{- if not $raw -}}
{{- fail "files/catalog.yaml is missing: run infra/scripts/helm-files.sh (make helm-files) before helm lint/template/install/package" -}}
{{- end -}}
{{- $raw -}}
{{- end -}}

{{/* Contract port of a service, from the catalog. Usage: include "soma.port" (list $ "postgres") */}}
{{- define "soma.port" -}}
{{- $root := index . 0 -}}{{- $svc := index . 1 -}}
{{- $cat := include "soma.catalog" $root | fromYaml -}}
{{- $s := index $cat.services $svc -}}
{{- if not $s -}}{{- fail (printf "service %s is not in the contract catalog" $svc) -}}{{- end -}}
{{- $s.port -}}
{{- end -}}

{{- define "soma.namespace" -}}{{ .Values.namespace.name }}{{- end -}}

{{- define "soma.fqdn" -}}
{{- $root := index . 0 -}}{{- $svc := index . 1 -}}
{{- printf "%s.%s.svc.cluster.local" $svc $root.Values.namespace.name -}}
{{- end -}}

{{/* Labels. Usage: include "soma.labels" (list $ "postgres") */}}
{{- define "soma.labels" -}}
{{- $root := index . 0 -}}{{- $svc := index . 1 -}}
app.kubernetes.io/name: {{ $svc }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/part-of: soma-infra
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" $root.Chart.Name $root.Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "soma.selector" -}}
{{- $root := index . 0 -}}{{- $svc := index . 1 -}}
app.kubernetes.io/name: {{ $svc }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
{{- end -}}

{{- define "soma.image" -}}
{{- printf "%s:%s" .repository (toString .tag) -}}
{{- end -}}

{{/* Credentials Secret: the dev one (dev overlay only) or an existing one. */}}
{{- define "soma.credentialsSecret" -}}
{{- if .Values.credentials.createDev -}}soma-infra-dev-credentials{{- else -}}{{ required "credentials.existingSecret is required when credentials.createDev is false" .Values.credentials.existingSecret }}{{- end -}}
{{- end -}}

{{/* Pod-level security context (restricted). Usage: include "soma.podSecurityContext" $cfg */}}
{{- define "soma.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .runAsUser }}
runAsGroup: {{ .runAsGroup }}
fsGroup: {{ .runAsGroup }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Container-level security context (restricted). */}}
{{- define "soma.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Common pod spec fields. */}}
{{- define "soma.podCommon" -}}
automountServiceAccountToken: false
enableServiceLinks: false
{{- end -}}

{{- define "soma.pvc" -}}
{{- $root := index . 0 -}}{{- $size := index . 1 -}}
- metadata:
    name: data
  spec:
    accessModes: ["ReadWriteOnce"]
    {{- with $root.Values.global.storageClass }}
    storageClassName: {{ . }}
    {{- end }}
    resources:
      requests:
        storage: {{ $size }}
{{- end -}}

{{/* Client label of a service: pods carrying it may reach the service (NetworkPolicy). */}}
{{- define "soma.clientLabel" -}}soma.io/client-{{ . }}{{- end -}}

{{/* ConfigMap data from every file under a files/ directory; keys are the relative paths
     with "/" turned into "__" (ConfigMap keys cannot hold "/"). Usage:
     include "soma.dirData" (list $ "files/config/prometheus") */}}
{{- define "soma.dirData" -}}
{{- $root := index . 0 -}}{{- $dir := index . 1 -}}
{{- $over := dict -}}{{- if gt (len .) 2 }}{{- $over = index . 2 -}}{{- end -}}
{{- range $path, $_ := $root.Files.Glob (printf "%s/**" $dir) }}
{{- $rel := trimPrefix (printf "%s/" $dir) $path }}
{{ $rel | replace "/" "__" }}: |-
{{ (hasKey $over $rel | ternary (get $over $rel) ($root.Files.Get $path)) | indent 2 }}
{{- end }}
{{- end -}}

{{/* files/config/prometheus/prometheus.yml, with the global scrape_interval/scrape_timeout
     replaced when prometheus.scrapeInterval/scrapeTimeout are set (5 s on demand): the
     substitution infra/scripts/prometheus-variant.sh makes for compose, on the same file
     (only the two lines of the `global:` block; a test keeps both outputs identical). */}}
{{- define "soma.prometheusYml" -}}
{{- $src := .Files.Get "files/config/prometheus/prometheus.yml" -}}
{{- $i := .Values.prometheus.scrapeInterval | default "" -}}
{{- $t := .Values.prometheus.scrapeTimeout | default "" -}}
{{- if and (eq $i "") (eq $t "") -}}
{{- $src -}}
{{- else if or (eq $i "") (eq $t "") -}}
{{- fail "prometheus.scrapeInterval and prometheus.scrapeTimeout go together (e.g. 5s and 4s; both empty = the file's own 15s)" -}}
{{- else -}}
{{- $block := regexFind "(?m)^global:\n(?:(?:[ #].*)?\n)*" $src -}}
{{- $new := regexReplaceAll "(?m)^(  scrape_interval: ).*$" $block (printf "${1}%s" $i) -}}
{{- $new = regexReplaceAll "(?m)^(  scrape_timeout: ).*$" $new (printf "${1}%s" $t) -}}
{{- if not (and (contains (printf "\n  scrape_interval: %s\n" $i) $new) (contains (printf "\n  scrape_timeout: %s\n" $t) $new)) -}}
{{- fail "prometheus.scrapeInterval: the global scrape_interval/scrape_timeout lines were not found in files/config/prometheus/prometheus.yml" -}}
{{- end -}}
{{- replace $block $new $src -}}
{{- end -}}
{{- end -}}

{{/* volume items putting each key of soma.dirData back at its relative path */}}
{{- define "soma.dirItems" -}}
{{- $root := index . 0 -}}{{- $dir := index . 1 -}}
{{- range $path, $_ := $root.Files.Glob (printf "%s/**" $dir) }}
{{- $rel := trimPrefix (printf "%s/" $dir) $path }}
- key: {{ $rel | replace "/" "__" }}
  path: {{ $rel }}
{{- end }}
{{- end -}}

{{- define "soma.dirChecksum" -}}
{{- include "soma.dirData" . | sha256sum -}}
{{- end -}}

{{- define "soma.requireFile" -}}
{{- $root := index . 0 -}}{{- $path := index . 1 -}}
{{- if not ($root.Files.Get $path) -}}
{{- fail (printf "%s is missing: run infra/scripts/helm-files.sh (make helm-files)" $path) -}}
{{- end -}}
{{- end -}}

{{/* Tracing (docs/infra/OBSERVABILITY.md): the env every OTLP-capable component gets from
     the one value tracing.otlpEndpoint (host:port, OTLP/gRPC); empty = off. Same variables
     as the compose file: OPA reads them in infra/config/opa/opa.yaml, etcd as ETCD_*. */}}
{{- define "soma.tracingEnv" -}}
{{- $root := index . 0 -}}{{- $svc := index . 1 -}}
{{- $ep := $root.Values.tracing.otlpEndpoint | default "" -}}
{{- if eq $svc "opa" -}}
- {name: SOMA_OTLP_ENDPOINT, value: {{ $ep | quote }}}
- {name: SOMA_OPA_TRACING_TYPE, value: {{ ternary "grpc" "" (ne $ep "") | quote }}}
{{- else if and (eq $svc "etcd") (ne $ep "") -}}
- {name: ETCD_ENABLE_DISTRIBUTED_TRACING, value: "true"}
- {name: ETCD_DISTRIBUTED_TRACING_ADDRESS, value: {{ $ep | quote }}}
- {name: ETCD_DISTRIBUTED_TRACING_SERVICE_NAME, value: etcd}
- {name: ETCD_DISTRIBUTED_TRACING_SAMPLING_RATE, value: "1000000"}
{{- end -}}
{{- end -}}

{{/* pods that export traces carry this label; the tracing NetworkPolicy lets them out */}}
{{- define "soma.tracingLabel" -}}
{{- if .Values.tracing.otlpEndpoint }}
soma.io/otlp-exporter: "true"
{{- end }}
{{- end -}}

{{/* ---- High availability (replicas > 1) ----------------------------------------------- */}}

{{/* Members of a replicated workload never share a node: required anti-affinity on
     kubernetes.io/hostname (losing a node loses one member of each quorum). The cluster
     needs at least as many schedulable nodes as replicas. Empty for replicas <= 1. Usage:
     {{- with include "soma.antiAffinity" (list $ "kafka" $replicas) }}{{ . | nindent 6 }}{{- end }} */}}
{{- define "soma.antiAffinity" -}}
{{- $root := index . 0 -}}{{- $svc := index . 1 -}}{{- $replicas := index . 2 | int -}}
{{- if gt $replicas 1 -}}
affinity:
  podAntiAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      - topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels: {{- include "soma.selector" (list $root $svc) | nindent 12 }}
{{- end -}}
{{- end -}}

{{/* PodDisruptionBudget of a replicated workload: voluntary disruptions (node drains) take
     at most one member at a time, so a quorum of three keeps two and a pair keeps one.
     A member that is already unhealthy may still be evicted (AlwaysAllow): a broken pod
     must not block a drain. Rendered only for replicas > 1.
     Usage: include "soma.pdb" (list $ "kafka" $replicas) */}}
{{- define "soma.pdb" -}}
{{- $root := index . 0 -}}{{- $svc := index . 1 -}}{{- $replicas := index . 2 | int -}}
{{- if gt $replicas 1 }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $svc }}
  namespace: {{ include "soma.namespace" $root }}
  labels: {{- include "soma.labels" (list $root $svc) | nindent 4 }}
spec:
  maxUnavailable: 1
  unhealthyPodEvictionPolicy: AlwaysAllow
  selector:
    matchLabels: {{- include "soma.selector" (list $root $svc) | nindent 6 }}
{{- end }}
{{- end -}}

{{/* Headless Service of a clustered StatefulSet: one DNS name per member
     (<pod>.<svc>-headless.<ns>.svc.cluster.local), published before the member is Ready,
     since members must find each other to become Ready at all (Kafka's controller quorum,
     etcd's initial cluster). Peers only: clients keep using the contract Service.
     Usage: include "soma.headless" (list $ "kafka" (list (dict "name" "kafka" "port" 9092))) */}}
{{- define "soma.headless" -}}
{{- $root := index . 0 -}}{{- $svc := index . 1 -}}{{- $ports := index . 2 }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $svc }}-headless
  namespace: {{ include "soma.namespace" $root }}
  labels: {{- include "soma.labels" (list $root $svc) | nindent 4 }}
spec:
  clusterIP: None
  publishNotReadyAddresses: true
  selector: {{- include "soma.selector" (list $root $svc) | nindent 4 }}
  ports:
    {{- range $ports }}
    - {name: {{ .name }}, port: {{ .port }}, targetPort: {{ .name }}, protocol: TCP}
    {{- end }}
{{- end -}}

{{/* "<pod>.<svc>-headless.<ns>.svc.cluster.local" of member i. Usage:
     include "soma.memberFqdn" (list $ "kafka" 0) */}}
{{- define "soma.memberFqdn" -}}
{{- $root := index . 0 -}}{{- $svc := index . 1 -}}{{- $i := index . 2 -}}
{{- printf "%s-%v.%s-headless.%s.svc.cluster.local" $svc $i $svc $root.Values.namespace.name -}}
{{- end -}}

{{/* Patroni (Debian 12's patroni 3.0.2) labels each member pod with its role: `master` on
     the leader, `replica` on a running standby. The Service `postgres` selects `master`. */}}
{{- define "soma.patroniRoleLabel" -}}role{{- end -}}
{{- define "soma.patroniPrimary" -}}master{{- end -}}

{{/* ---- OpenBao as a Raft cluster (vault.replicas > 1) ---------------------------------- */}}

{{/* API address of OpenBao server i on the headless Service vault-internal (its api_addr,
     and the leader_api_addr the others' retry_join names). Usage:
     include "soma.vaultMember" (list $ 0) */}}
{{- define "soma.vaultMember" -}}
{{- $root := index . 0 -}}{{- $i := index . 1 -}}
{{- printf "http://vault-%v.vault-internal.%s.svc.cluster.local:%s" $i $root.Values.namespace.name (include "soma.port" (list $root "vault")) -}}
{{- end -}}

{{/* cluster.hcl: standbys that forward every request (no standby reads), and server.hcl's
     Raft storage (same path, a test keeps them equal; a timing for three servers) plus
     one retry_join per server. Given after server.hcl / server-join.hcl, its storage stanza replaces theirs
     (OpenBao merges -config files; the last storage wins). The API port is plain HTTP
     inside the cluster as for every client; Raft and request forwarding run on the
     cluster port (8201) with OpenBao's own TLS. */}}
{{- define "soma.vaultClusterHcl" -}}
# The OpenBao cluster's own settings (rendered by the Helm chart for vault.replicas > 1),
# given after server.hcl or server-join.hcl.

# Standbys forward every request to the active server, reads included. Served from a
# standby's own replica (OpenBao's default since 2.5), a read may miss a write just made
# through another server: an AppRole login right after its secret-id was created was
# refused 71 times in 100 through the Service (and the refusals lock the role out on that
# standby). Forwarded, every client sees one server, as with a single one.
disable_standby_reads = true

# Raft storage, replacing server.hcl's stanza (same path): an empty server joins through
# whichever member answers as the active one; a server with data ignores retry_join. Its
# own address is listed too: every server reads this file.
# Timing 3 (server.hcl's single server: 1): at 1 a leader steps down once it has missed a
# majority for 0.5 s, and with the nodes' CPU contended (load ~35 on 2 cores) the cluster
# changed leader 19 times in 10 min, each time refusing requests for up to 2 s. At 3 a
# crashed active server is replaced within ~3-6 s; a server that stops (delete, rollout,
# drain) hands its leadership over at once whatever the timing.
storage "raft" {
  path                   = "/openbao/file"
  performance_multiplier = 3
  {{- range $i := until (int .Values.vault.replicas) }}
  retry_join {
    leader_api_addr = "{{ include "soma.vaultMember" (list $ $i) }}"
  }
  {{- end }}
}
{{- end -}}

{{/* server-join.hcl: files/config/vault/server.hcl without its `initialize` stanza (and
     that stanza's comment), for the servers that must join the cluster rather than found
     one (cluster-start.sh). */}}
{{- define "soma.vaultJoinHcl" -}}
{{- $src := .Files.Get "files/config/vault/server.hcl" -}}
{{- /* the stanza and the comment lines right above it */ -}}
{{- $stanza := "(?ms)(?:^#[^\n]*\n)*^initialize \"[^\"]*\" \\{\n.*?^\\}\n" -}}
{{- if ne (len (regexFindAll $stanza $src -1)) 1 -}}
{{- fail "files/config/vault/server.hcl: expected exactly one `initialize \"...\" {` stanza closed by a `}` line" -}}
{{- end -}}
{{- $out := regexReplaceAll $stanza $src "" -}}
{{- if contains "initialize" (regexReplaceAll "(?m)^#.*$" $out "") -}}
{{- fail "files/config/vault/server.hcl: an initialize stanza is left after removing it" -}}
{{- end -}}
# server.hcl without its `initialize` stanza (rendered by the Helm chart): the servers of
# a cluster that join it instead of self-initialising (cluster-start.sh).
{{ $out }}
{{- end -}}
