#!/usr/bin/env bash
# Checks the container and cluster files (deploy/docker/Dockerfile, deploy/compose.yaml,
# deploy/k8s/, configs/cluster.yaml, .dockerignore) as far as a machine without a container
# engine or a cluster can: YAML syntax (yamllint), kustomize rendering (kubectl, when
# present), compose's own schema (Debian's docker-compose, when present), hadolint (when
# present), and digitpipe's own consistency checks: the programs and stages the files name
# exist in the CMake tree, the ports and host names agree between configs/cluster.yaml,
# compose, Kubernetes and the Dockerfile, every secret a process reads is mounted into it,
# the Kubernetes ConfigMap's copy equals configs/cluster.yaml, the pods are locked down.
# Prints what ran and what was skipped (and why); exits 1 on the first failed tool or with
# every consistency problem listed.
#
# Usage: deploy/validate-cluster-files.sh [--repo DIR]   check DIR's files (default: this repo)
#        deploy/validate-cluster-files.sh --self-test    break copies of the files in known
#                                                        ways and check each break is caught
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
self_test=false
while (($#)); do
  case $1 in
    --repo) repo=$(cd "$2" && pwd); shift 2 ;;
    --self-test) self_test=true; shift ;;
    *) echo "validate-cluster-files: unknown argument '$1' (--repo DIR, --self-test)" >&2; exit 2 ;;
  esac
done

ran=()
skipped=()
note_ran() { ran+=("$*"); echo "validate-cluster-files: ran: $*"; }
note_skipped() { skipped+=("$*"); echo "validate-cluster-files: skipped: $*"; }

if ! python3 -c 'import yaml' 2>/dev/null; then
  echo "validate-cluster-files: python3 with the yaml module is required (Debian: python3-yaml," \
       "which yamllint brings; deploy/install-deps.sh --tests installs it)" >&2
  exit 1
fi

# The files checked, relative to the repository root.
yaml_files=(configs/cluster.yaml deploy/compose.yaml deploy/k8s deploy/.yamllint)

