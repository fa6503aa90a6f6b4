// Renders a kustomization with `kubectl kustomize` and parses the result into objects, for
// the offline manifest tests. YAML is parsed by PyYAML under /usr/bin/python3, because no
// YAML parser is among the project's npm packages.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const k8sRoot = path.join(repoRoot, "deploy/k8s");

const YAML_TO_JSON =
  "import json, sys, yaml; json.dump([d for d in yaml.safe_load_all(sys.stdin) if d], sys.stdout)";

function runOrThrow(command, args, input) {
  const result = spawnSync(command, args, { input, encoding: "utf8", maxBuffer: 64 << 20 });
  if (result.error) {
    throw new Error(`${command} failed to start: ${result.error.message}; is it installed?`);
  }
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} exited ${result.status}: ${result.stderr}`);
  }
  return result.stdout;
}

// Returns the YAML text that `kubectl kustomize dir` renders.
export function renderYaml(dir) {
  return runOrThrow("kubectl", ["kustomize", dir]);
}

// Returns the rendered objects of the kustomization in `dir`.
export function render(dir) {
  return JSON.parse(runOrThrow("/usr/bin/python3", ["-c", YAML_TO_JSON], renderYaml(dir)));
}

// Returns the one object of `kind` named `name`; throws when there is none or more than one.
export function find(objects, kind, name) {
  const found = objects.filter((o) => o.kind === kind && o.metadata?.name === name);
  if (found.length !== 1) {
    throw new Error(`expected one ${kind} "${name}", found ${found.length}`);
  }
  return found[0];
}

// Returns the objects of a YAML file, parsed as render() parses rendered output.
export function parseYamlFile(file) {
  return JSON.parse(runOrThrow("/usr/bin/python3", ["-c", YAML_TO_JSON], fs.readFileSync(file, "utf8")));
}
