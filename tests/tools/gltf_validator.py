"""Run the Khronos glTF validator (node + npm `gltf-validator` in viewer/) from pytest."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("validate_gltf.mjs")
PACKAGE = ROOT / "viewer" / "node_modules" / "gltf-validator"


def validate_gltf(paths: list[Path]) -> list[dict]:
    """One report summary per file ({path, numErrors, numWarnings, messages, ...}).

    Skips the calling test when node or the npm package is missing.
    """
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the Khronos glTF validator runs on Node.js")
    if not PACKAGE.is_dir():
        pytest.skip("npm package gltf-validator missing: run `npm install` in viewer/")
    reports: list[dict] = []
    for start in range(0, len(paths), 200):  # keep command lines short
        chunk = [str(p) for p in paths[start:start + 200]]
        done = subprocess.run([node, str(SCRIPT), *chunk], capture_output=True, text=True, timeout=300)
        if done.returncode not in (0, 1):
            raise RuntimeError(f"validate_gltf.mjs failed: {done.stderr.strip()}")
        reports.extend(json.loads(done.stdout))
    return reports