# ---- Self-test: each mutation of a copy must make the consistency checks fail, naming it ----
if $self_test; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  # mutation: FILE | sed expression | text the failure must contain
  mutations=(
    "deploy/k8s/cluster.yaml|s/liveness: 5/liveness: 4/|differs from configs/cluster.yaml"
    "deploy/compose.yaml|s/broker.events_out=tcp:\/\/0.0.0.0:5557/broker.events_out=tcp:\/\/0.0.0.0:5567/|--set=broker.events_out=tcp://0.0.0.0:5557"
    "deploy/k8s/broker.yaml|s/port: 5556, targetPort/port: 5566, targetPort/|does not serve port 5556"
    "deploy/compose.yaml|s/--stage=evaluate/--stage=evaluation/|no stage 'evaluation'"
    "deploy/k8s/infer.yaml|s/digitpipe-worker/digitpipe-workers/|program 'digitpipe-workers' is no add_executable"
    "deploy/k8s/gateway.yaml|s/path: \/readyz/path: \/ready/|must GET /readyz"
    "deploy/k8s/train.yaml|s/readOnlyRootFilesystem: true/readOnlyRootFilesystem: false/|Deployment train: readOnlyRootFilesystem: true expected"
    "deploy/k8s/infer.yaml|s/{key: infer.key, path: infer.key}/{key: train.key, path: train.key}/|/run/secrets/infer.key is read but not mounted"
    "deploy/compose.yaml|s/\"8080:8080\"/\"8081:8080\"/|ports must publish 8080:8080"
    "configs/cluster.yaml|s/tcp:\/\/train:5558/tcp:\/\/trainer:5558/|connects to host 'trainer'"
    "deploy/docker/Dockerfile|s/^COPY models\/.*//|/opt/digitpipe/models is not a COPY destination"
    ".dockerignore|/^\/data$/d|'data' is not excluded"
  )
  copy_repo() {  # the files the checks read, into $work/repo
    rm -rf "$work/repo"
    mkdir -p "$work/repo"
    (cd "$repo" && cp -r --parents configs deploy .dockerignore CMakeLists.txt \
      framework/CMakeLists.txt workers plugins web/gateway/CMakeLists.txt "$work/repo/")
  }
  copy_repo
  if ! out=$(VALIDATE_CLUSTER_OWN_CHECKS=1 bash "$work/repo/deploy/validate-cluster-files.sh" \
               --repo "$work/repo" 2>&1); then
    echo "$out" >&2
    echo "self-test: FAILED: the unchanged copy does not pass (above)" >&2
    exit 1
  fi
  echo "self-test: the unchanged copy passes"
  failures=0
  for m in "${mutations[@]}"; do
    IFS='|' read -r file expr expect <<<"$m"
    copy_repo
    if [[ $file == configs/cluster.yaml ]]; then  # keep the copy in step: test the named check
      sed -i "$expr" "$work/repo/$file" "$work/repo/deploy/k8s/cluster.yaml"
    else
      sed -i "$expr" "$work/repo/$file"
    fi
    if cmp -s "$repo/$file" "$work/repo/$file"; then
      echo "self-test: FAILED: the mutation '$expr' did not change $file" >&2
      failures=$((failures + 1))
      continue
    fi
    # Only the consistency checks (and kustomize, which they read): the tools were run on the
    # real files, and the mutations target our own checks.
    if out=$(VALIDATE_CLUSTER_OWN_CHECKS=1 bash "$work/repo/deploy/validate-cluster-files.sh" \
               --repo "$work/repo" 2>&1); then
      echo "self-test: FAILED: '$expr' on $file was not caught" >&2
      failures=$((failures + 1))
    elif ! grep 'error' <<<"$out" | grep -qF -- "$expect"; then
      echo "self-test: FAILED: '$expr' on $file failed without naming '$expect':" >&2
      echo "$out" | grep -i 'error\|fail' | head -5 >&2
      failures=$((failures + 1))
    else
      echo "self-test: caught: $file: $expr"
    fi
  done
  if ((failures)); then
    echo "self-test: $failures of ${#mutations[@]} mutations not caught" >&2
    exit 1
  fi
  echo "self-test: all ${#mutations[@]} mutations caught"
  exit 0
fi

cd "$repo"

own_only=${VALIDATE_CLUSTER_OWN_CHECKS:-0}  # set by --self-test: skip yamllint, compose

# ---- yamllint ----
if [[ $own_only == 1 ]]; then
  note_skipped "yamllint: VALIDATE_CLUSTER_OWN_CHECKS=1"
elif command -v yamllint >/dev/null; then
  yamllint -s -c deploy/.yamllint "${yaml_files[@]}"
  note_ran "yamllint -s -c deploy/.yamllint ${yaml_files[*]}: no problems"
else
  note_skipped "yamllint: not installed (Debian package yamllint; deploy/install-deps.sh --tests)"
fi

# ---- kubectl ----
rendered=""
if command -v kubectl >/dev/null; then
  rendered=$(mktemp)
  trap 'rm -f "$rendered"' EXIT
  if ! kubectl kustomize deploy/k8s >"$rendered"; then
    echo "validate-cluster-files: error: kubectl kustomize deploy/k8s failed (above)" >&2
    exit 1
  fi
  note_ran "kubectl kustomize deploy/k8s: $(grep -c '^kind:' "$rendered") objects rendered"
  # Even --dry-run=client asks the API server for its resource types; without a configured
  # cluster kubectl would try http://localhost:8080, the gateway's own default port.
  if [[ -n ${KUBECONFIG:-} || -f $HOME/.kube/config ]]; then
    kubectl apply --dry-run=client --validate=false -f "$rendered" >/dev/null
    note_ran "kubectl apply --dry-run=client --validate=false (rendered deploy/k8s)"
  else
    note_skipped "kubectl apply --dry-run=client: no cluster configured (no KUBECONFIG or" \
                 "~/.kube/config; client dry runs still ask the API server for its types)"
  fi
