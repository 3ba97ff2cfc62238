#!/bin/sh
# Helm test: submit a hello-world WDL to Cromwell's REST API and wait, bounded, for Succeeded.
# Needs CROMWELL_URL, SMOKE_TIMEOUT_SECONDS and the files in SMOKE_DIR; curl, sed and date (curl image, busybox).
set -eu
api="${CROMWELL_URL%/}/api/workflows/v1"
poll="${SMOKE_POLL_SECONDS:-15}"

submitted=$(curl -sS --fail-with-body -X POST "$api" \
  -F "workflowSource=@${SMOKE_DIR}/hello.wdl" \
  -F "workflowInputs=@${SMOKE_DIR}/inputs.json" \
  -F "workflowOptions=@${SMOKE_DIR}/options.json")
id=$(printf '%s' "$submitted" | sed -n 's/.*"id" *: *"\([0-9a-f-]\{36\}\)".*/\1/p')
if [ -z "$id" ]; then
  echo "smoke test: Cromwell returned no workflow id: $submitted" >&2
  exit 1
fi
echo "smoke test: submitted workflow $id"

deadline=$(( $(date +%s) + SMOKE_TIMEOUT_SECONDS ))
while :; do
  # 404 right after submission is normal (metadata is flushed every few seconds): keep polling.
  status=$(curl -sS "$api/$id/status" | sed -n 's/.*"status" *: *"\([A-Za-z ]*\)".*/\1/p')
  case "$status" in
    Succeeded) break ;;
    Failed | Aborted)
      echo "smoke test: workflow $id $status" >&2
      curl -sS "$api/$id/metadata?includeKey=failures&includeKey=status" >&2 || true
      exit 1
      ;;
  esac
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "smoke test: workflow $id still '${status:-unknown}' after ${SMOKE_TIMEOUT_SECONDS}s; aborting it" >&2
    curl -sS -X POST "$api/$id/abort" >&2 || true
    exit 1
  fi
  sleep "$poll"
done

outputs=$(curl -sS --fail-with-body "$api/$id/outputs")
case "$outputs" in
  *"hello from coa-lockdown"*) echo "smoke test: workflow $id Succeeded: $outputs" ;;
  *)
    echo "smoke test: workflow $id Succeeded without the expected output: $outputs" >&2
    exit 1
    ;;
esac
