#!/usr/bin/env node
// Validate glb/gltf files with the Khronos glTF validator (npm `gltf-validator`, installed
// in viewer/ as a devDependency). Usage: node tests/tools/validate_gltf.mjs FILE...
// Prints a JSON array, one report summary per file; exits 1 if any file has errors.
import { createRequire } from "node:module";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const viewer = process.env.MACHI_TWIN_VIEWER_DIR ?? path.resolve(here, "../../viewer");
const require = createRequire(path.join(viewer, "package.json"));
const validator = require("gltf-validator");

async function validate(file) {
  const bytes = await readFile(file);
  const report = await validator.validateBytes(new Uint8Array(bytes), {
    uri: path.basename(file),
    maxIssues: 100,
    externalResourceFunction: (uri) =>
      readFile(path.resolve(path.dirname(file), decodeURIComponent(uri))).then(
        (data) => new Uint8Array(data),
      ),
  });
  return {
    path: file,
    validatorVersion: report.validatorVersion,
    numErrors: report.issues.numErrors,
    numWarnings: report.issues.numWarnings,
    numInfos: report.issues.numInfos,
    messages: report.issues.messages.map(({ code, message, severity, pointer }) => ({
      code, message, severity, pointer,
    })),
  };
}

const reports = [];
for (const file of process.argv.slice(2)) {
  try {
    reports.push(await validate(file));
  } catch (error) {
    reports.push({ path: file, numErrors: 1, messages: [{ code: "UNREADABLE", message: String(error), severity: 0 }] });
  }
}
process.stdout.write(JSON.stringify(reports, null, 1) + "\n");
process.exitCode = reports.some((r) => r.numErrors > 0) ? 1 : 0;
