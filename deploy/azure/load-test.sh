#!/usr/bin/env bash
# Runs the producer Job against the deployment that deploy.sh made. Until the queue is
# drained and KEDA has scaled the consumer back to zero, it records a timeline of the queue
# depth, the consumer replicas, the NodePool's nodes and the Job's progress. Prints the drain
# time and the time to scale to zero, and writes timeline.csv and the Karpenter events into
# a directory beside the state file.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    cat <<EOF
usage: ${0##*/} [--state FILE] [--count N] [--batches B] [--parallelism P] [--rate R]
                    [--interval SECONDS] [--timeout SECONDS] [--dry-run]

  --state FILE        state file that deploy.sh wrote (default: .state/deploy.env in the repository)
  --count N           messages in total, a multiple of --batches (default: 20000)
  --batches B         producer pods, each sending N/B messages (default: 10)
  --parallelism P     producer pods that run at the same time (default: 2)
  --rate R            messages per second per producer pod, 0 for no limit (default: 0)
  --interval SECONDS  time between two samples of the timeline (default: 15)
  --timeout SECONDS   give up when the consumer has not scaled to zero by then (default: 3600)
  --dry-run           print every az and kubectl command of one sample instead of running it
EOF
}

# Checks that option NAME has a whole number from MIN up.
check_number() {
    local name="$1" value="$2" min="$3"
    if [[ ! "$value" =~ ^[0-9]+$ ]] || ((value < min)); then
        usage_error "invalid $name \"$value\": expected a whole number of at least $min"
    fi
}

# Renders the producer Job of the aks overlay with this run's count, rate and batches.
render_job() {
    local count_per_pod="$1" overlay
    overlay="$(prepare_overlay "$WORK_DIR")"
    cat >"$overlay/load-test-patch.yaml" <<EOF
apiVersion: batch/v1
kind: Job
metadata:
  name: producer
  namespace: $DEPLOY_NAMESPACE
spec:
  suspend: false
  completions: $BATCHES
  parallelism: $PARALLELISM
  template:
    spec:
      containers:
        - name: producer
          env:
            - name: PRODUCER_COUNT
              value: "$count_per_pod"
            - name: PRODUCER_RATE
              value: "$RATE"
EOF
    printf 'patches:\n  - path: load-test-patch.yaml\n' >>"$overlay/kustomization.yaml"
    echo_command kubectl kustomize "$overlay"
    kubectl kustomize "$overlay" >"$WORK_DIR/job.yaml"
}

# Prints one timeline row: elapsed seconds, active messages, consumer replicas (desired and
# ready), NodePool nodes and producer pods that succeeded.
sample() {
    local elapsed="$1" active replicas ready nodes succeeded
    active="$(capture 0 az servicebus queue show --resource-group "$RESOURCE_GROUP" \
        --namespace-name "$SERVICEBUS_NAMESPACE" --name "$SERVICEBUS_QUEUE" \
        --query countDetails.activeMessageCount -o tsv)"
    replicas="$(capture 0 kubectl "${KUBECTL_ARGS[@]}" get deployment consumer \
        -o 'jsonpath={.status.replicas}')"
    ready="$(capture 0 kubectl "${KUBECTL_ARGS[@]}" get deployment consumer \
        -o 'jsonpath={.status.readyReplicas}')"
    nodes="$(capture '' kubectl "${KUBECTL_ARGS[@]}" get nodes \
        --selector karpenter.sh/nodepool=workload -o name | grep -c . || true)"
    succeeded="$(capture 0 kubectl "${KUBECTL_ARGS[@]}" get job producer \
        -o 'jsonpath={.status.succeeded}')"
    printf '%s,%s,%s,%s,%s,%s\n' "$elapsed" "${active:-0}" "${replicas:-0}" "${ready:-0}" \
        "$nodes" "${succeeded:-0}"
}

# Writes the NodePool and NodeClaim events (node launches, registrations, consolidation).
save_events() {
    local file="$1" kind
    for kind in NodePool NodeClaim; do
        capture '' kubectl "${KUBECTL_ARGS[@]}" get events --all-namespaces \
            --field-selector "involvedObject.kind=$kind" --sort-by .lastTimestamp \
            -o 'custom-columns=TIME:.lastTimestamp,KIND:.involvedObject.kind,NAME:.involvedObject.name,REASON:.reason,MESSAGE:.message'
    done >"$file"
}

