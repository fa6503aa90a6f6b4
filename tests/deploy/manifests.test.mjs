// Checks what the aks overlay renders: workload identity wiring, probes, the shutdown grace
// period, the KEDA trigger and its authentication, and the NodePool's requirements and
// limits. Also checks the wiring of the local compose file. Each test is its own ctest
// entry (see CMakeLists.txt).
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { render, find, k8sRoot, repoRoot, parseYamlFile } from "./render.mjs";

const overlay = path.join(k8sRoot, "overlays/aks");
const objects = render(overlay);
const values = Object.fromEntries(
  fs.readFileSync(path.join(overlay, "values.env"), "utf8")
    .split("\n")
    .filter((line) => line && !line.startsWith("#"))
    .map((line) => line.split(/=(.*)/s).slice(0, 2)),
);

const deployment = find(objects, "Deployment", "consumer");
const job = find(objects, "Job", "producer");
const consumerPod = deployment.spec.template;
const consumerContainer = consumerPod.spec.containers.find((c) => c.name === "consumer");
const producerContainer = job.spec.template.spec.containers.find((c) => c.name === "producer");

function env(container, name) {
  const entry = container.env.find((e) => e.name === name);
  assert.ok(entry, `${container.name} has no env ${name}`);
  return entry.value;
}

// Parses a CONSUMER_SHUTDOWN_GRACE value: a bare number of seconds or "30s", "2m", "500ms".
function seconds(text) {
  const match = /^(\d+)(ms|s|m|h)?$/.exec(text);
  assert.ok(match, `invalid duration "${text}"`);
  const scale = { ms: 0.001, s: 1, m: 60, h: 3600 }[match[2] ?? "s"];
  return Number(match[1]) * scale;
}

test("workload identity label and annotation", () => {
  for (const [name, key] of [["consumer", "CONSUMER_CLIENT_ID"], ["producer", "PRODUCER_CLIENT_ID"]]) {
    const account = find(objects, "ServiceAccount", name);
    assert.equal(account.metadata.namespace, "event-workload");
    assert.equal(account.metadata.annotations["azure.workload.identity/client-id"], values[key]);
  }
  assert.equal(consumerPod.metadata.labels["azure.workload.identity/use"], "true");
  assert.equal(consumerPod.spec.serviceAccountName, "consumer");
  assert.equal(job.spec.template.metadata.labels["azure.workload.identity/use"], "true");
  assert.equal(job.spec.template.spec.serviceAccountName, "producer");
});

test("consumer probes on health port", () => {
  const port = consumerContainer.ports.find((p) => p.name === "health");
  assert.ok(port, "the consumer has no port named health");
  assert.equal(String(port.containerPort), env(consumerContainer, "HEALTH_PORT"));
  assert.equal(consumerContainer.livenessProbe.httpGet.path, "/healthz");
  assert.equal(consumerContainer.livenessProbe.httpGet.port, "health");
  assert.equal(consumerContainer.readinessProbe.httpGet.path, "/readyz");
  assert.equal(consumerContainer.readinessProbe.httpGet.port, "health");
  const service = find(objects, "Service", "consumer-metrics");
  assert.equal(service.spec.ports[0].targetPort, "health");
  assert.deepEqual(service.spec.selector, deployment.spec.selector.matchLabels);
});

test("grace period exceeds shutdown grace", () => {
  const grace = seconds(env(consumerContainer, "CONSUMER_SHUTDOWN_GRACE"));
  assert.ok(grace > 0, "CONSUMER_SHUTDOWN_GRACE must be positive");
  assert.ok(consumerPod.spec.terminationGracePeriodSeconds > grace,
    `terminationGracePeriodSeconds ${consumerPod.spec.terminationGracePeriodSeconds} <= ${grace}`);
});

test("pods run non-root read-only", () => {
  for (const [pod, container] of [[consumerPod, consumerContainer], [job.spec.template, producerContainer]]) {
    assert.equal(pod.spec.securityContext.runAsNonRoot, true);
    assert.ok(pod.spec.securityContext.runAsUser > 0);
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(container.securityContext.capabilities.drop, ["ALL"]);
    assert.ok(container.resources.requests.cpu, `${container.name} has no CPU request`);
    assert.ok(container.resources.requests.memory, `${container.name} has no memory request`);
    assert.ok(container.resources.limits.memory);
    assert.doesNotMatch(container.image, /:latest$|^[^:]+$/, "images need a fixed tag");
  }
  assert.equal(consumerContainer.image, values.CONSUMER_IMAGE);
  assert.equal(producerContainer.image, values.PRODUCER_IMAGE);
  const budget = find(objects, "PodDisruptionBudget", "consumer");
  assert.deepEqual(budget.spec.selector.matchLabels, deployment.spec.selector.matchLabels);
});

test("ScaledObject trigger and authentication", () => {
  const scaled = find(objects, "ScaledObject", "consumer");
  assert.equal(scaled.spec.scaleTargetRef.name, "consumer");
  assert.equal(scaled.spec.scaleTargetRef.kind, "Deployment");
  assert.equal(scaled.spec.minReplicaCount, 0);
  assert.equal(scaled.spec.maxReplicaCount, 15);
  assert.equal(scaled.spec.pollingInterval, 30);
  assert.equal(scaled.spec.cooldownPeriod, 10);
  assert.equal(scaled.spec.triggers.length, 1);
  const [trigger] = scaled.spec.triggers;
  assert.equal(trigger.type, "azure-servicebus");
  assert.equal(trigger.metadata.queueName, values.SERVICEBUS_QUEUE);
  assert.equal(trigger.metadata.namespace, values.SERVICEBUS_NAMESPACE);
  assert.equal(trigger.metadata.messageCount, "5");
  assert.equal(trigger.metadata.activationMessageCount, "20");
  assert.equal(deployment.spec.replicas, undefined, "KEDA owns the replica count");

  const auth = find(objects, "TriggerAuthentication", trigger.authenticationRef.name);
  assert.equal(auth.metadata.namespace, scaled.metadata.namespace);
  assert.equal(auth.spec.podIdentity.provider, "azure-workload");
  assert.equal(auth.spec.podIdentity.identityId, values.KEDA_CLIENT_ID);
});

