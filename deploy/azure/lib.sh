# shellcheck shell=bash
# The variables set here are read by the scripts that source this file.
# shellcheck disable=SC2034
# Shared helpers of deploy.sh, load-test.sh and cleanup.sh: command echo and dry run, the
# state file, resource names, and the checks that run before anything touches Azure.
#
# Every az and kubectl call goes through run, capture or probe. Each prints the command
# first, as a copy-pasteable line starting with "+ ", to stderr, or to stdout under
# --dry-run. The main scripts run "exec 3>&1" before any of them. Under --dry-run nothing runs: capture returns a placeholder value and probe
# reports "missing", so the dry run prints every command that a first deployment runs.

DEPLOY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DEPLOY_NAMESPACE=event-workload
DEPLOY_QUEUE=orders
DEPLOY_DATABASE=workload
DEPLOY_CONTAINER=results
DRY_RUN=0
# 0 stops the echo of commands that run (load-test.sh samples quietly); dry runs always echo.
ECHO_COMMANDS=1
# Set by state_load or state_default_path; deploy.sh changes it with --state FILE.
STATE_FILE=""

log() {
    printf '%s: %s\n' "${0##*/}" "$*" >&2
}

die() {
    log "$*"
    exit 1
}

# Exits with status 2, as for any invalid option, naming the option and the fix.
usage_error() {
    log "$*"
    log "run ${0##*/} --help for the options"
    exit 2
}

# Prints the arguments as one shell command line, quoting only the words that need it.
format_command() {
    local word line=""
    for word in "$@"; do
        if [[ "$word" =~ ^[A-Za-z0-9_./:=@,+%-]+$ ]]; then
            line+="$word "
        else
            line+="'${word//\'/\'\\\'\'}' "
        fi
    done
    printf '%s\n' "${line% }"
}

# Prints the command line with a "+ " mark: under --dry-run to file descriptor 3, which
# the main scripts open on their stdout (so $(...) never captures it), else to stderr.
echo_command() {
    if ((DRY_RUN)); then
        printf '+ %s\n' "$(format_command "$@")" >&3
    elif ((ECHO_COMMANDS)); then
        printf '+ %s\n' "$(format_command "$@")" >&2
    fi
}

# Runs a command that changes something; under --dry-run only prints it.
run() {
    echo_command "$@"
    ((DRY_RUN)) && return 0
    "$@"
}

# Runs a command and prints its output, for use in $(...). Under --dry-run it only prints
# the command and outputs PLACEHOLDER in place of the command's output.
#   value="$(capture PLACEHOLDER az ... --query id -o tsv)"
capture() {
    local placeholder="$1"
    shift
    echo_command "$@"
    if ((DRY_RUN)); then
        printf '%s\n' "$placeholder"
        return 0
    fi
    "$@"
}

# Returns 0 when the read-only command succeeds, that is when the resource it shows exists.
# Under --dry-run prints the command and returns 1, so the create that follows is printed.
probe() {
    echo_command "$@"
    ((DRY_RUN)) && return 1
    "$@" >/dev/null 2>&1
}

# Makes a random suffix of six lowercase hex digits. od reads bytes, so the result does not
# depend on the locale, unlike tr on /dev/urandom, which fails on invalid UTF-8 input.
random_suffix() {
    od -An -N3 -tx1 /dev/urandom | tr -d ' \n'
}

# Checks that a name prefix can build every resource name: 3 to 10 lowercase letters and
# digits, starting with a letter (ACR names allow only letters and digits).
check_prefix() {
    [[ "$1" =~ ^[a-z][a-z0-9]{2,9}$ ]] ||
        usage_error "invalid --name \"$1\": expected 3 to 10 lowercase letters and digits, starting with a letter"
}

# Sets the resource names from PREFIX and SUFFIX. Names stay the same on every run because
# the suffix is kept in the state file.
derive_names() {
    RESOURCE_GROUP="rg-$PREFIX-$SUFFIX"
    SERVICEBUS_NAMESPACE="sb-$PREFIX-$SUFFIX"
    COSMOS_ACCOUNT="cosmos-$PREFIX-$SUFFIX"
    ACR_NAME="acr$PREFIX$SUFFIX"
    AKS_NAME="aks-$PREFIX-$SUFFIX"
    PRODUCER_IDENTITY="id-$PREFIX-$SUFFIX-producer"
    CONSUMER_IDENTITY="id-$PREFIX-$SUFFIX-consumer"
    KEDA_IDENTITY="id-$PREFIX-$SUFFIX-keda"
}

state_default_path() {
    printf '%s\n' "$DEPLOY_ROOT/.state/deploy.env"
}

