#!/usr/bin/env bash
# Runs configs/cluster.yaml, the containers' deployment, with the programs of a local build on
# 127.0.0.1, for machines with no container engine: the image's paths, the host names broker
# and train, and /run/secrets are replaced with --set; everything else (the security block, the
# stages, the gateway block) is the file as the containers read it. Fresh CURVE keys and a
# gateway token are made with `digitpipe keys`.
# Checks: /readyz turns 200 (an infer worker with a model registered through the broker over
# CURVE), `digitpipe status` with the admin key lists train, augment, evaluate and infer, a
# client key not on the allow-list gets no answer, a predict request round-trips, and a
# one-epoch training run finishes and its model is loaded by the infer workers.
# Exits 0 when all hold. Every process it starts is stopped by its PID on exit.
# Usage: deploy/docker/loopback-smoke.sh [BUILD_DIR]   (default <repo>/build)
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-$repo/build}
bin=$build/bin
for p in digitpipe digitpipe-broker digitpipe-worker digitpipe-gateway; do
  [[ -x $bin/$p ]] || { echo "loopback-smoke: $bin/$p missing: build first" >&2; exit 2; }
done
work=$(mktemp -d)
keys=$work/keys
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

for name in broker gateway infer train augment evaluate admin; do
  "$bin/digitpipe" keys "$name" --dir "$keys" >/dev/null || exit 1
done
"$bin/digitpipe" keys --token "$keys/gateway.token" >/dev/null || exit 1
"$bin/digitpipe" keys stranger --dir "$work/other" >/dev/null || exit 1

port=$((21000 + RANDOM % 20000))  # five consecutive ports; a clash fails the bind, loudly
http=127.0.0.1:$((port + 4))
common=(--config "$repo/configs/cluster.yaml"
  --set "broker.endpoint=tcp://127.0.0.1:$port"
  --set "broker.events_in=tcp://127.0.0.1:$((port + 1))"
  --set "broker.events_out=tcp://127.0.0.1:$((port + 2))"
  --set "streams.augmented.endpoint=tcp://127.0.0.1:$((port + 3))"
  --set "streams.augmented.server_public_key=$keys/train.pub"
  --set "security.broker_public_key=$keys/broker.pub"
  --set "security.allowed_clients=[$keys/gateway.pub, $keys/infer.pub, $keys/train.pub,
         $keys/augment.pub, $keys/evaluate.pub, $keys/admin.pub]"
  --set "paths.plugins=$build/plugins" --set "paths.models=$repo/models"
  --set "paths.experiments=$repo/configs/experiments" --set "paths.data=$repo/data"
  --set "paths.runs=$work/runs"
  --set "gateway.listen=$http" --set "gateway.dashboard=$repo/web/dashboard/dist"
  --set "gateway.token_file=$keys/gateway.token")

"$bin/digitpipe-broker" "${common[@]}" --set "security.key=$keys/broker.key" \
  >"$work/broker.log" 2>&1 &
pids+=($!)
for stage in train augment evaluate infer infer; do
  OMP_NUM_THREADS=1 "$bin/digitpipe-worker" "${common[@]}" --stage "$stage" \
    --set "security.key=$keys/$stage.key" >>"$work/$stage.log" 2>&1 &
  pids+=($!)
done
"$bin/digitpipe-gateway" "${common[@]}" --set "security.key=$keys/gateway.key" \
  >"$work/gateway.log" 2>&1 &
pids+=($!)

failures=0
fail() { echo "loopback-smoke: FAILED: $*" >&2; failures=$((failures + 1)); }

code=000
for _ in $(seq 1 240); do  # up to about 2 minutes on a loaded machine
  code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://$http/readyz")
  [[ $code == 200 ]] && break
  sleep 0.5
done
[[ $code == 200 ]] && echo "loopback-smoke: /readyz 200" || fail "/readyz stayed $code"

status=$(timeout 30 "$bin/digitpipe" status "${common[@]}" --set "security.key=$keys/admin.key" 2>&1)
echo "$status"
for service in train augment evaluate infer; do
  grep -q "digitpipe.$service " <<<"$status" || fail "digitpipe status does not list $service"
done
if timeout 30 "$bin/digitpipe" status "${common[@]}" \
     --set "security.key=$work/other/stranger.key" >/dev/null 2>&1; then
  fail "a client key not on the allow-list was answered"
else
  echo "loopback-smoke: a key not on the allow-list got no answer"
fi
grep -q 'client key not allowed' "$work/broker.log" || fail "the broker logged no ZAP refusal"

# A one-pixel PNG is no digit, but its answer comes from an infer worker through the broker.
png=iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==
reply=$(curl -s -m 20 -H 'Content-Type: application/json' \
  --data "{\"image\": \"data:image/png;base64,$png\"}" "http://$http/api/predict")
echo "loopback-smoke: predict -> ${reply:0:200}"
grep -q '"found"\|"digit"\|"probabilities"' <<<"$reply" || fail "predict did not reach infer"

# A one-epoch run of the sprint experiment (augmented) on 6,400 images: batches come from
# the augment worker over the CURVE stream that train binds (server key train.pub), the run
# lands in paths.runs, and the infer workers swap in the published model, read by its path.
token=$(cat "$keys/gateway.token")
job=$(curl -s -m 20 -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  --data '{"experiment": "sprint", "overrides": {"training.epochs": 1, "data.limit": 6400}}' \
  "http://$http/api/train" | python3 -c 'import json,sys; print(json.load(sys.stdin)["job"]["id"])')
state=none
if [[ -n $job ]]; then
  for _ in $(seq 1 600); do  # up to about 10 minutes on a loaded machine
    state=$(curl -s -m 5 "http://$http/api/jobs/$job" |
            python3 -c 'import json,sys; print(json.load(sys.stdin).get("state"))' 2>/dev/null)
    [[ $state == running || $state == None || -z $state ]] || break
    sleep 1
  done
fi
echo "loopback-smoke: training run '$job': $state"
[[ $state == finished ]] || fail "the training run did not finish (state '$state')"
if [[ $state == finished ]]; then
  loaded=no
  for _ in $(seq 1 60); do
    if grep -q "model.loaded\|published model loaded\|model loaded" "$work"/infer.log &&
       grep -q "$job" "$work"/infer.log; then loaded=yes; break; fi
    sleep 0.5
  done
  [[ $loaded == yes ]] && echo "loopback-smoke: the infer workers loaded the run's model" ||
    fail "the infer workers did not log loading $job's model"
  augment=$(curl -s -m 20 "http://$http/api/workers" | python3 -c '
import json, sys
print(next(s["detail"] for s in json.load(sys.stdin)["services"] if s["name"] == "digitpipe.augment"))')
  echo "loopback-smoke: augment worker: $augment"
  [[ $augment =~ ([1-9][0-9]*)\ batches\ sent ]] ||
    fail "the augment worker sent no batches over the stream"
fi

if ((failures)); then
  echo "loopback-smoke: $failures check(s) failed; logs:" >&2
  tail -n 5 "$work"/*.log >&2
  [[ -n ${KEEP_LOGS:-} ]] && cp -r "$work" "$KEEP_LOGS"
  exit 1
fi
echo "loopback-smoke: OK"
