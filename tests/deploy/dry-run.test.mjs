// Runs deploy.sh, load-test.sh and cleanup.sh with --dry-run and checks the commands they
// print: the cluster flags, the federated credential subjects, each role assignment with
// its scope, and the option and state-file checks. A stand-in `az` on PATH records any
// call, so a test fails if a dry run executes az instead of printing the command.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { repoRoot } from "./render.mjs";

const scripts = path.join(repoRoot, "deploy/azure");
const work = fs.mkdtempSync(path.join(os.tmpdir(), "deploy-dry-run-"));
const fakeBin = path.join(work, "bin");
const azCalls = path.join(work, "az-calls");
fs.mkdirSync(fakeBin);
fs.writeFileSync(path.join(fakeBin, "az"), `#!/bin/sh\necho "$*" >>'${azCalls}'\nexit 99\n`, {
  mode: 0o755,
});
process.on("exit", () => fs.rmSync(work, { recursive: true, force: true }));

function runScript(name, args, extraEnv = {}) {
  const result = spawnSync("bash", [path.join(scripts, name), ...args], {
    encoding: "utf8",
    env: { ...process.env, PATH: `${fakeBin}:${process.env.PATH}`, ...extraEnv },
  });
  const commands = result.stdout.split("\n").filter((l) => l.startsWith("+ ")).map((l) => l.slice(2));
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, commands };
}

// Returns the value that follows `flag` in a command line (values are unquoted or in '').
function flagValue(command, flag) {
  const match = new RegExp(`(?:^| )${flag} ('[^']*'|\\S+)`).exec(command);
  return match ? match[1].replace(/^'|'$/g, "") : undefined;
}

function only(commands, prefix) {
  const found = commands.filter((c) => c.startsWith(prefix));
  assert.equal(found.length, 1, `expected one "${prefix}" command, found ${found.length}`);
  return found[0];
}

function writeState(file) {
  const state = {
    PREFIX: "evwl", SUFFIX: "a1b2c3", LOCATION: "eastus2",
    SUBSCRIPTION_ID: "00000000-0000-0000-0000-000000000000",
    TENANT_ID: "11111111-1111-1111-1111-111111111111", RESOURCE_GROUP: "rg-evwl-a1b2c3",
    SERVICEBUS_NAMESPACE: "sb-evwl-a1b2c3", SERVICEBUS_FQDN: "sb-evwl-a1b2c3.servicebus.windows.net",
    SERVICEBUS_QUEUE: "orders", COSMOS_ACCOUNT: "cosmos-evwl-a1b2c3",
    COSMOS_ENDPOINT: "https://cosmos-evwl-a1b2c3.documents.azure.com:443/",
    COSMOS_DATABASE: "workload", COSMOS_CONTAINER: "results", ACR_NAME: "acrevwla1b2c3",
    AKS_NAME: "aks-evwl-a1b2c3", KUBECONFIG_FILE: path.join(work, "aks.kubeconfig"),
    IMAGE_TAG: "abc123", CONSUMER_IMAGE: "acrevwla1b2c3.azurecr.io/consumer:abc123",
    PRODUCER_IMAGE: "acrevwla1b2c3.azurecr.io/producer:abc123",
    CONSUMER_CLIENT_ID: "c1", PRODUCER_CLIENT_ID: "p1", KEDA_CLIENT_ID: "k1",
  };
  fs.writeFileSync(file, Object.entries(state).map(([k, v]) => `${k}=${v}\n`).join(""));
}

const deploy = runScript("deploy.sh", ["--dry-run", "--state", path.join(work, "new.env"),
  "--suffix", "a1b2c3"]);
const queueScope = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/" +
  "rg-evwl-a1b2c3/providers/Microsoft.ServiceBus/namespaces/sb-evwl-a1b2c3/queues/orders";

test("deploy dry run completes", () => {
  assert.equal(deploy.status, 0, deploy.stderr);
  assert.ok(deploy.commands.length > 40, `only ${deploy.commands.length} commands printed`);
  assert.ok(deploy.commands.every((c) => /^(az|kubectl) /.test(c)), "a command is not az or kubectl");
  assert.equal(fs.existsSync(azCalls), false, "the dry run executed az");
  assert.equal(fs.existsSync(path.join(work, "new.env")), false, "the dry run wrote the state file");
});

