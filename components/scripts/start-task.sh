#!/usr/bin/env bash
# Global start task for the Azure Batch pools TES creates (TES setting BatchNodes:GlobalStartTask, blob
# configuration/start-task.sh). TES chains it after its own node setup, as the pool-scoped admin auto-user, with
# waitForSuccess=true: a non-zero exit marks the node "start task failed" and Batch schedules no task on it.
#
# Contract (settings come from the block below, filled by components/start_task.py):
#   - no scanner configured: exit 0 and say so; touches neither IMDS nor docker.
#   - scanner configured: token from IMDS for the pool's user-assigned identity -> registry credentials (and
#     optional container env secrets) from Key Vault -> docker login (password on stdin) -> pull -> run detached
#     with --restart always -> wait until healthy; exit 0 only when healthy, non-zero with a message otherwise.
#   - re-runs (node reboot, Batch recovery): a running container of the same image is kept and only re-checked;
#     anything else under the container name is replaced.
# Secrets never reach argv, xtrace or logs: the bearer token goes to curl on stdin (--config -), the registry
# password to docker on stdin, secret env values through the docker CLI's environment (`--env NAME`, no value).
# JSON is parsed with python3: jq is not guaranteed on TES's node images, python3 is (TES's config-docker.sh uses it).
set -euo pipefail
set +x
umask 077

# >>> rendered settings
START_TASK_RENDERED=false
MANAGED_IDENTITY_CLIENT_ID=''
KEY_VAULT_DNS_SUFFIX='vault.azure.net'
RETRY_ATTEMPTS=5
RETRY_DELAY_SECONDS=5
SCANNER_ENABLED=false
SCANNER_IMAGE=''
SCANNER_REGISTRY_SERVER=''
SCANNER_KEY_VAULT_NAME=''
SCANNER_USERNAME_SECRET_NAME=''
SCANNER_PASSWORD_SECRET_NAME=''
SCANNER_CONTAINER_NAME='image-scanner'
SCANNER_HEALTH_TIMEOUT_SECONDS=300
SCANNER_HEALTH_POLL_INTERVAL_SECONDS=5
SCANNER_REQUIRE_HEALTHCHECK=true
SCANNER_ENV=()
SCANNER_SECRET_ENV=()
SCANNER_RUN_ARGS=()
SCANNER_CONTAINER_ARGS=()
# <<< rendered settings

readonly IMDS_TOKEN_URL='http://169.254.169.254/metadata/identity/oauth2/token'
readonly KEY_VAULT_API_VERSION='7.4'