main() {
    local state="" count=20000
    BATCHES=10 PARALLELISM=2 RATE=0
    local interval=15 timeout=3600
    while (($# > 0)); do
        case "$1" in
            --state) state="${2:?--state needs a value}"; shift 2 ;;
            --count) count="${2:?--count needs a value}"; shift 2 ;;
            --batches) BATCHES="${2:?--batches needs a value}"; shift 2 ;;
            --parallelism) PARALLELISM="${2:?--parallelism needs a value}"; shift 2 ;;
            --rate) RATE="${2:?--rate needs a value}"; shift 2 ;;
            --interval) interval="${2:?--interval needs a value}"; shift 2 ;;
            --timeout) timeout="${2:?--timeout needs a value}"; shift 2 ;;
            --dry-run) DRY_RUN=1; shift ;;
            -h | --help) usage; exit 0 ;;
            *) usage_error "unknown option \"$1\"" ;;
        esac
    done
    exec 3>&1
    check_number --count "$count" 1
    check_number --batches "$BATCHES" 1
    check_number --parallelism "$PARALLELISM" 1
    check_number --rate "$RATE" 0
    check_number --interval "$interval" 1
    check_number --timeout "$timeout" 1
    ((count % BATCHES == 0)) ||
        usage_error "invalid --count $count: expected a multiple of --batches $BATCHES"

    STATE_FILE="${state:-$(state_default_path)}"
    state_load "$STATE_FILE" || die "no state file $STATE_FILE; run deploy/azure/deploy.sh first"
    require_tools kubectl
    ((DRY_RUN)) || require_tools az
    require_subscription
    KUBECTL_ARGS=(--kubeconfig "$KUBECONFIG_FILE" --namespace "$DEPLOY_NAMESPACE")
    WORK_DIR="$(mktemp -d)"
    trap 'rm -rf "$WORK_DIR"' EXIT

    local output timeline
    output="$(dirname "$STATE_FILE")/load-test-$(date -u +%Y%m%dT%H%M%SZ)"
    timeline="$output/timeline.csv"
    ((DRY_RUN)) || mkdir -p "$output"

    render_job $((count / BATCHES))
    # A Job's pod template cannot change, so the previous run's Job is deleted first.
    run kubectl "${KUBECTL_ARGS[@]}" delete job producer --ignore-not-found --wait=true
    run kubectl "${KUBECTL_ARGS[@]}" apply --server-side --field-manager load-test.sh \
        --selector app.kubernetes.io/component=load-generator -f "$WORK_DIR/job.yaml"
    log "sending $count messages in $BATCHES batches, $PARALLELISM at a time"

    local start=$SECONDS row elapsed active replicas succeeded drained="" zero="" peak=0
    local header="elapsed_s,active_messages,consumer_replicas,ready_replicas,workload_nodes,producer_pods_succeeded"
    if ((DRY_RUN)); then
        log "dry run: the Job that would be applied:"
        cat "$WORK_DIR/job.yaml" >&2
        sample 0 >/dev/null
        save_events /dev/null
        log "dry run: one sample printed; nothing was changed"
        return 0
    fi
    printf '%s\n' "$header" | tee "$timeline"
    while true; do
        elapsed=$((SECONDS - start))
        if ! row="$(sample "$elapsed")"; then
            log "sampling failed at $elapsed s; trying again in $interval s"
            sleep "$interval"
            continue
        fi
        # The first sample shows its commands; later ones would repeat them.
        ECHO_COMMANDS=0
        printf '%s\n' "$row" | tee -a "$timeline"
        IFS=, read -r _ active replicas _ _ succeeded <<<"$row"
        ((replicas > peak)) && peak=$replicas
        # Drained: every producer pod finished and no message is left.
        if [[ -z "$drained" ]] && ((succeeded >= BATCHES && active == 0)); then
            drained=$elapsed
            log "queue drained after $drained s with at most $peak consumer replicas"
        fi
        if [[ -n "$drained" ]] && ((replicas == 0)); then
            zero=$elapsed
            break
        fi
        if ((elapsed >= timeout)); then
            save_events "$output/events.txt"
            die "timed out after $timeout s (drained: ${drained:-no}); timeline in $timeline"
        fi
        sleep "$interval"
    done
    save_events "$output/events.txt"
    log "drain time $drained s; scaled to zero after $zero s; peak $peak consumer replicas"
    log "timeline in $timeline, Karpenter events in $output/events.txt"
}

main "$@"