test("deploy cluster flags", () => {
  const create = only(deploy.commands, "az aks create ");
  for (const flag of ["--enable-oidc-issuer", "--enable-workload-identity", "--enable-keda",
    "--generate-ssh-keys"]) {
    assert.match(create, new RegExp(` ${flag}( |$)`), `az aks create lacks ${flag}`);
  }
  const expected = {
    "--node-provisioning-mode": "Auto", "--network-plugin": "azure",
    "--network-plugin-mode": "overlay", "--network-dataplane": "cilium",
    "--nodepool-taints": "CriticalAddonsOnly=true:NoSchedule", "--attach-acr": "acrevwla1b2c3",
    "--resource-group": "rg-evwl-a1b2c3", "--name": "aks-evwl-a1b2c3",
  };
  for (const [flag, value] of Object.entries(expected)) {
    assert.equal(flagValue(create, flag), value, `az aks create ${flag}`);
  }
  const queue = only(deploy.commands, "az servicebus queue create ");
  assert.equal(flagValue(queue, "--lock-duration"), "PT1M");
  assert.equal(flagValue(queue, "--max-delivery-count"), "10");
  assert.equal(flagValue(queue, "--enable-dead-lettering-on-message-expiration"), "true");
  const cosmos = only(deploy.commands, "az cosmosdb create ");
  assert.equal(flagValue(cosmos, "--capabilities"), "EnableServerless");
  const container = only(deploy.commands, "az cosmosdb sql container create ");
  assert.equal(flagValue(container, "--partition-key-path"), "/id");
});

