#!/usr/bin/env bash
# Turn a policies/ tree into Kubernetes objects: one ConfigMap per folder
# (ConfigMap keys cannot contain "/"), a Secret for credentials.toml, and the
# `sources:` block of a projected volume that puts every file back at its
# path (huawei/identity/X.json, ...). Usage: render-policies.sh policies/
set -euo pipefail
dir=${1:?usage: render-policies.sh POLICIES_DIR}
sources=()
emit_configmap() { # name folder
  local name=$1 folder=$2 files=()
  mapfile -t files < <(find "$dir/$folder" -maxdepth 1 -type f \( -name '*.json' -o -name '*.toml' \) ! -name credentials.toml 2>/dev/null | sort)
  [ ${#files[@]} -gt 0 ] || return 0
  echo "---"; echo "apiVersion: v1"; echo "kind: ConfigMap"; echo "metadata: { name: $name }"; echo "data:"
  local items="" f key
  for f in "${files[@]}"; do
    key=$(basename "$f")
    echo "  $key: |"; sed 's/^/    /' "$f"; echo
    items+="{ key: $key, path: ${folder:+$folder/}$key }, "
  done
  sources+=("- configMap: { name: $name, items: [ ${items%, } ] }")
}
emit_configmap iamgate-policies-root ""
emit_configmap iamgate-huawei-identity huawei/identity
emit_configmap iamgate-huawei-scp huawei/scp
emit_configmap iamgate-aliyun-identity aliyun/identity
emit_configmap iamgate-aliyun-control aliyun/control
if [ -f "$dir/credentials.toml" ]; then
  echo "---"; echo "apiVersion: v1"; echo "kind: Secret"; echo "metadata: { name: iamgate-credentials }"; echo "stringData:"
  echo "  credentials.toml: |"; sed 's/^/    /' "$dir/credentials.toml"; echo
  sources+=("- secret: { name: iamgate-credentials }")
fi
echo "# projected volume sources:" >&2
for s in "${sources[@]}"; do echo "#   $s" >&2; done