test("NodePool requirements and limits", () => {
  const pool = find(objects, "NodePool", "workload");
  assert.equal(pool.apiVersion, "karpenter.sh/v1");
  assert.equal(pool.metadata.namespace, undefined, "NodePool is cluster-scoped");
  const requirements = Object.fromEntries(
    pool.spec.template.spec.requirements.map((r) => [r.key, [r.operator, r.values]]));
  assert.deepEqual(requirements["kubernetes.io/arch"], ["In", ["amd64"]]);
  assert.deepEqual(requirements["kubernetes.io/os"], ["In", ["linux"]]);
  assert.deepEqual(requirements["karpenter.sh/capacity-type"], ["In", ["on-demand"]]);
  assert.deepEqual(requirements["karpenter.azure.com/sku-family"], ["In", ["D"]]);
  assert.ok(pool.spec.limits.cpu, "the NodePool needs a CPU limit");
  assert.ok(pool.spec.limits.memory, "the NodePool needs a memory limit");
  assert.equal(pool.spec.disruption.consolidationPolicy, "WhenEmptyOrUnderutilized");
  assert.ok(pool.spec.disruption.budgets.length > 0, "the NodePool needs a disruption budget");

  const ref = pool.spec.template.spec.nodeClassRef;
  assert.equal(ref.group, "karpenter.azure.com");
  assert.equal(ref.kind, "AKSNodeClass");
  const nodeClass = find(objects, "AKSNodeClass", ref.name);
  assert.equal(nodeClass.metadata.namespace, undefined, "AKSNodeClass is cluster-scoped");
  for (const pod of [consumerPod, job.spec.template]) {
    assert.equal(pod.spec.nodeSelector["karpenter.sh/nodepool"], pool.metadata.name);
  }
});

test("overlay sets every value", () => {
  const text = JSON.stringify(objects);
  assert.doesNotMatch(text, /placeholder/, "a base placeholder reached the overlay's output");
  assert.doesNotMatch(text, /00000000-0000-0000-0000-000000000000/);
  assert.equal(env(consumerContainer, "SERVICEBUS_NAMESPACE"), values.SERVICEBUS_FQDN);
  assert.equal(env(producerContainer, "SERVICEBUS_NAMESPACE"), values.SERVICEBUS_FQDN);
  assert.equal(env(consumerContainer, "COSMOS_ENDPOINT"), values.COSMOS_ENDPOINT);
  assert.equal(env(consumerContainer, "COSMOS_DATABASE"), values.COSMOS_DATABASE);
  assert.equal(env(consumerContainer, "COSMOS_CONTAINER"), values.COSMOS_CONTAINER);
  assert.equal(objects.filter((o) => o.kind === "ConfigMap").length, 0,
    "the values ConfigMap is local to kustomize");
  assert.equal(job.spec.suspend, true, "applying the manifests must send nothing");
});

test("no fields of a live object", () => {
  // Objects exported from a cluster carry these; applying them fails or pins a stale version.
  const serverFields = ["uid", "resourceVersion", "creationTimestamp", "generation",
    "managedFields", "selfLink"];
  for (const object of [...objects, ...render(path.join(k8sRoot, "base"))]) {
    const name = `${object.kind}/${object.metadata.name}`;
    for (const field of serverFields) {
      assert.equal(object.metadata[field], undefined, `${name} has metadata.${field}`);
    }
    assert.equal(object.status, undefined, `${name} has a status`);
  }
});

test("local compose wiring", () => {
  const local = path.join(repoRoot, "deploy/local");
  const [compose] = parseYamlFile(path.join(local, "compose.yaml"));
  const services = compose.services;
  assert.deepEqual(Object.keys(services).sort(), ["consumer", "cosmos", "mssql", "producer", "servicebus"]);
  assert.match(services.mssql.image, /^mcr\.microsoft\.com\/mssql\/server:2022-/);
  assert.ok(services.servicebus.volumes.includes("./Config.json:/ServiceBus_Emulator/ConfigFiles/Config.json:ro"));
  assert.equal(services.servicebus.environment.SQL_SERVER, "mssql");
  for (const name of ["producer", "consumer"]) {
    assert.equal(services[name].build.dockerfile, `Dockerfile.${name}`);
    assert.equal(services[name].read_only, true);
    assert.match(services[name].environment.SERVICEBUS_CONNECTION_STRING, /^Endpoint=sb:\/\/servicebus;.*UseDevelopmentEmulator=true$/);
    assert.equal(services[name].environment.SERVICEBUS_QUEUE, "orders");
  }
  for (const [name, service] of Object.entries(services)) {
    for (const port of service.ports ?? []) {
      assert.match(port, /^127\.0\.0\.1:/, `${name} publishes ${port} beyond loopback`);
    }
  }
  const config = JSON.parse(fs.readFileSync(path.join(local, "Config.json"), "utf8"));
  const queues = config.UserConfig.Namespaces[0].Queues.map((q) => q.Name);
  assert.deepEqual(queues, ["orders"]);
});