test("deploy federated credential subjects", () => {
  const issuerQuery = deploy.commands.findIndex((c) =>
    c.startsWith("az aks show ") && c.includes("oidcIssuerProfile.issuerUrl"));
  assert.ok(issuerQuery >= 0, "the OIDC issuer is never read");
  const federated = deploy.commands.filter((c) => c.startsWith("az identity federated-credential create "));
  const subjects = Object.fromEntries(federated.map((c) => [flagValue(c, "--identity-name"),
    flagValue(c, "--subject")]));
  assert.deepEqual(subjects, {
    "id-evwl-a1b2c3-producer": "system:serviceaccount:event-workload:producer",
    "id-evwl-a1b2c3-consumer": "system:serviceaccount:event-workload:consumer",
    "id-evwl-a1b2c3-keda": "system:serviceaccount:kube-system:keda-operator",
  });
  for (const command of federated) {
    assert.equal(flagValue(command, "--audiences"), "api://AzureADTokenExchange");
    assert.match(flagValue(command, "--issuer"), /^https:\/\//);
  }
});

test("deploy role assignments and scopes", () => {
  const assignments = deploy.commands.filter((c) => c.startsWith("az role assignment create "));
  const roles = assignments.map((c) => [flagValue(c, "--role"), flagValue(c, "--assignee-object-id"),
    flagValue(c, "--scope"), flagValue(c, "--assignee-principal-type")]);
  assert.deepEqual(roles, [
    ["Azure Service Bus Data Sender", "<principal-id-of-id-evwl-a1b2c3-producer>", queueScope, "ServicePrincipal"],
    ["Azure Service Bus Data Receiver", "<principal-id-of-id-evwl-a1b2c3-consumer>", queueScope, "ServicePrincipal"],
    ["Azure Service Bus Data Owner", "<principal-id-of-id-evwl-a1b2c3-keda>", queueScope, "ServicePrincipal"],
  ]);
  const cosmos = only(deploy.commands, "az cosmosdb sql role assignment create ");
  assert.equal(flagValue(cosmos, "--role-definition-id"), "00000000-0000-0000-0000-000000000002");
  assert.equal(flagValue(cosmos, "--principal-id"), "<principal-id-of-id-evwl-a1b2c3-consumer>");
  assert.equal(flagValue(cosmos, "--scope"), "/dbs/workload/colls/results");
  assert.equal(flagValue(cosmos, "--account-name"), "cosmos-evwl-a1b2c3");
});

test("deploy images and manifests", () => {
  const builds = deploy.commands.filter((c) => c.startsWith("az acr build "));
  assert.equal(builds.length, 2);
  for (const build of builds) {
    assert.doesNotMatch(flagValue(build, "--image"), /:latest$/);
    assert.match(flagValue(build, "--file"), /Dockerfile\.(producer|consumer)$/);
  }
  const apply = only(deploy.commands.filter((c) => / apply /.test(c)), "kubectl --kubeconfig ");
  assert.match(apply, / apply --server-side /);
  assert.ok(deploy.commands.some((c) => / rollout restart deployment\/keda-operator$/.test(c)),
    "the KEDA operator is not restarted to pick up its identity");
  assert.equal(flagValue(apply, "--selector"), "app.kubernetes.io/component!=load-generator");
});

test("deploy random suffix under UTF-8", () => {
  const run = runScript("deploy.sh", ["--dry-run", "--state", path.join(work, "utf8.env")],
    { LC_ALL: "C.UTF-8", LANG: "C.UTF-8" });
  assert.equal(run.status, 0, run.stderr);
  const group = flagValue(only(run.commands, "az group create "), "--name");
  assert.match(group, /^rg-evwl-[0-9a-f]{6}$/);
});

test("deploy rejects invalid options", () => {
  for (const args of [["--name", "Bad_Name"], ["--suffix", "xyz"], ["--bogus"],
    ["--location", "east us"], ["--image-tag", "-bad"]]) {
    const run = runScript("deploy.sh", ["--dry-run", "--state", path.join(work, "bad.env"), ...args]);
    assert.equal(run.status, 2, `${args.join(" ")}: ${run.stderr}`);
    assert.match(run.stderr, /invalid|unknown/);
  }
});

test("state file is data, not code", () => {
  const file = path.join(work, "evil.env");
  const marker = path.join(work, "evaluated");
  fs.writeFileSync(file, `PREFIX=$(touch ${marker})\n`);
  const run = runScript("cleanup.sh", ["--dry-run", "--state", file]);
  assert.equal(run.status, 1);
  assert.match(run.stderr, /invalid line 1 in state file/);
  assert.equal(fs.existsSync(marker), false, "a state file line was evaluated");
});

test("load test dry run", () => {
  const state = path.join(work, "state.env");
  writeState(state);
  const run = runScript("load-test.sh", ["--dry-run", "--state", state, "--count", "600",
    "--batches", "3", "--parallelism", "3", "--rate", "50"]);
  assert.equal(run.status, 0, run.stderr);
  assert.equal(fs.existsSync(azCalls), false, "the dry run executed az");
  const apply = only(run.commands, "kubectl --kubeconfig " + path.join(work, "aks.kubeconfig") +
    " --namespace event-workload apply ");
  assert.equal(flagValue(apply, "--selector"), "app.kubernetes.io/component=load-generator");
  assert.ok(run.commands.some((c) => / delete job producer /.test(c)), "the old Job is not deleted");
  assert.ok(run.commands.some((c) => c.includes("countDetails.activeMessageCount")),
    "the queue depth is not sampled");
  assert.ok(run.commands.some((c) => c.includes("involvedObject.kind=NodeClaim")),
    "the NodeClaim events are not recorded");
  const job = run.stderr.slice(run.stderr.indexOf("apiVersion: batch/v1"));
  assert.match(job, /completions: 3\n/);
  assert.match(job, /parallelism: 3\n/);
  assert.match(job, /suspend: false\n/);
  assert.match(job, /name: PRODUCER_COUNT\n\s+value: "200"\n/);
  assert.match(job, /name: PRODUCER_RATE\n\s+value: "50"\n/);
  assert.match(job, /image: acrevwla1b2c3\.azurecr\.io\/producer:abc123\n/);

  const uneven = runScript("load-test.sh", ["--dry-run", "--state", state, "--count", "7",
    "--batches", "2"]);
  assert.equal(uneven.status, 2);
  assert.match(uneven.stderr, /expected a multiple of --batches/);
});

test("cleanup dry run", () => {
  const state = path.join(work, "cleanup.env");
  writeState(state);
  const run = runScript("cleanup.sh", ["--dry-run", "--state", state]);
  assert.equal(run.status, 0, run.stderr);
  assert.equal(fs.existsSync(azCalls), false, "the dry run executed az");
  const remove = only(run.commands, "az group delete ");
  assert.equal(flagValue(remove, "--name"), "rg-evwl-a1b2c3");
  assert.match(remove, / --yes( |$)/);
  assert.ok(fs.existsSync(state), "the dry run removed the state file");

  const missing = runScript("cleanup.sh", ["--dry-run", "--state", path.join(work, "none.env")]);
  assert.equal(missing.status, 0, "a second cleanup must succeed");
  assert.match(missing.stderr, /nothing to clean up/);
  assert.equal(missing.commands.length, 0);
});
