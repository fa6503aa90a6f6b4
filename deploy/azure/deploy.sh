#!/usr/bin/env bash
# Deploys the workload to Azure. It creates Service Bus, serverless Cosmos DB, a container
# registry and an AKS cluster with workload identity, the KEDA add-on and node
# autoprovisioning. Then it creates one user-assigned identity per workload with federated
# credentials and least-privilege roles, builds the two images and applies the Kubernetes
# manifests. Safe to run again: it creates only what is missing and reuses the names kept in
# the state file.
#
# Values set here reach the state file and values.env through ${!key}, which shellcheck
# does not follow.
# shellcheck disable=SC2034
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    cat <<EOF
usage: ${0##*/} [--name PREFIX] [--location REGION] [--state FILE] [--suffix HEX]
                 [--image-tag TAG] [--skip-images] [--dry-run]

  --name PREFIX     prefix of every resource name, 3 to 10 lowercase letters and digits
                    (default: evwl; a state file's value wins)
  --location REGION Azure region of every resource (default: eastus2; a state file's value wins)
  --state FILE      state file to read and write (default: .state/deploy.env in the repository)
  --suffix HEX      suffix of the resource names on a first run (default: 6 random hex digits)
  --image-tag TAG   tag of the two images (default: the git commit, with -dirty for local changes)
  --skip-images     do not build the images; the manifests use the tag already in the state
  --dry-run         print every az and kubectl command instead of running it
EOF
}

# Sets the image tag from git unless --image-tag gave one. Never "latest": a tag that names
# a commit makes every rollout reproducible.
default_image_tag() {
    local tag
    tag="$(git -C "$DEPLOY_ROOT" rev-parse --short=12 HEAD 2>/dev/null)" ||
        usage_error "$DEPLOY_ROOT is not a git checkout, so no commit names the images; pass --image-tag TAG"
    if ! git -C "$DEPLOY_ROOT" diff --quiet HEAD 2>/dev/null; then
        tag+="-dirty"
    fi
    printf '%s\n' "$tag"
}

# Registers a resource provider unless its state is exactly "Registered". A pattern match
# would also accept "NotRegistered" and "Unregistered".
register_provider() {
    local namespace="$1" state
    state="$(capture NotRegistered az provider show --namespace "$namespace" \
        --query registrationState -o tsv)"
    if [[ "$state" != Registered ]]; then
        run az provider register --namespace "$namespace" --wait
    fi
}

create_resource_group() {
    probe az group show --name "$RESOURCE_GROUP" ||
        run az group create --name "$RESOURCE_GROUP" --location "$LOCATION" \
            --tags workload=event-workload -o none
}

# A Standard namespace (queues with dead-lettering) that accepts only Entra tokens: no SAS
# key can reach it. The queue's lock lasts 1 minute, a message is dead-lettered after 10
# deliveries or when its day-long time to live expires.
create_servicebus() {
    probe az servicebus namespace show --resource-group "$RESOURCE_GROUP" --name "$SERVICEBUS_NAMESPACE" ||
        run az servicebus namespace create --resource-group "$RESOURCE_GROUP" \
            --name "$SERVICEBUS_NAMESPACE" --location "$LOCATION" --sku Standard \
            --disable-local-auth true -o none
    probe az servicebus queue show --resource-group "$RESOURCE_GROUP" \
        --namespace-name "$SERVICEBUS_NAMESPACE" --name "$SERVICEBUS_QUEUE" ||
        run az servicebus queue create --resource-group "$RESOURCE_GROUP" \
            --namespace-name "$SERVICEBUS_NAMESPACE" --name "$SERVICEBUS_QUEUE" \
            --lock-duration PT1M --max-delivery-count 10 --default-message-time-to-live P1D \
            --enable-dead-lettering-on-message-expiration true -o none
    QUEUE_ID="$(capture "/subscriptions/$SUBSCRIPTION_ID/resourceGroups/$RESOURCE_GROUP/providers/Microsoft.ServiceBus/namespaces/$SERVICEBUS_NAMESPACE/queues/$SERVICEBUS_QUEUE" \
        az servicebus queue show --resource-group "$RESOURCE_GROUP" \
        --namespace-name "$SERVICEBUS_NAMESPACE" --name "$SERVICEBUS_QUEUE" --query id -o tsv)"
    SERVICEBUS_FQDN="$SERVICEBUS_NAMESPACE.servicebus.windows.net"
}

# A serverless account (billed per request, nothing provisioned) whose data plane accepts
# only Entra tokens. The database and container are created through Azure Resource Manager,
# because Entra tokens cannot create them on the data plane.
create_cosmos() {
    probe az cosmosdb show --resource-group "$RESOURCE_GROUP" --name "$COSMOS_ACCOUNT" ||
        run az cosmosdb create --resource-group "$RESOURCE_GROUP" --name "$COSMOS_ACCOUNT" \
            --locations regionName="$LOCATION" failoverPriority=0 isZoneRedundant=false \
            --capabilities EnableServerless --default-consistency-level Session -o none
    COSMOS_ID="$(capture "/subscriptions/$SUBSCRIPTION_ID/resourceGroups/$RESOURCE_GROUP/providers/Microsoft.DocumentDB/databaseAccounts/$COSMOS_ACCOUNT" \
        az cosmosdb show --resource-group "$RESOURCE_GROUP" --name "$COSMOS_ACCOUNT" --query id -o tsv)"
    run az resource update --ids "$COSMOS_ID" --set properties.disableLocalAuth=true -o none
    probe az cosmosdb sql database show --resource-group "$RESOURCE_GROUP" \
        --account-name "$COSMOS_ACCOUNT" --name "$COSMOS_DATABASE" ||
        run az cosmosdb sql database create --resource-group "$RESOURCE_GROUP" \
            --account-name "$COSMOS_ACCOUNT" --name "$COSMOS_DATABASE" -o none
    probe az cosmosdb sql container show --resource-group "$RESOURCE_GROUP" \
        --account-name "$COSMOS_ACCOUNT" --database-name "$COSMOS_DATABASE" --name "$COSMOS_CONTAINER" ||
        run az cosmosdb sql container create --resource-group "$RESOURCE_GROUP" \
            --account-name "$COSMOS_ACCOUNT" --database-name "$COSMOS_DATABASE" \
            --name "$COSMOS_CONTAINER" --partition-key-path /id -o none
    COSMOS_ENDPOINT="https://$COSMOS_ACCOUNT.documents.azure.com:443/"
}

create_registry() {
    probe az acr show --resource-group "$RESOURCE_GROUP" --name "$ACR_NAME" ||
        run az acr create --resource-group "$RESOURCE_GROUP" --name "$ACR_NAME" \
            --location "$LOCATION" --sku Basic --admin-enabled false -o none
}

# The system pool keeps only cluster add-ons (taint CriticalAddonsOnly), so every workload
# pod waits for a node that node autoprovisioning adds from the NodePool "workload". Node
# autoprovisioning needs Azure CNI overlay with the Cilium data plane. --attach-acr grants
# the kubelet identity AcrPull on this registry only.
create_cluster() {
    probe az aks show --resource-group "$RESOURCE_GROUP" --name "$AKS_NAME" ||
        run az aks create --resource-group "$RESOURCE_GROUP" --name "$AKS_NAME" \
            --location "$LOCATION" \
            --nodepool-name system --node-count 2 --node-vm-size Standard_D2s_v5 \
            --nodepool-taints CriticalAddonsOnly=true:NoSchedule \
            --enable-oidc-issuer --enable-workload-identity --enable-keda \
            --node-provisioning-mode Auto \
            --network-plugin azure --network-plugin-mode overlay --network-dataplane cilium \
            --attach-acr "$ACR_NAME" --generate-ssh-keys -o none
    OIDC_ISSUER="$(capture "https://$LOCATION.oic.prod-aks.azure.com/$TENANT_ID/00000000-0000-0000-0000-000000000000/" \
        az aks show --resource-group "$RESOURCE_GROUP" --name "$AKS_NAME" \
        --query oidcIssuerProfile.issuerUrl -o tsv)"
    [[ -n "$OIDC_ISSUER" ]] ||
        die "cluster $AKS_NAME has no OIDC issuer; run az aks update --resource-group $RESOURCE_GROUP --name $AKS_NAME --enable-oidc-issuer --enable-workload-identity"
    KUBECONFIG_FILE="$(dirname "$STATE_FILE")/$AKS_NAME.kubeconfig"
    run az aks get-credentials --resource-group "$RESOURCE_GROUP" --name "$AKS_NAME" \
        --file "$KUBECONFIG_FILE" --overwrite-existing
}

# Creates a user-assigned identity unless it exists and prints "CLIENT_ID PRINCIPAL_ID".
create_identity() {
    local name="$1"
    probe az identity show --resource-group "$RESOURCE_GROUP" --name "$name" ||
        run az identity create --resource-group "$RESOURCE_GROUP" --name "$name" \
            --location "$LOCATION" -o none
    capture "<client-id-of-$name> <principal-id-of-$name>" az identity show \
        --resource-group "$RESOURCE_GROUP" --name "$name" --query '[clientId, principalId]' -o tsv |
        tr '\n\t' '  '
}

# Lets the Kubernetes service account SUBJECT exchange its token for the identity's.
federate_identity() {
    local identity="$1" credential="$2" subject="$3"
    probe az identity federated-credential show --resource-group "$RESOURCE_GROUP" \
        --identity-name "$identity" --name "$credential" ||
        run az identity federated-credential create --resource-group "$RESOURCE_GROUP" \
            --identity-name "$identity" --name "$credential" --issuer "$OIDC_ISSUER" \
            --subject "$subject" --audiences api://AzureADTokenExchange -o none
}

# Assigns an Azure role to a service principal at one scope unless it is assigned already.
# The list filters on principalId instead of --assignee, which asks Microsoft Graph and can
# fail for an identity created seconds ago.
assign_role() {
    local principal="$1" role="$2" scope="$3" count
    count="$(capture 0 az role assignment list --role "$role" --scope "$scope" \
        --query "length([?principalId=='$principal'])" -o tsv)"
    if [[ "$count" == 0 ]]; then
        run az role assignment create --assignee-object-id "$principal" \
            --assignee-principal-type ServicePrincipal --role "$role" --scope "$scope" -o none
    fi
}

# Assigns the Cosmos DB Built-in Data Contributor data-plane role (definition id ...0002:
# read and write items, no account or container management) on the one container.
assign_cosmos_role() {
    local principal="$1" scope="/dbs/$COSMOS_DATABASE/colls/$COSMOS_CONTAINER" count
    count="$(capture 0 az cosmosdb sql role assignment list --resource-group "$RESOURCE_GROUP" \
        --account-name "$COSMOS_ACCOUNT" \
        --query "length([?principalId=='$principal' && ends_with(scope, '$scope')])" -o tsv)"
    if [[ "$count" == 0 ]]; then
        run az cosmosdb sql role assignment create --resource-group "$RESOURCE_GROUP" \
            --account-name "$COSMOS_ACCOUNT" \
            --role-definition-id 00000000-0000-0000-0000-000000000002 \
            --principal-id "$principal" --scope "$scope" -o none
    fi
}

# One identity per workload, each with only the rights it uses.
create_identities() {
    local producer consumer keda
    read -r PRODUCER_CLIENT_ID producer <<<"$(create_identity "$PRODUCER_IDENTITY")"
    read -r CONSUMER_CLIENT_ID consumer <<<"$(create_identity "$CONSUMER_IDENTITY")"
    read -r KEDA_CLIENT_ID keda <<<"$(create_identity "$KEDA_IDENTITY")"
    # A failed az call inside the here-strings above leaves a value empty instead of
    # stopping the script, so check every one.
    local value
    for value in "$PRODUCER_CLIENT_ID" "$producer" "$CONSUMER_CLIENT_ID" "$consumer" \
        "$KEDA_CLIENT_ID" "$keda"; do
        [[ -n "$value" ]] || die "az identity show returned no client or principal id; see the error above"
    done

    federate_identity "$PRODUCER_IDENTITY" producer "system:serviceaccount:$DEPLOY_NAMESPACE:producer"
    federate_identity "$CONSUMER_IDENTITY" consumer "system:serviceaccount:$DEPLOY_NAMESPACE:consumer"
    # The KEDA add-on's operator, not the consumer, reads the queue length.
    federate_identity "$KEDA_IDENTITY" keda-operator "system:serviceaccount:kube-system:keda-operator"

    assign_role "$producer" "Azure Service Bus Data Sender" "$QUEUE_ID"
    assign_role "$consumer" "Azure Service Bus Data Receiver" "$QUEUE_ID"
    # KEDA reads the queue's runtime properties (its active message count) through the
    # Service Bus management endpoint, which no built-in role below Data Owner allows.
    # NOTE: the scope is the queue alone; a role of only that read permission would be
    # narrower, but no built-in role has it.
    assign_role "$keda" "Azure Service Bus Data Owner" "$QUEUE_ID"
    assign_cosmos_role "$consumer"
}

# Builds both images in the registry (ACR Tasks) from the repository's Dockerfiles.
build_images() {
    local name
    for name in producer consumer; do
        run az acr build --registry "$ACR_NAME" --image "$name:$IMAGE_TAG" \
            --file "$DEPLOY_ROOT/Dockerfile.$name" "$DEPLOY_ROOT"
    done
}

# Renders the aks overlay with the values of this deployment and applies everything but the
# producer Job, which load-test.sh runs.
apply_manifests() {
    local overlay rendered="$WORK_DIR/rendered.yaml"
    CONSUMER_IMAGE="$ACR_NAME.azurecr.io/consumer:$IMAGE_TAG"
    PRODUCER_IMAGE="$ACR_NAME.azurecr.io/producer:$IMAGE_TAG"
    overlay="$(prepare_overlay "$WORK_DIR")"
    # Rendering only reads local files, so it runs under --dry-run too.
    echo_command kubectl kustomize "$overlay"
    kubectl kustomize "$overlay" >"$rendered"

    run kubectl --kubeconfig "$KUBECONFIG_FILE" apply --server-side --field-manager deploy.sh \
        --selector 'app.kubernetes.io/component!=load-generator' -f "$rendered"
    # The KEDA operator reads its federated token only at start: restart it so it uses the
    # identity federated above.
    run kubectl --kubeconfig "$KUBECONFIG_FILE" --namespace kube-system rollout restart \
        deployment/keda-operator
}

main() {
    local name="" location="" state="" suffix="" tag="" skip_images=0
    while (($# > 0)); do
        case "$1" in
            --name) name="${2:?--name needs a value}"; shift 2 ;;
            --location) location="${2:?--location needs a value}"; shift 2 ;;
            --state) state="${2:?--state needs a value}"; shift 2 ;;
            --suffix) suffix="${2:?--suffix needs a value}"; shift 2 ;;
            --image-tag) tag="${2:?--image-tag needs a value}"; shift 2 ;;
            --skip-images) skip_images=1; shift ;;
            --dry-run) DRY_RUN=1; shift ;;
            -h | --help) usage; exit 0 ;;
            *) usage_error "unknown option \"$1\"" ;;
        esac
    done
    exec 3>&1
    WORK_DIR="$(mktemp -d)"
    trap 'rm -rf "$WORK_DIR"' EXIT

    STATE_FILE="${state:-$(state_default_path)}"
    if state_load "$STATE_FILE"; then
        log "using the names in $STATE_FILE"
        if [[ -n "$name" && "$name" != "$PREFIX" ]]; then
            usage_error "--name $name differs from PREFIX=$PREFIX in $STATE_FILE; pass another --state FILE for a second deployment"
        fi
        if [[ -n "$location" && "$location" != "$LOCATION" ]]; then
            usage_error "--location $location differs from LOCATION=$LOCATION in $STATE_FILE; resources cannot move, so pass another --state FILE"
        fi
    fi
    require_tools kubectl
    [[ -n "$tag" ]] || require_tools git
    PREFIX="${PREFIX:-${name:-evwl}}"
    SUFFIX="${SUFFIX:-${suffix:-$(random_suffix)}}"
    LOCATION="${LOCATION:-${location:-eastus2}}"
    check_prefix "$PREFIX"
    [[ "$SUFFIX" =~ ^[a-f0-9]{4,8}$ ]] ||
        usage_error "invalid --suffix \"$SUFFIX\": expected 4 to 8 lowercase hex digits"
    [[ "$LOCATION" =~ ^[a-z0-9]+$ ]] ||
        usage_error "invalid --location \"$LOCATION\": expected a region name such as eastus2"
    derive_names
    SERVICEBUS_QUEUE="$DEPLOY_QUEUE"
    COSMOS_DATABASE="$DEPLOY_DATABASE"
    COSMOS_CONTAINER="$DEPLOY_CONTAINER"
    if [[ -n "$tag" ]]; then
        IMAGE_TAG="$tag"
    elif ((!skip_images)) || [[ -z "${IMAGE_TAG:-}" ]]; then
        IMAGE_TAG="$(default_image_tag)"
        if ((skip_images)); then
            log "warning: --skip-images without a tag in the state file; the manifests use tag $IMAGE_TAG, which must exist in the registry"
        fi
    fi
    [[ "$IMAGE_TAG" =~ ^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$ ]] ||
        usage_error "invalid --image-tag \"$IMAGE_TAG\": expected letters, digits, . _ and -"

    ((DRY_RUN)) || require_tools az
    require_az_version
    require_subscription
    log "deploying $PREFIX-$SUFFIX to $LOCATION in subscription $SUBSCRIPTION_ID"

    local provider
    for provider in Microsoft.ContainerService Microsoft.ContainerRegistry Microsoft.ServiceBus \
        Microsoft.DocumentDB Microsoft.ManagedIdentity Microsoft.Compute Microsoft.Network; do
        register_provider "$provider"
    done

    create_resource_group
    # Save the names now, so that a failed run resumes with the same ones.
    state_save "$STATE_FILE"
    create_servicebus
    create_cosmos
    create_registry
    create_cluster
    state_save "$STATE_FILE"
    create_identities
    if ((!skip_images)); then
        build_images
    fi
    apply_manifests
    state_save "$STATE_FILE"
    if ((DRY_RUN)); then
        log "dry run: nothing was changed, and $STATE_FILE was not written"
    else
        log "done: state in $STATE_FILE; run deploy/azure/load-test.sh to watch the scaling"
    fi
}

main "$@"