else
  note_skipped "kubectl kustomize / apply --dry-run=client: no kubectl"
fi

# ---- docker-compose (v1, Debian) ----
if [[ $own_only == 1 ]]; then
  note_skipped "compose config: VALIDATE_CLUSTER_OWN_CHECKS=1"
elif command -v docker-compose >/dev/null; then
  (cd deploy && docker-compose -f compose.yaml config -q)
  note_ran "docker-compose -f deploy/compose.yaml config -q ($(docker-compose version --short))"
elif docker compose version >/dev/null 2>&1; then
  (cd deploy && docker compose -f compose.yaml config -q)
  note_ran "docker compose -f deploy/compose.yaml config -q"
else
  note_skipped "compose config: neither docker-compose nor docker compose installed"
fi

# ---- hadolint ----
if command -v hadolint >/dev/null; then
  hadolint deploy/docker/Dockerfile
  note_ran "hadolint deploy/docker/Dockerfile"
else
  note_skipped "hadolint: not installed (Debian 12 has no package)"
fi

# ---- digitpipe's own consistency checks ----
python3 - "$repo" "$rendered" <<'PY'
"""Consistency of the container and cluster files with each other and the CMake tree."""
import os
import pathlib
import re
import shlex
import sys

import yaml

repo = pathlib.Path(sys.argv[1])
rendered_file = sys.argv[2]
problems = []
checked = []


def problem(where, text):
    problems.append(f"{where}: {text}")


