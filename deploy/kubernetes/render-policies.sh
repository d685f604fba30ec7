#!/usr/bin/env bash
# Turn a policies/ tree into Kubernetes objects: one ConfigMap per folder
# (ConfigMap keys cannot contain "/"), a Secret for credentials.toml, and the
# `sources:` of the projected volume that puts every file back at its path
# (huawei/identity/X.json, ...). Every folder of the tree is rendered, at any
# depth; a file name a ConfigMap key cannot hold is an error, never skipped.
#
#   render-policies.sh DIR            the ConfigMaps and the Secret (stdout)
#   render-policies.sh --sources DIR  the projected volume's `sources:` list,
#                                     as in deploy/kubernetes/iamgate.yaml
#
# Apply: render-policies.sh policies/ | kubectl apply -f -
# When files are added or removed, paste the --sources output into the
# `policies` volume of iamgate.yaml (tests/e2e/test_deploy.py checks they agree).
set -euo pipefail
mode=objects
if [ "${1:-}" = "--sources" ]; then mode=sources; shift; fi
dir=${1:?usage: render-policies.sh [--sources] POLICIES_DIR}
dir=${dir%/}
[ -d "$dir" ] || { echo "render-policies.sh: $dir is not a folder" >&2; exit 1; }
# ConfigMaps hold at most 1 MiB; stay clearly below it.
max_bytes=900000

cm_name() { # folder → DNS-safe ConfigMap name
  local f=${1:-root}
  f=$(printf '%s' "$f" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9.\n' '-')
  echo "iamgate-policies-$f"
}

objects=() sources=()
while IFS= read -r folder; do
  rel=${folder#"$dir"}; rel=${rel#/}
  mapfile -t files < <(find "$folder" -maxdepth 1 -type f \( -name '*.json' -o -name '*.toml' \) ! -path "$dir/credentials.toml" | sort)
  [ ${#files[@]} -gt 0 ] || continue
  name=$(cm_name "$rel")
  body="---"$'\n'"apiVersion: v1"$'\n'"kind: ConfigMap"$'\n'"metadata: { name: $name }"$'\n'"data:"$'\n'
  items="" bytes=0
  for f in "${files[@]}"; do
    key=$(basename "$f")
    [[ $key =~ ^[-._a-zA-Z0-9]+$ ]] || { echo "render-policies.sh: $f: a ConfigMap key cannot be \"$key\"" >&2; exit 1; }
    bytes=$((bytes + $(wc -c < "$f")))
    body+="  \"$key\": |2"$'\n'"$(sed 's/^/    /' "$f")"$'\n'
    items+="{ key: \"$key\", path: \"${rel:+$rel/}$key\" }, "
  done
  [ "$bytes" -le "$max_bytes" ] || { echo "render-policies.sh: $folder holds $bytes bytes, more than a ConfigMap takes" >&2; exit 1; }
  objects+=("$body")
  sources+=("- configMap: { name: $name, items: [ ${items%, } ] }")
done < <(find "$dir" -type d | sort)
if [ -f "$dir/credentials.toml" ]; then
  objects+=("---"$'\n'"apiVersion: v1"$'\n'"kind: Secret"$'\n'"metadata: { name: iamgate-credentials }"$'\n'"stringData:"$'\n'"  credentials.toml: |2"$'\n'"$(sed 's/^/    /' "$dir/credentials.toml")"$'\n')
  sources+=("- secret: { name: iamgate-credentials, items: [ { key: credentials.toml, path: credentials.toml } ] }")
fi
if [ "$mode" = sources ]; then
  printf '%s\n' "${sources[@]}"
else
  printf '%s' "${objects[@]}"
fi
