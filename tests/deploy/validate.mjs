// Validates every object that a kustomization renders against the offline schemas of npm
// kubernetes-models (core objects), @kubernetes-models/keda and @kubernetes-models/karpenter.
// AKSNodeClass (karpenter.azure.com) has no model in those packages, so it is checked here
// against the fields and bounds of the v1beta1 CRD of the AKS Karpenter provider.
//
//   node tests/deploy/validate.mjs DIR...
//
// Exits 1 naming each invalid object and the reason, or when an object has no schema.
import { render } from "./render.mjs";

const MODELS = {
  "v1/Namespace": "kubernetes-models/v1/Namespace",
  "v1/ServiceAccount": "kubernetes-models/v1/ServiceAccount",
  "v1/Service": "kubernetes-models/v1/Service",
  "v1/ConfigMap": "kubernetes-models/v1/ConfigMap",
  "apps/v1/Deployment": "kubernetes-models/apps/v1/Deployment",
  "batch/v1/Job": "kubernetes-models/batch/v1/Job",
  "policy/v1/PodDisruptionBudget": "kubernetes-models/policy/v1/PodDisruptionBudget",
  "keda.sh/v1alpha1/ScaledObject": "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject",
  "keda.sh/v1alpha1/TriggerAuthentication":
    "@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication",
  "karpenter.sh/v1/NodePool": "@kubernetes-models/karpenter/karpenter.sh/v1/NodePool",
};

const IMAGE_FAMILIES = ["Ubuntu", "Ubuntu2204", "Ubuntu2404", "AzureLinux"];

// Returns the problems of an AKSNodeClass; the CRD's top-level spec fields, the enum of
// imageFamily and the integer bounds of osDiskSizeGB and maxPods.
function checkAksNodeClass(object) {
  const problems = [];
  const spec = object.spec ?? {};
  const known = ["artifactStreaming", "fipsMode", "gpu", "imageFamily", "kubelet",
    "linuxOSConfig", "localDNS", "maxPods", "osDiskSizeGB", "security", "tags", "vnetSubnetID"];
  for (const key of Object.keys(spec)) {
    if (!known.includes(key)) problems.push(`spec.${key} is not a field of AKSNodeClass`);
  }
  if (spec.imageFamily !== undefined && !IMAGE_FAMILIES.includes(spec.imageFamily)) {
    problems.push(`spec.imageFamily must be one of ${IMAGE_FAMILIES.join(", ")}`);
  }
  const bounded = { osDiskSizeGB: [30, 2048], maxPods: [10, 250] };
  for (const [key, [min, max]] of Object.entries(bounded)) {
    const value = spec[key];
    if (value !== undefined && !(Number.isInteger(value) && value >= min && value <= max)) {
      problems.push(`spec.${key} must be an integer from ${min} to ${max}`);
    }
  }
  if (spec.tags !== undefined && Object.values(spec.tags).some((v) => typeof v !== "string")) {
    problems.push("spec.tags values must be strings");
  }
  if (object.metadata?.namespace !== undefined) {
    problems.push("AKSNodeClass is cluster-scoped and must have no namespace");
  }
  return problems;
}

async function validate(object) {
  const id = `${object.apiVersion}/${object.kind}`;
  if (id === "karpenter.azure.com/v1beta1/AKSNodeClass") {
    return checkAksNodeClass(object);
  }
  const module = MODELS[id];
  if (!module) {
    return [`no offline schema for ${id}; add its model to tests/deploy/validate.mjs`];
  }
  const Model = (await import(module))[object.kind];
  try {
    new Model(object).validate();
    return [];
  } catch (error) {
    return [error.message];
  }
}

let failures = 0;
for (const dir of process.argv.slice(2)) {
  const objects = render(dir);
  for (const object of objects) {
    const problems = await validate(object);
    const name = `${object.kind}/${object.metadata?.name}`;
    if (problems.length > 0) {
      failures += 1;
      console.log(`invalid ${name} in ${dir}: ${problems.join("; ")}`);
    } else {
      console.log(`valid ${name} in ${dir}`);
    }
  }
  if (objects.length === 0) {
    failures += 1;
    console.log(`${dir} rendered no objects`);
  }
}
process.exit(failures === 0 ? 0 : 1);
