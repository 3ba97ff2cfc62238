{{/* Common labels; selectors use only name/instance/component so they never change on upgrade. */}}
{{/* The TES generation the release runs: tes6 (TES and TriggerService 6.0.0, tasks in PostgreSQL) or tes32 (CoA 3.2.0's,
tasks in Cosmos DB, the reduced-assurance option). */}}
{{- define "coa.generation" -}}
{{- .Values.generation | default "tes6" -}}
{{- end }}

{{- define "coa.selectorLabels" -}}
app.kubernetes.io/name: {{ .component }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "coa.labels" -}}
{{ include "coa.selectorLabels" . }}
app.kubernetes.io/part-of: cromwell-on-azure
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end }}

{{/* registry/repository[:tag][@digest] of an image value; the tag stays for readers, the digest decides what runs.
The schema guarantees a non-latest tag or a sha256 digest, and a digest on every image when images.requireDigest. */}}
{{- define "coa.imageRef" -}}
{{- $ref := printf "%s/%s" .registry .image.repository -}}
{{- if .image.tag }}{{ $ref = printf "%s:%s" $ref .image.tag }}{{ end -}}
{{- if .image.digest }}{{ $ref = printf "%s@%s" $ref .image.digest }}{{ end -}}
{{- $ref -}}
{{- end }}

{{/* A workflow task's image as Cromwell hands it to TES: repository@digest when pinned (TES splits a reference at
'@', so repo:tag@digest would reach Docker as image "repo:tag" with tag "<digest>"), else repository:tag. */}}
{{- define "coa.taskImageRef" -}}
{{- if .image.digest -}}
{{- printf "%s/%s@%s" .registry .image.repository .image.digest -}}
{{- else -}}
{{- printf "%s/%s:%s" .registry .image.repository .image.tag -}}
{{- end -}}
{{- end }}

{{- define "coa.image" -}}
{{- include "coa.imageRef" (dict "registry" .root.Values.images.registry "image" (index .root.Values.images .name)) -}}
{{- end }}

{{/* Egress rule to the cluster DNS (CoreDNS in kube-system); every pod that resolves a name needs it, hooks included. */}}
{{- define "coa.np.dns" -}}
- to:
    - namespaceSelector:
        matchLabels: {kubernetes.io/metadata.name: kube-system}
      podSelector:
        matchLabels: {k8s-app: kube-dns}
  ports:
    - {protocol: UDP, port: 53}
    - {protocol: TCP, port: 53}
{{- end }}

{{/* Postgres FQDN split the way TES 6.x wants it: ServerName without suffix, suffix with leading dot. */}}
{{- define "coa.pgServerName" -}}
{{- index (splitList "." .Values.postgres.serverFqdn) 0 -}}
{{- end }}
{{- define "coa.pgServerSuffix" -}}
{{- trimPrefix (include "coa.pgServerName" .) .Values.postgres.serverFqdn -}}
{{- end }}

{{- define "coa.batchBaseUrl" -}}
{{- $e := trimSuffix "/" .Values.batch.endpoint -}}
{{- if hasPrefix "https://" $e }}{{ $e }}{{ else }}{{ printf "https://%s" $e }}{{ end -}}
{{- end }}

{{/* Service account of the pre-install/pre-upgrade hooks (db-init, start-task upload). The hooks run before the
release's own service account exists, so they share this hook-created one; the name keeps its db-init origin because
it is the subject of a federated credential. */}}
{{- define "coa.hookServiceAccount" -}}
{{- default (printf "%s-db-init" .Values.serviceAccount.name) .Values.dbInit.serviceAccountName -}}
{{- end }}

