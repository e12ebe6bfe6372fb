{{/* The objects' base name: <release>-operator, at most 63 characters. */}}
{{- define "canary.fullname" -}}
{{- printf "%s-operator" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "canary.selectorLabels" -}}
app.kubernetes.io/name: canary-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "canary.labels" -}}
{{ include "canary.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "canary.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "canary.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{- define "canary.leaseNamespace" -}}
{{- .Values.leaderElection.namespace | default .Release.Namespace -}}
{{- end -}}

{{/*
The operator's rules, those of deploy/operator/rbac.yaml (a test checks
they are equal).
*/}}
{{- define "canary.rules" -}}
- apiGroups: ["canary.dev"]
  resources: ["rollouts"]
  verbs: ["get", "list", "watch", "update"]
- apiGroups: ["canary.dev"]
  resources: ["rollouts/status"]
  verbs: ["get", "update"]
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["httproutes"]
  verbs: ["get", "update"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end -}}

{{/*
RBAC scope: with watchNamespace, Roles and RoleBindings in that namespace
only; otherwise ClusterRoles and ClusterRoleBindings.
*/}}
{{- define "canary.roleKind" -}}
{{- if .Values.watchNamespace -}}Role{{- else -}}ClusterRole{{- end -}}
{{- end -}}

{{/*
canary.optInRBAC renders an opt-in rule set (traffic.helm, traffic.replicas):
a ClusterRole bound cluster-wide or, with namespaces, by RoleBindings there;
with watchNamespace, a Role and a RoleBinding in that namespace only.
Arguments: root (the chart's context), suffix (name suffix), rules (YAML),
namespaces (list), value (the values key, for error messages).
*/}}
{{- define "canary.optInRBAC" -}}
{{- $root := .root -}}
{{- $name := printf "%s-%s" (include "canary.fullname" $root) .suffix -}}
{{- $watch := $root.Values.watchNamespace -}}
{{- range .namespaces }}
{{- if and $watch (ne . $watch) }}
{{- fail (printf "%s.namespaces has %s, but watchNamespace is %s: the operator reconciles only the Rollouts of %s (leave %s.namespaces empty)" $.value . $watch $watch $.value) }}
{{- end }}
{{- end }}
apiVersion: rbac.authorization.k8s.io/v1
kind: {{ include "canary.roleKind" $root }}
metadata:
  name: {{ $name }}
  {{- with $watch }}
  namespace: {{ . }}
  {{- end }}
  labels:
    {{- include "canary.labels" $root | nindent 4 }}
rules:
  {{- .rules | nindent 2 }}
{{- $bindIn := .namespaces }}
{{- if $watch }}{{ $bindIn = list $watch }}{{ end }}
{{- range $bindIn }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ $name }}
  namespace: {{ . }}
  labels:
    {{- include "canary.labels" $root | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: {{ include "canary.roleKind" $root }}
  name: {{ $name }}
subjects:
  - kind: ServiceAccount
    name: {{ include "canary.serviceAccountName" $root }}
    namespace: {{ $root.Release.Namespace }}
{{- else }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: {{ $name }}
  labels:
    {{- include "canary.labels" $root | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: {{ $name }}
subjects:
  - kind: ServiceAccount
    name: {{ include "canary.serviceAccountName" $root }}
    namespace: {{ $root.Release.Namespace }}
{{- end }}
{{- end -}}

{{/* traffic.helm's rules, those of deploy/operator/rbac-helm.yaml. */}}
{{- define "canary.helmRules" -}}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "create", "update", "delete"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["services", "configmaps"]
  verbs: ["get", "create", "patch", "delete"]
- apiGroups: ["networking.k8s.io"]
  resources: ["ingresses"]
  verbs: ["get", "create", "patch", "delete"]
{{- end -}}

{{/* traffic.replicas's rules, those of deploy/operator/rbac-replicas.yaml. */}}
{{- define "canary.replicasRules" -}}
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "update", "patch"]
{{- end -}}

{{/* traffic.istio's rules, those of deploy/operator/rbac-istio.yaml. */}}
{{- define "canary.istioRules" -}}
- apiGroups: ["networking.istio.io"]
  resources: ["virtualservices"]
  verbs: ["get", "update"]
{{- end -}}

{{/* traffic.nginxIngress's rules, those of deploy/operator/rbac-nginx-ingress.yaml. */}}
{{- define "canary.nginxIngressRules" -}}
- apiGroups: ["networking.k8s.io"]
  resources: ["ingresses"]
  verbs: ["get", "create", "update", "delete"]
{{- end -}}