# Keys of the state file, in the order they are written. The file is KEY=VALUE lines,
# the format of kustomize's env files, so the aks overlay reads it as its values.env.
STATE_KEYS=(PREFIX SUFFIX LOCATION SUBSCRIPTION_ID TENANT_ID RESOURCE_GROUP SERVICEBUS_NAMESPACE
    SERVICEBUS_FQDN SERVICEBUS_QUEUE COSMOS_ACCOUNT COSMOS_ENDPOINT COSMOS_DATABASE
    COSMOS_CONTAINER ACR_NAME AKS_NAME KUBECONFIG_FILE IMAGE_TAG CONSUMER_IMAGE PRODUCER_IMAGE
    CONSUMER_CLIENT_ID PRODUCER_CLIENT_ID KEDA_CLIENT_ID)

# Reads the state file into variables without evaluating it: every line must be KEY=VALUE
# with a known key and a value of letters, digits and . _ : / @ + = - characters.
state_load() {
    local file="$1" line key value number=0
    [[ -f "$file" ]] || return 1
    while IFS= read -r line || [[ -n "$line" ]]; do
        number=$((number + 1))
        [[ -z "$line" || "$line" == \#* ]] && continue
        if [[ ! "$line" =~ ^([A-Z_]+)=([A-Za-z0-9._:/@+=-]*)$ ]]; then
            die "invalid line $number in state file $file: expected KEY=VALUE; fix or delete the file"
        fi
        key="${BASH_REMATCH[1]}"
        value="${BASH_REMATCH[2]}"
        if [[ " ${STATE_KEYS[*]} " != *" $key "* ]]; then
            die "unknown key $key on line $number of state file $file; fix or delete the file"
        fi
        printf -v "$key" '%s' "$value"
    done <"$file"
    STATE_FILE="$file"
}

# Writes every state key that is set, atomically: a reader never sees half a file.
state_save() {
    local file="$1" key temporary
    ((DRY_RUN)) && return 0
    mkdir -p "$(dirname "$file")"
    temporary="$(mktemp "$file.XXXXXX")"
    {
        echo "# Written by deploy/azure/deploy.sh; read by load-test.sh and cleanup.sh."
        for key in "${STATE_KEYS[@]}"; do
            [[ -n "${!key:-}" ]] && printf '%s=%s\n' "$key" "${!key}"
        done
    } >"$temporary"
    mv "$temporary" "$file"
}

# Fails unless every named tool is on PATH, naming the missing ones.
require_tools() {
    local tool missing=()
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
    done
    ((${#missing[@]} == 0)) || die "missing tools: ${missing[*]}; install them and run again"
}

# Fails unless the Azure CLI is at least version 2.76.0, the first with generally
# available node autoprovisioning (--node-provisioning-mode without the aks-preview
# extension or the NodeAutoProvisioningPreview feature flag).
require_az_version() {
    local version
    version="$(capture 2.76.0 az version --query '"azure-cli"' -o tsv)"
    if [[ "$(printf '%s\n%s\n' 2.76.0 "$version" | sort -V | head -n 1)" != 2.76.0 ]]; then
        die "Azure CLI $version is too old: 2.76.0 or later is needed; run az upgrade"
    fi
}

# Fails unless az is logged in, and sets SUBSCRIPTION_ID and TENANT_ID.
require_login() {
    local account
    account="$(capture '00000000-0000-0000-0000-000000000000 11111111-1111-1111-1111-111111111111' \
        az account show --query '[id, tenantId]' -o tsv)" ||
        die "az is not logged in; run az login (and az account set --subscription ID) first"
    read -r SUBSCRIPTION_ID TENANT_ID <<<"$(tr '\n\t' '  ' <<<"$account")"
    [[ -n "$SUBSCRIPTION_ID" && -n "$TENANT_ID" ]] || die "az account show returned no subscription; run az login"
}

# Copies deploy/k8s into DIR, writes the aks overlay's values.env from the current values
# and prints the path of the copied overlay. The checked-in example values stay untouched.
prepare_overlay() {
    local dir="$1" key values
    cp -R "$DEPLOY_ROOT/deploy/k8s" "$dir/k8s"
    values="$dir/k8s/overlays/aks/values.env"
    : >"$values"
    for key in CONSUMER_IMAGE PRODUCER_IMAGE CONSUMER_CLIENT_ID PRODUCER_CLIENT_ID KEDA_CLIENT_ID \
        SERVICEBUS_NAMESPACE SERVICEBUS_FQDN SERVICEBUS_QUEUE COSMOS_ENDPOINT COSMOS_DATABASE \
        COSMOS_CONTAINER; do
        [[ -n "${!key:-}" ]] || die "no value for $key; run deploy/azure/deploy.sh first"
        printf '%s=%s\n' "$key" "${!key}" >>"$values"
    done
    printf '%s\n' "$dir/k8s/overlays/aks"
}

# Like require_login, and also fails when az is on another subscription than the one in
# the state file, so that no command reaches the wrong subscription.
require_subscription() {
    local deployed="${SUBSCRIPTION_ID:-}"
    require_login
    if ((!DRY_RUN)) && [[ -n "$deployed" && "$deployed" != "$SUBSCRIPTION_ID" ]]; then
        die "az is on subscription $SUBSCRIPTION_ID but the deployment is in $deployed; run az account set --subscription $deployed"
    fi
}