log() { printf '%s start-task: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }
die() {
    printf '%s start-task: ERROR: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2
    exit 1
}

# Sleeps between attempts, not after the last one.
pause_before_retry() {
    if (($1 < RETRY_ATTEMPTS)); then
        sleep "$RETRY_DELAY_SECONDS"
    fi
}

# Prints the string at a key path of the JSON document on stdin; exit 1 if absent or not a string.
json_get() {
    python3 -c '
import json, sys
try:
    node = json.load(sys.stdin)
    for key in sys.argv[1:]:
        node = node[key]
except (ValueError, KeyError, TypeError, IndexError):
    sys.exit(1)
if not isinstance(node, str):
    sys.exit(1)
sys.stdout.write(node)
' "$@"
}

# One-line reason from an Azure error body (IMDS: error_description; Key Vault: error.message). Never call it on
# a 200 response: those bodies hold secrets.
error_reason() {
    local body=$1 reason
    reason=$(printf '%s' "$body" | json_get error_description ||
        printf '%s' "$body" | json_get error message || true)
    printf '%s' "${reason:0:300}" | tr -d '\r\n'
}

# Splits curl output produced with --write-out '\n%{http_code}' into HTTP_BODY and HTTP_CODE.
split_response() {
    local response=$1
    HTTP_CODE=${response##*$'\n'}
    HTTP_BODY=${response%$'\n'*}
    [[ $HTTP_CODE =~ ^[0-9]{3}$ ]] || HTTP_CODE=000
}

# IMDS asks callers to retry 404 (identity not yet available), 410, 429 and 5xx; 400 means a wrong client id.
imds_token() {
    local resource=$1 url response attempt
    url="${IMDS_TOKEN_URL}?api-version=2018-02-01&resource=${resource}&client_id=${MANAGED_IDENTITY_CLIENT_ID}"
    for ((attempt = 1; attempt <= RETRY_ATTEMPTS; attempt++)); do
        # IMDS must never go through a proxy.
        response=$(curl --disable --silent --show-error --noproxy '*' --max-time 10 --header 'Metadata: true' \
            --write-out '\n%{http_code}' "$url") || true
        split_response "$response"
        case $HTTP_CODE in
            200)
                if ACCESS_TOKEN=$(printf '%s' "$HTTP_BODY" | json_get access_token); then
                    return 0
                fi
                die "IMDS returned no access_token for client id ${MANAGED_IDENTITY_CLIENT_ID}"
                ;;
            000 | 404 | 410 | 429 | 5??)
                log "IMDS token request attempt ${attempt}/${RETRY_ATTEMPTS} failed (HTTP ${HTTP_CODE})"
                ;;
            *)
                die "IMDS refused a token for managed identity client id ${MANAGED_IDENTITY_CLIENT_ID}" \
                    "(HTTP ${HTTP_CODE}: $(error_reason "$HTTP_BODY")); is the identity attached to the Batch pool?"
                ;;
        esac
        pause_before_retry "$attempt"
    done
    die "could not get a Key Vault token from IMDS after ${RETRY_ATTEMPTS} attempts" \
        "(last HTTP ${HTTP_CODE}); check that the node reaches 169.254.169.254"
}

# Reads one secret into SECRET_VALUE. 403: the identity lacks "Key Vault Secrets User" on the vault; 404: no such
# secret; 000: DNS or private endpoint problem. Only transport errors, 429 and 5xx are retried.
key_vault_secret() {
    local name=$1 url response attempt
    url="https://${SCANNER_KEY_VAULT_NAME}.${KEY_VAULT_DNS_SUFFIX}/secrets/${name}?api-version=${KEY_VAULT_API_VERSION}"
    for ((attempt = 1; attempt <= RETRY_ATTEMPTS; attempt++)); do
        response=$(printf 'header = "Authorization: Bearer %s"\n' "$ACCESS_TOKEN" |
            curl --disable --silent --show-error --max-time 30 --config - --write-out '\n%{http_code}' "$url") || true
        split_response "$response"
        case $HTTP_CODE in
            200)
                if SECRET_VALUE=$(printf '%s' "$HTTP_BODY" | json_get value) && [[ -n $SECRET_VALUE ]]; then
                    return 0
                fi
                die "Key Vault secret '${name}' in vault '${SCANNER_KEY_VAULT_NAME}' is empty or unreadable"
                ;;
            000 | 429 | 5??)
                log "Key Vault request for secret '${name}' attempt ${attempt}/${RETRY_ATTEMPTS} failed" \
                    "(HTTP ${HTTP_CODE})"
                ;;
            *)
                die "cannot read secret '${name}' from Key Vault '${SCANNER_KEY_VAULT_NAME}'" \
                    "(HTTP ${HTTP_CODE}: $(error_reason "$HTTP_BODY"))"
                ;;
        esac
        pause_before_retry "$attempt"
    done
    die "Key Vault '${SCANNER_KEY_VAULT_NAME}' unreachable for secret '${name}' after ${RETRY_ATTEMPTS} attempts" \
        "(last HTTP ${HTTP_CODE}); check the vault's private endpoint and DNS from the Batch subnet"
}

# "<image> <status> <health|none> <restart count>", or non-zero if no such container.
container_state() {
    docker inspect --format \
        '{{.Config.Image}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.RestartCount}}' \
        "$SCANNER_CONTAINER_NAME" 2>/dev/null
}

