{{/*
Names and labels. The per-service templates range over .Values.services and
call these with a context dict: (dict "root" $ "name" <service> "svc" <values>).
*/}}

{{- define "socialgov.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "socialgov.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "socialgov.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "socialgov.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Name of one service's resources: <fullname>-<service>. */}}
{{- define "socialgov.svcname" -}}
{{- printf "%s-%s" (include "socialgov.fullname" .root | trunc 50 | trimSuffix "-") .name }}
{{- end }}

{{- define "socialgov.selectorLabels" -}}
app.kubernetes.io/name: {{ include "socialgov.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{- define "socialgov.labels" -}}
helm.sh/chart: {{ include "socialgov.chart" .root }}
{{ include "socialgov.selectorLabels" . }}
app.kubernetes.io/version: {{ include "socialgov.imageTag" .root | quote }}
app.kubernetes.io/part-of: socialgov
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- with .root.Values.environment }}
socialgov.io/environment: {{ . | quote }}
{{- end }}
{{- end }}

{{- define "socialgov.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag | toString }}
{{- end }}

{{- define "socialgov.image" -}}
{{- printf "%s:%s" .Values.image.repository (include "socialgov.imageTag" .) }}
{{- end }}

{{/* The Secret every service reads; failing early beats pods stuck in CreateContainerConfigError. */}}
{{- define "socialgov.secretName" -}}
{{- required "existingSecret: name an existing Secret holding SG_JWT_SECRET, SG_API_KEYS, SG_CALLBACK_SECRET and the per-service PostgreSQL DSNs" .Values.existingSecret }}
{{- end }}

{{/* ConfigMap data of one service; also hashed into the pod template so a change rolls the pods. */}}
{{- define "socialgov.configData" -}}
{{- $c := .root.Values.config -}}
SERVICE: {{ .name | quote }}
SG_HTTP_BIND: "0.0.0.0"
SG_HTTP_PORT: {{ .svc.port | toString | quote }}
SG_MIGRATIONS_DIR: {{ printf "/app/sql/%s" .name | quote }}
SG_PG_SCHEMA: {{ .name | quote }}
SG_LOG_LEVEL: {{ $c.logLevel | quote }}
SG_KAFKA_BROKERS: {{ required "config.kafkaBrokers is required" $c.kafkaBrokers | quote }}
SG_TOPIC_PREFIX: {{ $c.topicPrefix | default "" | quote }}
SG_HTTP_THREADS: {{ $c.httpThreads | toString | quote }}
SG_PG_POOL_SIZE: {{ $c.pgPoolSize | toString | quote }}
SG_METRICS_REFRESH_S: {{ $c.metricsRefreshSeconds | default 15 | toString | quote }}
{{- if not .root.Values.secretKeys.redisUrl }}
SG_REDIS_URL: {{ required "config.redisUrl is required (or secretKeys.redisUrl)" $c.redisUrl | quote }}
{{- end }}
{{- range $k, $v := .svc.env }}
{{ $k }}: {{ $v | toString | quote }}
{{- end }}
{{- end }}
