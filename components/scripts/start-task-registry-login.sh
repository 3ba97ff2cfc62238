# >>> registry login (components/start_task.py splices this in before `main` for TES 3.2 pools)
# TES 3.2 pulls blobxfer and task images with the node's Docker, as the pool's admin auto-user, without credentials
# whenever it cannot list a registry's admin keys (CromwellOnAzure@3.2.0:src/TesApi.Web/BatchScheduler.cs:701-736,
# AzureProxy.cs:549-566); the stack's registry has no admin user. So this start task, run as that same auto-user
# (AzureProxy.cs:903, BatchScheduler.cs:780), logs its Docker in with the pool identity (AcrPull): an Entra token from
# IMDS is exchanged for the registry's refresh token, which lives three hours; TES 3.2 gives every task a pool of its
# own, so the task's pulls follow the login within minutes.
REGISTRY_LOGIN_SERVER=''

registry_login() {
    local response attempt refresh=''
    imds_token "https://management.azure.com/"
    for ((attempt = 1; attempt <= RETRY_ATTEMPTS; attempt++)); do
        # The Entra token goes to curl on stdin, never on argv.
        response=$(printf 'grant_type=access_token&service=%s&access_token=%s' "$REGISTRY_LOGIN_SERVER" \
            "$ACCESS_TOKEN" | curl --disable --silent --show-error --max-time 30 --data @- \
            --write-out '\n%{http_code}' "https://${REGISTRY_LOGIN_SERVER}/oauth2/exchange") || true
        split_response "$response"
        case $HTTP_CODE in
            200)
                refresh=$(printf '%s' "$HTTP_BODY" | json_get refresh_token) ||
                    die "registry ${REGISTRY_LOGIN_SERVER} returned no refresh_token for the pool identity"
                break
                ;;
            000 | 429 | 5??)
                log "registry token exchange attempt ${attempt}/${RETRY_ATTEMPTS} failed (HTTP ${HTTP_CODE})"
                ;;
            *)
                die "registry ${REGISTRY_LOGIN_SERVER} refused the pool identity's token (HTTP ${HTTP_CODE}:" \
                    "$(error_reason "$HTTP_BODY")); it needs AcrPull on the registry"
                ;;
        esac
        pause_before_retry "$attempt"
    done
    ACCESS_TOKEN=''
    [[ -n $refresh ]] || die "registry ${REGISTRY_LOGIN_SERVER} unreachable after ${RETRY_ATTEMPTS} attempts" \
        "(last HTTP ${HTTP_CODE}); check its private endpoint and DNS from the Batch subnet"
    # The well-known user name for a refresh token; the password reaches docker on stdin only.
    if ! printf '%s' "$refresh" | docker login --username 00000000-0000-0000-0000-000000000000 --password-stdin \
        "$REGISTRY_LOGIN_SERVER" >/dev/null 2>&1; then
        die "docker login to ${REGISTRY_LOGIN_SERVER} with the pool identity's refresh token failed"
    fi
    log "docker logged in to ${REGISTRY_LOGIN_SERVER} as the pool identity for $(id -un)"
}

wait_for_docker
registry_login
# <<< registry login