wait_for_docker() {
    local attempt
    for ((attempt = 1; attempt <= RETRY_ATTEMPTS; attempt++)); do
        docker info >/dev/null 2>&1 && return 0
        log "docker daemon not answering (attempt ${attempt}/${RETRY_ATTEMPTS})"
        pause_before_retry "$attempt"
    done
    die "docker daemon not reachable after ${RETRY_ATTEMPTS} attempts; the scanner cannot start on this node"
}

DOCKER_CONFIG_DIR=''
cleanup() {
    if [[ -n $DOCKER_CONFIG_DIR ]]; then
        DOCKER_CONFIG=$DOCKER_CONFIG_DIR docker logout "$SCANNER_REGISTRY_SERVER" >/dev/null 2>&1 || true
        rm -rf -- "$DOCKER_CONFIG_DIR"
    fi
}

# All secrets are read before docker is touched, so a Key Vault problem fails the node without side effects.
# Secret env values stay in this shell's memory until run_scanner hands them to docker through its environment.
declare -A SECRET_ENV_VALUES=()
fetch_secrets() {
    local entry
    key_vault_secret "$SCANNER_USERNAME_SECRET_NAME"
    REGISTRY_USERNAME=$SECRET_VALUE
    key_vault_secret "$SCANNER_PASSWORD_SECRET_NAME"
    REGISTRY_PASSWORD=$SECRET_VALUE
    for entry in "${SCANNER_SECRET_ENV[@]}"; do
        key_vault_secret "${entry#*=}"
        SECRET_ENV_VALUES[${entry%%=*}]=$SECRET_VALUE
    done
    SECRET_VALUE=''
    ACCESS_TOKEN=''
}

