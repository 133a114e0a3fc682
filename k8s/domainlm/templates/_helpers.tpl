{{/* Names, labels, images, and the environment every domainlm container is wired with. */}}

{{- define "domainlm.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "domainlm.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The name of one component's objects: FULLNAME-COMPONENT. */}}
{{- define "domainlm.component" -}}
{{- printf "%s-%s" (include "domainlm.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "domainlm.selectorLabels" -}}
app.kubernetes.io/name: {{ include "domainlm.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "domainlm.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "domainlm.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: domainlm
{{- end -}}

{{/* Pod labels and annotations: the component's selector labels, then global and own extras. */}}
{{- define "domainlm.podMetadata" -}}
labels:
  {{- include "domainlm.labels" . | nindent 2 }}
  {{- with mergeOverwrite (deepCopy .root.Values.global.podLabels) (.podLabels | default (dict)) }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with mergeOverwrite (deepCopy .root.Values.global.podAnnotations) (.podAnnotations | default (dict)) }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* A domainlm image: [registry/]repository:tag, the tag defaulting to the chart's appVersion. */}}
{{- define "domainlm.image" -}}
{{- $g := .root.Values.global.image -}}
{{- $repo := .image.repository -}}
{{- if $g.registry }}{{ $repo = printf "%s/%s" (trimSuffix "/" $g.registry) $repo }}{{ end -}}
{{- printf "%s:%s" $repo (.image.tag | default $g.tag | default .root.Chart.AppVersion) -}}
{{- end -}}

{{- define "domainlm.pullPolicy" -}}
{{- .image.pullPolicy | default .root.Values.global.image.pullPolicy -}}
{{- end -}}

{{- define "domainlm.imagePullSecrets" -}}
{{- with .Values.global.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Scheduling: the component's own nodeSelector/tolerations/affinity, else the global ones. */}}
{{- define "domainlm.scheduling" -}}
{{- with .nodeSelector | default .root.Values.global.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations | default .root.Values.global.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity | default .root.Values.global.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Hardening every pod and container of the chart shares. */}}
{{- define "domainlm.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid | default 10001 }}
runAsGroup: {{ .uid | default 10001 }}
fsGroup: {{ .uid | default 10001 }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "domainlm.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: [ALL]
{{- end -}}

{{/* The stage services: their default topics and consumer groups (as in their settings classes). */}}
{{- define "domainlm.stages" -}}
ocr: {in: [documents], out: chunks, group: domainlm-ocr}
generator: {in: [chunks], out: samples.generated, group: domainlm-generator, teacher: true}
review: {in: [samples.generated], out: samples.verified, group: domainlm-review, postgres: true}
dedup: {in: [samples.verified, samples.evolved], out: samples.unique, group: domainlm-dedup, redis: true}
evolver: {in: [samples.unique], out: samples.evolved, group: domainlm-evolver, teacher: true}
{{- end -}}

{{/* The secret behind a value: {name, key} of the release's Secret or of the one it names. */}}
{{- define "domainlm.secretKeyRef" -}}
{{- if kindIs "map" .value -}}
name: {{ .value.existingSecret }}
key: {{ .value.key }}
{{- else -}}
name: {{ include "domainlm.fullname" .root }}
key: {{ .key }}
{{- end -}}
{{- end -}}

{{/* An env var from a secret value, when it is set: dict root, name, value, key. */}}
{{- define "domainlm.secretEnv" -}}
{{- if .value }}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      {{- include "domainlm.secretKeyRef" . | nindent 6 }}
{{- end }}
{{- end -}}

{{/* A settings map as environment variables: nested maps join with "__", lists are JSON. */}}
{{- define "domainlm.settingsEnv" -}}
{{- $prefix := .prefix -}}
{{- range $key, $value := .settings }}
{{- $name := printf "%s%s" $prefix (upper $key) }}
{{- if kindIs "map" $value }}
{{- include "domainlm.settingsEnv" (dict "prefix" (printf "%s__" $name) "settings" $value) }}
{{- else }}
- name: {{ $name }}
  {{- if kindIs "slice" $value }}
  value: {{ toJson $value | quote }}
  {{- else if and (kindIs "float64" $value) (eq $value (float64 (int64 $value))) }}
  value: {{ int64 $value | quote }}
  {{- else }}
  value: {{ toString $value | quote }}
  {{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "domainlm.kafkaBootstrap" -}}
{{- $k := .Values.kafka -}}
{{- if $k.bundled -}}
{{- printf "%s:9092" (include "domainlm.component" (dict "root" . "component" "kafka")) -}}
{{- else -}}
{{- $host := required "kafka.host is required: the external Kafka's bootstrap host (or set kafka.bundled=true for an in-cluster broker)" $k.host -}}
{{- if or (contains ":" $host) (contains "," $host) }}{{ $host }}{{ else }}{{ printf "%s:%v" $host $k.port }}{{ end -}}
{{- end -}}
{{- end -}}

{{- define "domainlm.kafkaProtocol" -}}
{{- $k := .Values.kafka -}}
{{- if and $k.sasl.enabled $k.tls.enabled }}SASL_SSL{{ else if $k.sasl.enabled }}SASL_PLAINTEXT{{ else if $k.tls.enabled }}SSL{{ else }}PLAINTEXT{{ end -}}
{{- end -}}

{{/* What every Kafka client of a stage service is given: dict root, prefix. */}}
{{- define "domainlm.kafkaEnv" -}}
{{- $k := .root.Values.kafka }}
- name: {{ .prefix }}BOOTSTRAP
  value: {{ include "domainlm.kafkaBootstrap" .root | quote }}
- name: {{ .prefix }}KAFKA__SECURITY_PROTOCOL
  value: {{ include "domainlm.kafkaProtocol" .root }}
{{- if $k.sasl.enabled }}
- name: {{ .prefix }}KAFKA__SASL_MECHANISM
  value: {{ $k.sasl.mechanism }}
- name: {{ .prefix }}KAFKA__SASL_USERNAME
  value: {{ required "kafka.sasl.username is required when kafka.sasl.enabled" $k.sasl.username | quote }}
{{- include "domainlm.secretEnv" (dict "root" .root "name" (printf "%sKAFKA__SASL_PASSWORD" .prefix) "value" (required "kafka.sasl.password is required when kafka.sasl.enabled" $k.sasl.password) "key" "kafka-sasl-password") }}
{{- end }}
{{- if and $k.tls.enabled $k.tls.ca }}
- name: {{ .prefix }}KAFKA__SSL_CAFILE
  value: /etc/domainlm/kafka-ca/ca.crt
{{- end }}
- name: {{ .prefix }}TOPIC_PARTITIONS
  value: {{ $k.topics.partitions | quote }}
- name: {{ .prefix }}TOPIC_REPLICATION
  value: {{ $k.topics.replicationFactor | quote }}
{{- end -}}

{{- define "domainlm.teacherUrl" -}}
{{- if .Values.teacher.url -}}
{{- .Values.teacher.url -}}
{{- else if .Values.vllm.teacher.enabled -}}
{{- printf "http://%s:8000/v1" (include "domainlm.component" (dict "root" . "component" "teacher")) -}}
{{- else -}}
{{- fail "teacher.url is required when vllm.teacher.enabled is false: the generator and evolver need a teacher" -}}
{{- end -}}
{{- end -}}

{{- define "domainlm.redisUrl" -}}
{{- $r := .Values.redis -}}
{{- $host := ternary (include "domainlm.component" (dict "root" . "component" "redis")) (required "redis.host is required: the external Redis (or set redis.bundled=true)" $r.host) $r.bundled -}}
{{- $auth := ternary ":$(DOMAINLM_REDIS_PASSWORD)@" "" (not (empty $r.password) | or $r.bundled) -}}
{{- printf "%s://%s%s:%v/%v" (ternary "rediss" "redis" (and $r.tls (not $r.bundled))) $auth $host $r.port $r.db -}}
{{- end -}}

{{- define "domainlm.postgresUrl" -}}
{{- $p := .Values.postgres -}}
{{- $host := ternary (include "domainlm.component" (dict "root" . "component" "postgres")) (required "postgres.host is required: the external PostgreSQL (or set postgres.bundled=true)" $p.host) $p.bundled -}}
{{- $auth := ternary (printf "%s:$(DOMAINLM_POSTGRES_PASSWORD)" $p.user) $p.user (not (empty $p.password) | or $p.bundled) -}}
{{- printf "postgresql+psycopg://%s@%s:%v/%s?sslmode=%s" $auth $host $p.port $p.database (ternary "disable" $p.sslmode $p.bundled) -}}
{{- end -}}

{{/* The bundled stores' passwords: kept across upgrades (read back from the release's Secret). */}}
{{- define "domainlm.generatedPassword" -}}
{{- $secret := lookup "v1" "Secret" .root.Release.Namespace (include "domainlm.fullname" .root) -}}
{{- if and $secret (index ($secret.data | default (dict)) .key) -}}
{{- index $secret.data .key | b64dec -}}
{{- else -}}
{{- randAlphaNum 32 -}}
{{- end -}}
{{- end -}}

{{/* The stores' passwords as the env vars the URLs above refer to. */}}
{{- define "domainlm.storeSecretEnv" -}}
{{- if eq .store "redis" }}
{{- include "domainlm.secretEnv" (dict "root" .root "name" "DOMAINLM_REDIS_PASSWORD" "value" (.root.Values.redis.password | default .root.Values.redis.bundled) "key" "redis-password") }}
{{- else if eq .store "postgres" }}
{{- include "domainlm.secretEnv" (dict "root" .root "name" "DOMAINLM_POSTGRES_PASSWORD" "value" (.root.Values.postgres.password | default .root.Values.postgres.bundled) "key" "postgres-password") }}
{{- end }}
{{- end -}}

{{- define "domainlm.modelsClaim" -}}
{{- .Values.vllm.models.existingClaim | default (include "domainlm.component" (dict "root" . "component" "models")) -}}
{{- end -}}

{{/* An egress rule to a store or the teacher: its pods when bundled, else any address on its port. */}}
{{- define "domainlm.egressTo" -}}
- ports: [{port: {{ .port }}, protocol: TCP}]
  {{- if .bundled }}
  to:
    - podSelector: {matchLabels: {{ toJson (merge (dict "app.kubernetes.io/component" .component) .release) }}}
  {{- end }}
{{- end -}}