def load_all(path):
    with open(repo / path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def flag_values(args, flag):
    """Values of --flag=V and --flag V in an argument list."""
    out = []
    for i, a in enumerate(args):
        if a.startswith(flag + "="):
            out.append(a[len(flag) + 1:])
        elif a == flag and i + 1 < len(args):
            out.append(args[i + 1])
    return out


def overrides(args):
    return dict(v.split("=", 1) for v in flag_values(args, "--set") if "=" in v)


def host_port(endpoint, where):
    m = re.fullmatch(r"tcp://([^:/]+):(\d+)", endpoint or "")
    if not m:
        problem(where, f"expected tcp://HOST:PORT, got '{endpoint}'")
        return None, None
    return m.group(1), int(m.group(2))


# -- The CMake tree: programs and stage plugins that exist.
programs = set()
plugins = set()
for top in ("framework", "plugins", "workers", "web"):
    for folder, subfolders, files in os.walk(repo / top):
        subfolders[:] = [d for d in subfolders if d not in ("node_modules", "dist")]
        if "CMakeLists.txt" in files:
            text = (pathlib.Path(folder) / "CMakeLists.txt").read_text(encoding="utf-8")
            programs.update(re.findall(r"add_executable\(\s*([A-Za-z0-9_.+-]+)", text))
            plugins.update(re.findall(r"digitpipe_add_stage_plugin\(\s*([a-z0-9_]+)", text))
deployable = {p for p in programs if p == "digitpipe" or p.startswith("digitpipe-")}
if not deployable:
    problem("CMake tree", "no digitpipe programs found (add_executable)")

# -- configs/cluster.yaml: the source of ports, host names, stages, paths and secrets.
cluster_path = "configs/cluster.yaml"
cluster = load_all(cluster_path)[0]
broker = cluster.get("broker", {})
ports = {}  # key -> (host, port) as the connecting side sees it
for key in ("endpoint", "events_in", "events_out"):
    ports["broker." + key] = host_port(broker.get(key), f"{cluster_path}: broker.{key}")
streams = cluster.get("streams", {})
aug = streams.get("augmented", {})
ports["streams.augmented.endpoint"] = host_port(aug.get("endpoint"),
                                                f"{cluster_path}: streams.augmented.endpoint")
gateway_listen = str(cluster.get("gateway", {}).get("listen", ""))
m = re.fullmatch(r"0\.0\.0\.0:(\d+)", gateway_listen)
if not m:
    problem(cluster_path, f"gateway.listen must be 0.0.0.0:PORT in containers, got '{gateway_listen}'")
gateway_port = int(m.group(1)) if m else None
stages = cluster.get("stages", {})
for name, block in stages.items():
    if block.get("plugin") not in plugins:
        problem(cluster_path, f"stages.{name}.plugin '{block.get('plugin')}' is no "
                f"digitpipe_add_stage_plugin in the CMake tree ({sorted(plugins)})")
for key, value in cluster.get("paths", {}).items():
    if not str(value).startswith("/"):
        problem(cluster_path, f"paths.{key} '{value}' must be absolute (the image's layout)")
security = cluster.get("security", {})
shared_secret_files = [security.get("broker_public_key")] + list(security.get("allowed_clients", []))
shared_secret_files += [s["server_public_key"] for s in streams.values() if "server_public_key" in s]
token_file = cluster.get("gateway", {}).get("token_file")
if not security.get("broker_public_key"):
    problem(cluster_path, "security.broker_public_key is not set")
for f in shared_secret_files + [token_file]:
    if f and not str(f).startswith("/run/secrets/"):
        problem(cluster_path, f"'{f}' should be a mounted secret under /run/secrets/")
checked.append(f"{cluster_path}: endpoints, stages -> plugins, absolute paths, secrets")

# The binding side of each endpoint: which program/stage binds it (the others connect).
binder = {
    "broker.endpoint": "broker", "broker.events_in": "broker", "broker.events_out": "broker",
    "streams.augmented.endpoint": "train",
}


def check_role(where, args, secret_paths, env):
    """One container: program exists, stage exists, binding overrides agree with the file,
    its own secret key and every secret the shared config names are mounted."""
    if not args:
        problem(where, "no command")
        return None
    program = args[0]
    if program not in deployable:
        problem(where, f"program '{program}' is no add_executable in the CMake tree "
                f"({sorted(deployable)})")
    stage_names = flag_values(args, "--stage")
    role = {"digitpipe-broker": "broker", "digitpipe-gateway": "gateway"}.get(program)
    if program == "digitpipe-worker":
        if len(stage_names) != 1:
            problem(where, "digitpipe-worker needs exactly one --stage")
            return None
        role = stage_names[0]
        if role not in stages:
            problem(where, f"--stage={role}: no stage '{role}' in {cluster_path} "
                    f"({sorted(stages)})")
    elif program == "digitpipe":
        role = "admin"
    configs = flag_values(args, "--config")
    if len(configs) != 1 or not configs[0].endswith("/cluster.yaml"):
        problem(where, f"expected one --config=.../cluster.yaml, got {configs}")
    sets = overrides(args)
    for key, owner in binder.items():
        host, port = ports.get(key, (None, None))
        if owner == role:
            want = f"tcp://0.0.0.0:{port}"
            if sets.get(key) != want:
                problem(where, f"the {role} binds {key}: expected --set={key}={want} "
                        f"(the port of {cluster_path}), got {sets.get(key)!r}")
        elif key in sets:
            problem(where, f"--set {key} on a connecting side ({role}): use the file's value")
    key_file = sets.get("security.key")
    if key_file != f"/run/secrets/{role}.key":
        problem(where, f"expected --set=security.key=/run/secrets/{role}.key, got {key_file!r}")
    needed = [key_file] + shared_secret_files + ([token_file] if role == "gateway" else [])
    for path in needed:
        if path and path not in secret_paths:
            problem(where, f"{path} is read but not mounted (mounted: {sorted(secret_paths)})")
    for path in secret_paths:
        if path.endswith(".key") and path != key_file:
            problem(where, f"{path}: another component's secret key is mounted here")
        if path.endswith(".token") and role != "gateway":
            problem(where, f"{path}: the gateway token is mounted outside the gateway")
    if role == "infer" and env.get("OMP_NUM_THREADS") != "1":
        problem(where, "infer workers need OMP_NUM_THREADS=1 in their environment")
    return role


# -- deploy/compose.yaml
compose_path = "deploy/compose.yaml"
compose = load_all(compose_path)[0]
services = compose.get("services", {})
compose_secrets = compose.get("secrets", {})
compose_roles = set()
for name, svc in services.items():
    where = f"{compose_path}: services.{name}"
    command = svc.get("command")
    if isinstance(command, str):
        command = shlex.split(command)
    mounted = set()
    for s in svc.get("secrets", []):
        src = s if isinstance(s, str) else s.get("source")
        target = s if isinstance(s, str) else s.get("target", src)
        mounted.add(target if target.startswith("/") else f"/run/secrets/{target}")
        if src not in compose_secrets:
            problem(where, f"secret '{src}' is not defined under top-level secrets")
    env = svc.get("environment", {})
    if isinstance(env, list):
        env = dict(e.split("=", 1) for e in env)
    role = check_role(where, command or [], mounted, {k: str(v) for k, v in env.items()})
    if role:
        compose_roles.add(role)
    if str(svc.get("user", "")).split(":")[0] in ("", "0", "root"):
        problem(where, "must run as a non-root user (user: 10001:10001)")
    if svc.get("read_only") is not True:
        problem(where, "read_only: true expected (runs and /tmp are the writable mounts)")
    if role == "gateway":
        published = [str(p) for p in svc.get("ports", [])]
        if not any(p.endswith(f":{gateway_port}") and p.split(":")[-2] == str(gateway_port)
                   for p in published):
            problem(where, f"ports must publish {gateway_port}:{gateway_port} "
                    f"(gateway.listen), got {published}")
    if role == "broker":
        exposed = {int(p) for p in svc.get("expose", [])}
        want = {ports[k][1] for k in ("broker.endpoint", "broker.events_in", "broker.events_out")}
        if exposed != want:
            problem(where, f"expose {sorted(exposed)} != the broker's ports {sorted(want)}")
    if role == "train":
        if {int(p) for p in svc.get("expose", [])} != {ports["streams.augmented.endpoint"][1]}:
            problem(where, "expose must be the port of streams.augmented.endpoint")
for key, owner in binder.items():
    host = ports[key][0]
    if host not in services:
        problem(compose_path, f"{key} connects to host '{host}': no such compose service")
    elif owner not in compose_roles:
        problem(compose_path, f"no service runs the {owner} that binds {key}")
for stage in stages:
    if stage not in compose_roles:
        problem(compose_path, f"stage '{stage}' of {cluster_path} has no service")
for name, spec in compose_secrets.items():
    if not str(spec.get("file", "")).startswith("./secrets/"):
        problem(compose_path, f"secrets.{name} must be a file under deploy/secrets/ (git-ignored)")
if "infer" in services and not services["infer"].get("deploy", {}).get("replicas"):
    problem(compose_path, "services.infer.deploy.replicas is not set")
checked.append(f"{compose_path}: {len(services)} services")

# -- deploy/k8s
k8s_dir = "deploy/k8s"
kustomization = load_all(f"{k8s_dir}/kustomization.yaml")[0]
if (repo / k8s_dir / "cluster.yaml").read_bytes() != (repo / cluster_path).read_bytes():
    problem(f"{k8s_dir}/cluster.yaml", f"differs from {cluster_path} (the ConfigMap's source): "
            f"cp {cluster_path} {k8s_dir}/cluster.yaml")
generated = {g["name"] for g in kustomization.get("configMapGenerator", [])}
docs = []
for resource in kustomization.get("resources", []):
    for d in load_all(f"{k8s_dir}/{resource}"):
        docs.append((f"{k8s_dir}/{resource}", d))
listed = set(kustomization.get("resources", [])) | {"kustomization.yaml", "cluster.yaml"}
for f in sorted((repo / k8s_dir).glob("*.yaml")):
    if f.name not in listed:
        problem(f"{k8s_dir}/{f.name}", "not listed in kustomization.yaml resources")
by_kind = {}
for where, d in docs:
    for key in ("apiVersion", "kind"):
        if key not in d:
            problem(where, f"a document without {key}")
    if not d.get("metadata", {}).get("name"):
        problem(where, f"a {d.get('kind')} without metadata.name")
    by_kind.setdefault(d.get("kind"), {})[d.get("metadata", {}).get("name")] = (where, d)
    if d.get("kind") == "Secret" and (d.get("data") or d.get("stringData")):
        problem(where, "a Secret with values is committed: create it with kubectl instead")
pvcs = set(by_kind.get("PersistentVolumeClaim", {}))
k8s_roles = {}
for name, (where, d) in by_kind.get("Deployment", {}).items():
    where = f"{where}: Deployment {name}"
    pod = d["spec"]["template"]["spec"]
    labels = d["spec"]["template"]["metadata"].get("labels", {})
    if d["spec"].get("selector", {}).get("matchLabels", {}).items() - labels.items():
        problem(where, "selector.matchLabels do not match the template's labels")
    psc = pod.get("securityContext", {})
    if psc.get("runAsNonRoot") is not True or psc.get("runAsUser") in (None, 0):
        problem(where, "pod securityContext needs runAsNonRoot: true and a runAsUser")
    if pod.get("automountServiceAccountToken") is not False:
        problem(where, "automountServiceAccountToken: false expected (its mount lands under "
                "the read-only /run/secrets)")
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for v in volumes.values():
        if "configMap" in v and v["configMap"]["name"] not in generated:
            problem(where, f"ConfigMap '{v['configMap']['name']}' is not generated "
                    f"(configMapGenerator: {sorted(generated)})")
        if "persistentVolumeClaim" in v and v["persistentVolumeClaim"]["claimName"] not in pvcs:
            problem(where, f"PVC '{v['persistentVolumeClaim']['claimName']}' is not defined")
    containers = pod.get("containers", [])
    if len(containers) != 1:
        problem(where, "expected one container")
        continue
    c = containers[0]
    csc = c.get("securityContext", {})
    if csc.get("readOnlyRootFilesystem") is not True:
        problem(where, "readOnlyRootFilesystem: true expected")
    if csc.get("allowPrivilegeEscalation") is not False:
        problem(where, "allowPrivilegeEscalation: false expected")
    if "ALL" not in csc.get("capabilities", {}).get("drop", []):
        problem(where, "capabilities.drop: [ALL] expected")
    if not c.get("resources", {}).get("requests"):
        problem(where, "resources.requests missing")
    secret_paths = set()
    for mount in c.get("volumeMounts", []):
        vol = volumes.get(mount["name"])
        if vol is None:
            problem(where, f"volumeMount '{mount['name']}' has no volume")
            continue
        if "secret" in vol:
            for item in vol["secret"].get("items", []):
                secret_paths.add(f"{mount['mountPath'].rstrip('/')}/{item['path']}")
        if "configMap" in vol and not any(a.startswith(f"--config={mount['mountPath']}/")
                                          for a in c.get("args", []) + c.get("command", [])):
            problem(where, f"--config does not point into the ConfigMap at {mount['mountPath']}")
    env = {e["name"]: str(e.get("value")) for e in c.get("env", [])}
    role = check_role(where, c.get("command", []) + c.get("args", []), secret_paths, env)
    if role:
        k8s_roles[role] = (where, d, c)
    named_ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
    for probe_kind in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = c.get(probe_kind)
        if not probe:
            continue
        for how in ("httpGet", "tcpSocket"):
            if how in probe and isinstance(probe[how]["port"], str) \
                    and probe[how]["port"] not in named_ports:
                problem(where, f"{probe_kind} port '{probe[how]['port']}' is no container port")
    if role == "gateway":
        for probe_kind, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            probe = c.get(probe_kind, {}).get("httpGet", {})
            port = probe.get("port")
            port = named_ports.get(port, port)
            if probe.get("path") != path or port != gateway_port:
                problem(where, f"{probe_kind} must GET {path} on port {gateway_port}, got "
                        f"{probe.get('path')} on {port}")
    if role == "broker" and "tcpSocket" not in c.get("livenessProbe", {}):
        problem(where, "the broker needs a tcpSocket liveness probe on its MDP port")
    if role == "infer" and not c.get("resources", {}).get("limits", {}).get("cpu"):
        problem(where, "infer needs a CPU limit (the HPA scales on CPU)")
    # Ports the binding roles open must be container ports.
    for key, owner in binder.items():
        if owner == role and ports[key][1] not in named_ports.values():
            problem(where, f"containerPort {ports[key][1]} ({key}) is missing")
    if role == "gateway" and gateway_port not in named_ports.values():
        problem(where, f"containerPort {gateway_port} (gateway.listen) is missing")

services_k8s = by_kind.get("Service", {})
for key, owner in binder.items():
    host, port = ports[key]
    if host not in services_k8s:
        problem(k8s_dir, f"{key} connects to host '{host}': no Service '{host}'")
        continue
    where, svc = services_k8s[host]
    if port not in [p["port"] for p in svc["spec"].get("ports", [])]:
        problem(where, f"Service {host} does not serve port {port} ({key})")
if "gateway" in k8s_roles:
    matches = [s for s, (_, svc) in services_k8s.items()
               if gateway_port in [p["port"] for p in svc["spec"].get("ports", [])]]
    if not matches:
        problem(k8s_dir, f"no Service serves the gateway's port {gateway_port}")
for name, (where, svc) in services_k8s.items():
    selector = svc["spec"].get("selector", {})
    targets = [(c, d) for _, d, c in k8s_roles.values()
               if not selector.items() - d["spec"]["template"]["metadata"]["labels"].items()]
    if len(targets) != 1:
        problem(where, f"Service {name} selects {len(targets)} Deployments, expected 1")
        continue
    named = {p.get("name"): p["containerPort"] for p in targets[0][0].get("ports", [])}
    for p in svc["spec"].get("ports", []):
        target = p.get("targetPort", p["port"])
        if (named.get(target) if isinstance(target, str) else target) != p["port"]:
            problem(where, f"Service {name} port {p['port']} -> targetPort {target}, which is "
                    f"not container port {p['port']}")
for stage in stages:
    if stage not in k8s_roles:
        problem(k8s_dir, f"stage '{stage}' of {cluster_path} has no Deployment")
hpas = by_kind.get("HorizontalPodAutoscaler", {})
if not any(d["apiVersion"] == "autoscaling/v2"
           and d["spec"]["scaleTargetRef"].get("name") == "infer"
           and any(mt.get("resource", {}).get("name") == "cpu" for mt in d["spec"]["metrics"])
           for _, d in hpas.values()):
    problem(k8s_dir, "no autoscaling/v2 HorizontalPodAutoscaler on CPU for Deployment infer")
for _, d in hpas.values():
    if d["spec"]["scaleTargetRef"].get("name") not in by_kind.get("Deployment", {}):
        problem(k8s_dir, f"HPA {d['metadata']['name']} targets a Deployment that does not exist")
checked.append(f"{k8s_dir}: {len(docs)} objects, ConfigMap copy identical")

# -- The rendered kustomization (kubectl kustomize), when kubectl ran.
if rendered_file:
    objects = [d for d in yaml.safe_load_all(open(rendered_file, encoding="utf-8")) if d]
    namespace = kustomization.get("namespace")
    configmaps = {d["metadata"]["name"] for d in objects if d["kind"] == "ConfigMap"}
    for d in objects:
        if d["kind"] != "Namespace" and d["metadata"].get("namespace") != namespace:
            problem("kubectl kustomize", f"{d['kind']} {d['metadata']['name']} is not in "
                    f"namespace {namespace}")
        if d["kind"] == "Deployment":
            for v in d["spec"]["template"]["spec"].get("volumes", []):
                if "configMap" in v and v["configMap"]["name"] not in configmaps:
                    problem("kubectl kustomize", f"Deployment {d['metadata']['name']} mounts "
                            f"ConfigMap {v['configMap']['name']}, which is not rendered")
    checked.append(f"kubectl kustomize output: {len(objects)} objects in namespace {namespace}")

# -- deploy/docker/Dockerfile: the programs, plugins and folders the config's paths name.
docker_path = "deploy/docker/Dockerfile"
dockerfile = (repo / docker_path).read_text(encoding="utf-8").replace("\\\n", " ")  # join lines
copy_dest = " ".join(re.findall(r"^COPY .*$", dockerfile, re.M))
for program in ("digitpipe-broker", "digitpipe-worker", "digitpipe-gateway", "digitpipe"):
    if not re.search(rf"/bin/{program}(\s|$)", copy_dest):
        problem(docker_path, f"{program} is not copied into the image")
for key, value in list(cluster.get("paths", {}).items()) + [
        ("gateway.dashboard", cluster.get("gateway", {}).get("dashboard"))]:
    if key in ("data", "runs"):
        if f"mkdir -p /var/lib/digitpipe/data /var/lib/digitpipe/runs" not in dockerfile:
            problem(docker_path, "the data and runs mount points are not made")
        continue
    top = str(value)
    if key == "experiments":
        top = str(pathlib.PurePosixPath(top).parent)  # configs/experiments comes with configs/
    if not re.search(rf"\s{re.escape(top)}/?(\s|$)", copy_dest):
        problem(docker_path, f"paths {key} = {value}: {top} is not a COPY destination")
exposed = {int(p) for line in re.findall(r"^EXPOSE (.*)$", dockerfile, re.M) for p in line.split()}
want = {p for _, p in ports.values() if p} | ({gateway_port} if gateway_port else set())
if exposed != want:
    problem(docker_path, f"EXPOSE {sorted(exposed)} != the ports of {cluster_path} {sorted(want)}")
user = re.findall(r"^USER (\S+)", dockerfile, re.M)
if not user or user[-1].split(":")[0] in ("0", "root"):
    problem(docker_path, "the final stage must set a non-root USER")
if not re.search(r"-DDIGITPIPE_BUILD_TESTS=OFF", dockerfile):
    problem(docker_path, "the build should pass -DDIGITPIPE_BUILD_TESTS=OFF")
if "DIGITPIPE_BUILD_TESTS" not in (repo / "CMakeLists.txt").read_text(encoding="utf-8"):
    problem("CMakeLists.txt", "option DIGITPIPE_BUILD_TESTS is gone (the Dockerfile uses it)")
for secret_word in ("BEGIN PRIVATE KEY", "secret-key", "token="):
    if secret_word in dockerfile:
        problem(docker_path, f"looks like a baked-in secret ('{secret_word}')")
checked.append(f"{docker_path}: programs, paths, EXPOSE, USER")

# -- .dockerignore: what must never reach the build context.
ignore = {line.strip().lstrip("/").rstrip("/")
          for line in (repo / ".dockerignore").read_text(encoding="utf-8").splitlines()
          if line.strip() and not line.startswith("#")}
for required in ("build", "data", "runs", "**/node_modules", "deploy/secrets", ".git"):
    if required not in ignore:
        problem(".dockerignore", f"'{required}' is not excluded")
checked.append(".dockerignore")

for c in checked:
    print(f"validate-cluster-files: checked: {c}")
if problems:
    for p in problems:
        print(f"validate-cluster-files: error: {p}", file=sys.stderr)
    print(f"validate-cluster-files: {len(problems)} problem(s)", file=sys.stderr)
    sys.exit(1)
PY
note_ran "consistency checks (programs, stages, ports, host names, secrets, security contexts)"

echo "validate-cluster-files: OK (${#ran[@]} ran, ${#skipped[@]} skipped)"