{{/* Pod Security "restricted" at pod level. fsGroup lets the non-root user write the Azure Disk temp claim.
A UID/GID of 10000 or more collides with no host account after a container escape (CKV_K8S_40). The images need no
particular user: TES and TriggerService copy their files root-owned and world-readable (ga4gh-tes@6.0.0
src/Dockerfile-Tes, CromwellOnAzure@6.0.0 src/Dockerfile-TriggerService); CoA 6.0.0 already runs Cromwell 87 as a
UID its image does not define (scripts/helm/templates/cromwell-deployment.yaml:22-26); HOME points at /tmp and every
other write goes to a mounted volume. The psql and curl images run unprivileged tools only. */}}
{{- define "coa.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.podSecurity.uid }}
runAsGroup: {{ .Values.podSecurity.gid }}
fsGroup: {{ .Values.podSecurity.gid }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Pod Security "restricted" at container level; .addNetBind for images whose binary carries file capabilities. */}}
{{- define "coa.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
privileged: false
capabilities:
  drop: ["ALL"]
  {{- if .addNetBind }}
  # The TES images run `setcap cap_net_bind_service=+eip` on dotnet; exec fails with EPERM when that
  # capability is outside the bounding set, so it is kept there (the only add "restricted" allows).
  # allowPrivilegeEscalation=false means the process never actually gains it; TES listens on 8080.
  add: ["NET_BIND_SERVICE"]
  {{- end }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* One secrets-store CSI volume per workload, each with only the secrets that workload reads. */}}
{{- define "coa.secretsVolume" -}}
- name: secrets-store
  csi:
    driver: secrets-store.csi.k8s.io
    readOnly: true
    volumeAttributes:
      secretProviderClass: {{ .name }}
{{- end }}

{{/* SecretProviderClass for the Azure Key Vault provider using workload identity (no pod identity, no VM identity). */}}
{{- define "coa.secretProviderClass" -}}
{{- $root := .root -}}
apiVersion: secrets-store.csi.x-k8s.io/v1
kind: SecretProviderClass
metadata:
  name: {{ .name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "coa.labels" (dict "root" $root "component" .component) | nindent 4 }}
  {{- with .annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  provider: azure
  parameters:
    usePodIdentity: "false"
    useVMManagedIdentity: "false"
    clientID: {{ $root.Values.workloadIdentity.clientId | quote }}
    keyvaultName: {{ $root.Values.keyVault.name | quote }}
    tenantId: {{ $root.Values.azure.tenantId | quote }}
    {{- $objects := list }}
    {{- range $alias, $secretName := .objects }}
    {{- $objects = append $objects (printf "objectName: %s\nobjectType: secret\nobjectAlias: %s\n" $secretName $alias) }}
    {{- end }}
    objects: |
      {{- dict "array" $objects | toYaml | nindent 6 }}
{{- end }}

{{/* Every blob container Cromwell mounts, as a YAML list: the CoA account's containers (+ executions when mounted) and
the containers of existing data accounts. Each: volume (pod volume name), claim, pv, account, resourceGroup,
subscriptionId, container, readOnly, mountPath. storage.yaml and cromwell.yaml both read it. */}}
{{- define "coa.blobVolumes" -}}
{{- $st := .Values.storage -}}
{{- $own := $st.containers -}}
{{- if eq .Values.cromwell.executionsRoot "mount" }}{{ $own = append $own (dict "name" $st.executionsContainer "readOnly" false "accountScoped" false) }}{{ end -}}
{{- $out := list -}}
{{- range $own -}}
{{- $path := ternary (printf "/%s/%s" $st.accountName .name) (printf "/%s" .name) (default false .accountScoped) -}}
{{- $out = append $out (dict "volume" (printf "blob-%s" .name) "claim" (printf "blob-%s" .name) "pv" (printf "%s-blob-%s" $.Release.Namespace .name) "account" $st.accountName "resourceGroup" $st.resourceGroup "subscriptionId" $st.subscriptionId "container" .name "readOnly" (default false .readOnly) "mountPath" $path) -}}
{{- end -}}
{{- range $i, $d := $st.dataContainers -}}
{{- $out = append $out (dict "volume" (printf "data-%d" $i) "claim" (printf "data-%s-%s" $d.accountName $d.name) "pv" (printf "%s-data-%s-%s" $.Release.Namespace $d.accountName $d.name) "account" $d.accountName "resourceGroup" $d.resourceGroup "subscriptionId" $d.subscriptionId "container" $d.name "readOnly" $d.readOnly "mountPath" (printf "/%s/%s" $d.accountName $d.name)) -}}
{{- end -}}
{{- toYaml $out -}}
{{- end }}

{{- define "coa.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 1Gi
{{- end }}
