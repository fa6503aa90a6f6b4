#!/usr/bin/env bash
# Deletes everything deploy.sh created by deleting its resource group: the cluster (with the
# node resource group that AKS manages), Service Bus, Cosmos DB, the registry and the
# identities with their federated credentials and role assignments. Then removes the local
# kubeconfig and the state file. Safe to run again.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    cat <<EOF
usage: ${0##*/} [--state FILE] [--no-wait] [--dry-run]

  --state FILE  state file that deploy.sh wrote (default: .state/deploy.env in the repository)
  --no-wait     return once Azure accepted the deletion instead of waiting for it (minutes)
  --dry-run     print every az command instead of running it
EOF
}

main() {
    local state="" wait=(--yes)
    while (($# > 0)); do
        case "$1" in
            --state) state="${2:?--state needs a value}"; shift 2 ;;
            --no-wait) wait=(--yes --no-wait); shift ;;
            --dry-run) DRY_RUN=1; shift ;;
            -h | --help) usage; exit 0 ;;
            *) usage_error "unknown option \"$1\"" ;;
        esac
    done
    exec 3>&1

    STATE_FILE="${state:-$(state_default_path)}"
    if ! state_load "$STATE_FILE"; then
        log "no state file $STATE_FILE: nothing to clean up (pass --state FILE for another deployment)"
        return 0
    fi
    ((DRY_RUN)) || require_tools az
    require_subscription

    local exists
    exists="$(capture true az group exists --name "$RESOURCE_GROUP")"
    if [[ "$exists" == true ]]; then
        log "deleting resource group $RESOURCE_GROUP and everything in it"
        run az group delete --name "$RESOURCE_GROUP" "${wait[@]}"
    else
        log "resource group $RESOURCE_GROUP does not exist"
    fi

    if ((DRY_RUN)); then
        log "dry run: nothing was deleted"
    elif ((${#wait[@]} > 1)); then
        log "the deletion goes on in Azure; $STATE_FILE is kept until a run without --no-wait"
    else
        rm -f "${KUBECONFIG_FILE:-}" "$STATE_FILE"
        log "removed ${KUBECONFIG_FILE:-the kubeconfig} and $STATE_FILE"
    fi
}

main "$@"