# Registry credentials live in a private, throw-away docker config so they never persist on the node; the
# container's restart policy needs no credentials once the image is local.
login_and_pull() {
    local output attempt rejected='unauthori[sz]ed|denied|incorrect|invalid (username|password)|401'
    DOCKER_CONFIG_DIR=$(mktemp -d)
    export DOCKER_CONFIG=$DOCKER_CONFIG_DIR
    for ((attempt = 1; attempt <= RETRY_ATTEMPTS; attempt++)); do
        if output=$(printf '%s' "$REGISTRY_PASSWORD" |
            docker login --username "$REGISTRY_USERNAME" --password-stdin "$SCANNER_REGISTRY_SERVER" 2>&1); then
            break
        fi
        output=${output//"$REGISTRY_PASSWORD"/'***'}
        output=$(printf '%s' "${output:0:300}" | tr '\r\n' '  ')
        # Rejected credentials are not retried: repeated failures can lock registry accounts.
        if [[ ${output,,} =~ $rejected ]]; then
            die "docker login to ${SCANNER_REGISTRY_SERVER} failed: credentials rejected (secrets" \
                "'${SCANNER_USERNAME_SECRET_NAME}'/'${SCANNER_PASSWORD_SECRET_NAME}' in vault" \
                "'${SCANNER_KEY_VAULT_NAME}'): ${output}"
        fi
        if ((attempt == RETRY_ATTEMPTS)); then
            die "docker login to ${SCANNER_REGISTRY_SERVER} failed after ${RETRY_ATTEMPTS} attempts: ${output}"
        fi
        log "docker login attempt ${attempt}/${RETRY_ATTEMPTS} failed; retrying"
        pause_before_retry "$attempt"
    done
    REGISTRY_PASSWORD=''
    log "logged in to ${SCANNER_REGISTRY_SERVER}"

    for ((attempt = 1; attempt <= RETRY_ATTEMPTS; attempt++)); do
        if docker pull "$SCANNER_IMAGE" >/dev/null; then
            log "pulled ${SCANNER_IMAGE}"
            return 0
        fi
        log "docker pull attempt ${attempt}/${RETRY_ATTEMPTS} failed"
        pause_before_retry "$attempt"
    done
    die "docker pull ${SCANNER_IMAGE} failed after ${RETRY_ATTEMPTS} attempts"
}

run_scanner() {
    local args=(run --detach --name "$SCANNER_CONTAINER_NAME" --restart always) entry name
    for entry in "${SCANNER_ENV[@]}"; do
        args+=(--env "$entry")
    done
    for name in "${!SECRET_ENV_VALUES[@]}"; do
        args+=(--env "$name")
    done
    args+=("${SCANNER_RUN_ARGS[@]}" "$SCANNER_IMAGE" "${SCANNER_CONTAINER_ARGS[@]}")
    # `--env NAME` without a value makes docker copy NAME from its own environment, so secret values stay off
    # argv; they are exported only inside this subshell.
    if ! (
        for name in "${!SECRET_ENV_VALUES[@]}"; do
            export "${name}=${SECRET_ENV_VALUES[$name]}"
        done
        docker "${args[@]}" >/dev/null
    ); then
        die "docker run of ${SCANNER_IMAGE} as container '${SCANNER_CONTAINER_NAME}' failed"
    fi
    SECRET_ENV_VALUES=()
    log "started container '${SCANNER_CONTAINER_NAME}' from ${SCANNER_IMAGE}"
}

# Healthy means docker's health status "healthy" (the image's HEALTHCHECK or --health-cmd in run args). Without a
# healthcheck, and only when the settings allow it, the container must be running and not restart between two polls.
wait_until_healthy() {
    local deadline=$((SECONDS + SCANNER_HEALTH_TIMEOUT_SECONDS)) state status health restarts
    local last='not inspected' previous=''
    while :; do
        if state=$(container_state); then
            read -r _ status health restarts <<<"$state"
            last="status=${status} health=${health} restarts=${restarts}"
            if [[ $status == running && $health == healthy ]]; then
                log "container '${SCANNER_CONTAINER_NAME}' is healthy"
                return 0
            fi
            if [[ $health == none ]]; then
                if [[ $SCANNER_REQUIRE_HEALTHCHECK == true ]]; then
                    die "image ${SCANNER_IMAGE} defines no HEALTHCHECK; add --health-cmd to the run args" \
                        "or allow scanners without a healthcheck"
                fi
                if [[ $status == running && $previous == "running ${restarts}" ]]; then
                    log "container '${SCANNER_CONTAINER_NAME}' is running (no healthcheck defined)"
                    return 0
                fi
                previous="${status} ${restarts}"
            fi
        else
            last='container missing'
        fi
        if ((SECONDS > deadline)); then  # SECONDS counts whole seconds: never stop early
            die "scanner container '${SCANNER_CONTAINER_NAME}' did not become healthy within" \
                "${SCANNER_HEALTH_TIMEOUT_SECONDS}s (${last}); see 'docker logs ${SCANNER_CONTAINER_NAME}' on the node"
        fi
        sleep "$SCANNER_HEALTH_POLL_INTERVAL_SECONDS"
    done
}

main() {
    [[ $START_TASK_RENDERED == true ]] ||
        die "this start task is an unrendered template; upload the output of components/start_task.py"
    if [[ $SCANNER_ENABLED != true ]]; then
        log "no image scanner configured; nothing to do"
        return 0
    fi
    local tool
    for tool in curl docker python3; do
        command -v "$tool" >/dev/null 2>&1 || die "'${tool}' not found on this node image; the scanner needs it"
    done
    wait_for_docker

    local state image status
    if state=$(container_state); then
        read -r image status _ <<<"$state"
        if [[ $image == "$SCANNER_IMAGE" && $status == running ]]; then
            log "container '${SCANNER_CONTAINER_NAME}' already runs ${SCANNER_IMAGE} (start task re-run); checking health"
            wait_until_healthy
            return 0
        fi
        log "replacing container '${SCANNER_CONTAINER_NAME}' (image=${image} status=${status})"
        docker rm --force "$SCANNER_CONTAINER_NAME" >/dev/null ||
            die "cannot remove stale container '${SCANNER_CONTAINER_NAME}'"
    fi

    trap cleanup EXIT
    imds_token "https://${KEY_VAULT_DNS_SUFFIX}"
    fetch_secrets
    login_and_pull
    run_scanner
    wait_until_healthy
}

main "$@"
