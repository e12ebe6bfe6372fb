{{/* The track of this release: canary or stable. */}}
{{- define "recoveryos.track" -}}
{{- if .Values.canary.enabled }}canary{{ else }}stable{{ end -}}
{{- end -}}

{{/* The Service the canary shares traffic with. */}}
{{- define "recoveryos.stableService" -}}
{{- .Values.canary.stableService | default (trimSuffix "-canary" .Release.Name) -}}
{{- end -}}

{{/* The canary weight, checked to be 0..100. */}}
{{- define "recoveryos.weight" -}}
{{- $w := int .Values.canary.weight -}}
{{- if or (lt $w 0) (gt $w 100) }}{{ fail (printf "canary.weight %v is not 0..100" .Values.canary.weight) }}{{ end -}}
{{- $w -}}
{{- end -}}

{{- define "recoveryos.labels" -}}
app.kubernetes.io/name: recoveryos
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | quote }}
canary.dev/track: {{ include "recoveryos.track" . }}
{{- end -}}

{{- define "recoveryos.selector" -}}
app.kubernetes.io/name: recoveryos
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
