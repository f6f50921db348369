{{/* The contract catalog (conformance/catalog.yaml, synced into files/ by helm-files.sh). */}}
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
{{- range $path, $_ := $root.Files.Glob (printf "%s/**" $dir) }}
{{ trimPrefix (printf "%s/" $dir) $path | replace "/" "__" }}: |-
{{ $root.Files.Get $path | indent 2 }}
{{- end }}
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
{{- $root := index . 0 -}}{{- $dir := index . 1 -}}
{{- include "soma.dirData" (list $root $dir) | sha256sum -}}
{{- end -}}

{{- define "soma.requireFile" -}}
{{- $root := index . 0 -}}{{- $path := index . 1 -}}
{{- if not ($root.Files.Get $path) -}}
{{- fail (printf "%s is missing: run infra/scripts/helm-files.sh (make helm-files)" $path) -}}
{{- end -}}
{{- end -}}
