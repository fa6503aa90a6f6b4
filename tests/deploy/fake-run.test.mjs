// Runs deploy.sh, load-test.sh and cleanup.sh for real against stand-ins for az and kubectl
// (tests/deploy/fake-cli) that keep a model of the resources. Checks that a second deploy
// creates nothing, that the state file carries the names between runs, that providers
// reported as "NotRegistered" get registered, that the applied manifest carries the
// identities' client ids, and that load-test and cleanup finish.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { repoRoot } from "./render.mjs";

const scripts = path.join(repoRoot, "deploy/azure");
const fakeCli = path.join(repoRoot, "tests/deploy/fake-cli");
const realKubectl = spawnSync("bash", ["-c", "command -v kubectl"], { encoding: "utf8" }).stdout.trim();

// Makes a fresh model and state directory for one test.
function sandbox() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "deploy-fake-run-"));
  fs.mkdirSync(path.join(dir, "az"));
  process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function runScript(dir, name, args, extraEnv = {}) {
  const result = spawnSync("bash", [path.join(scripts, name), ...args], {
    encoding: "utf8",
    env: {
      ...process.env, PATH: `${fakeCli}:${process.env.PATH}`, FAKE_AZ_STATE: path.join(dir, "az"),
      REAL_KUBECTL: realKubectl, ...extraEnv,
    },
  });
  const commands = result.stderr.split("\n").filter((l) => l.startsWith("+ ")).map((l) => l.slice(2));
  return { ...result, commands };
}

function changes(commands) {
  return commands.filter((c) => /^az .* (create|register) /.test(c));
}

test("deploy creates once, then reuses", () => {
  const dir = sandbox();
  const state = path.join(dir, "state.env");
  const first = runScript(dir, "deploy.sh", ["--state", state, "--suffix", "a1b2c3", "--image-tag", "t1"]);
  assert.equal(first.status, 0, first.stderr);
  const created = changes(first.commands);
  const registered = created.filter((c) => c.startsWith("az provider register "));
  assert.equal(registered.length, 7, "each provider reported NotRegistered must be registered");
  for (const kind of ["group", "servicebus namespace", "servicebus queue", "cosmosdb",
    "cosmosdb sql database", "cosmosdb sql container", "acr", "aks", "identity",
    "identity federated-credential", "role assignment", "cosmosdb sql role assignment"]) {
    assert.ok(created.some((c) => c.startsWith(`az ${kind} create `)), `az ${kind} create is missing`);
  }

  const stateText = fs.readFileSync(state, "utf8");
  assert.match(stateText, /^RESOURCE_GROUP=rg-evwl-a1b2c3$/m);
  assert.match(stateText, /^CONSUMER_CLIENT_ID=client-id-evwl-a1b2c3-consumer$/m);
  assert.match(stateText, /^IMAGE_TAG=t1$/m);

  const applied = fs.readdirSync(path.join(dir, "az")).filter((f) => f.startsWith("applied-"));
  assert.equal(applied.length, 1);
  const manifest = fs.readFileSync(path.join(dir, "az", applied[0]), "utf8");
  assert.match(manifest, /azure\.workload\.identity\/client-id: client-id-evwl-a1b2c3-consumer/);
  assert.match(manifest, /identityId: client-id-evwl-a1b2c3-keda/);
  assert.match(manifest, /image: acrevwla1b2c3\.azurecr\.io\/consumer:t1/);

  // A second run without --suffix must find the names in the state file and create nothing.
  const second = runScript(dir, "deploy.sh", ["--state", state, "--skip-images"]);
  assert.equal(second.status, 0, second.stderr);
  assert.deepEqual(changes(second.commands), []);
  assert.ok(second.commands.some((c) => c.startsWith("az group show --name rg-evwl-a1b2c3")));
  assert.ok(!second.commands.some((c) => c.startsWith("az acr build ")), "--skip-images built images");
  assert.match(fs.readFileSync(state, "utf8"), /^IMAGE_TAG=t1$/m, "--skip-images changed the tag");
});

test("deploy rejects old Azure CLI", () => {
  const dir = sandbox();
  const run = runScript(dir, "deploy.sh", ["--state", path.join(dir, "state.env")],
    { FAKE_AZ_VERSION: "2.75.1" });
  assert.equal(run.status, 1);
  assert.match(run.stderr, /Azure CLI 2\.75\.1 is too old: 2\.76\.0 or later is needed/);
  assert.deepEqual(changes(run.commands), []);
});

test("deploy rejects another prefix or region", () => {
  const dir = sandbox();
  const state = path.join(dir, "state.env");
  assert.equal(runScript(dir, "deploy.sh", ["--state", state, "--skip-images"]).status, 0);
  const run = runScript(dir, "deploy.sh", ["--state", state, "--name", "other"]);
  assert.equal(run.status, 2);
  assert.match(run.stderr, /--name other differs from PREFIX=evwl/);
  const moved = runScript(dir, "deploy.sh", ["--state", state, "--location", "westeurope"]);
  assert.equal(moved.status, 2);
  assert.match(moved.stderr, /--location westeurope differs from LOCATION=eastus2/);
});

test("load test and cleanup finish", () => {
  const dir = sandbox();
  const state = path.join(dir, "state.env");
  assert.equal(runScript(dir, "deploy.sh", ["--state", state, "--skip-images"]).status, 0);

  const load = runScript(dir, "load-test.sh", ["--state", state, "--count", "30", "--batches", "3",
    "--interval", "1"], { FAKE_JOB_SUCCEEDED: "3" });
  assert.equal(load.status, 0, load.stderr);
  assert.match(load.stderr, /drain time 0 s; scaled to zero after 0 s/);
  const [output] = fs.readdirSync(dir).filter((f) => f.startsWith("load-test-"));
  const timeline = fs.readFileSync(path.join(dir, output, "timeline.csv"), "utf8").trim().split("\n");
  assert.equal(timeline[0], "elapsed_s,active_messages,consumer_replicas,ready_replicas,workload_nodes,producer_pods_succeeded");
  assert.equal(timeline[1], "0,0,0,0,0,3");

  const cleanup = runScript(dir, "cleanup.sh", ["--state", state]);
  assert.equal(cleanup.status, 0, cleanup.stderr);
  assert.ok(cleanup.commands.includes("az group delete --name " +
    fs.readFileSync(path.join(dir, "az", "calls"), "utf8").match(/group create --name (\S+)/)[1] + " --yes"));
  assert.equal(fs.existsSync(state), false, "cleanup left the state file");
  const again = runScript(dir, "cleanup.sh", ["--state", state]);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stderr, /nothing to clean up/);
});
