"""Every script a phone runs parses as ES2020, what Chromium 80 (issue 6's oldest browser)
understands, and calls none of the newer built-ins it lacks.

The parser is acorn (pwa/package.json, installed at set-up), run by Node.js; syntax newer than
ES2020 (`??=`, `1_000`, class static blocks, top-level await…) is a parse error at
`ecmaVersion: 2020`. Built-ins are a list, since they parse fine and fail only when called.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from server.pwa.worker import SERVICE_WORKER

REPO = Path(__file__).resolve().parents[2]
ACORN = REPO / "pwa" / "node_modules" / "acorn" / "dist" / "acorn.js"
MODULES = sorted((REPO / "pwa" / "js").glob("*.js"))

# Built-ins newer than Chromium 80, with the version that brought each.
NEWER_BUILTINS = {
    r"\.replaceAll\(": "String.prototype.replaceAll (85)",
    r"\.at\(-?\d": "Array.prototype.at (92)",
    r"\bstructuredClone\(": "structuredClone (98)",
    r"\bObject\.hasOwn\(": "Object.hasOwn (93)",
    r"\.findLast(Index)?\(": "Array.prototype.findLast (97)",
    r"\bAbortSignal\.(timeout|any)\(": "AbortSignal.timeout (103)",
    r"\bPromise\.any\(": "Promise.any (85)",
    r"\bWeakRef\b": "WeakRef (84)",
    r"\.toSorted\(|\.toReversed\(": "change-array-by-copy (110)",
}

CHECK = """
const acorn = require(process.argv[1]);
const fs = require("fs");
const problems = [];
for (const [path, sourceType] of JSON.parse(fs.readFileSync(0, "utf8"))) {
  try {
    acorn.parse(fs.readFileSync(path, "utf8"), { ecmaVersion: 2020, sourceType });
  } catch (error) {
    problems.push(`${path}: ${error.message}`);
  }
}
console.log(JSON.stringify(problems));
"""


@pytest.fixture(scope="module")
def node() -> str:
    found = shutil.which("node")
    if found is None or not ACORN.is_file():
        pytest.fail("Node.js and pwa/node_modules/acorn are needed: run `make setup`")
    return found


def test_every_script_parses_as_es2020(node: str, tmp_path: Path) -> None:
    worker = tmp_path / "sw.js"
    worker.write_bytes(SERVICE_WORKER.script)
    files = [[str(path), "module"] for path in MODULES] + [[str(worker), "script"]]
    done = subprocess.run(
        [node, "-e", CHECK, str(ACORN)],
        input=json.dumps(files),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(done.stdout) == []
    assert len(MODULES) > 20  # the glob found the app's modules


def test_the_parser_refuses_newer_syntax(node: str, tmp_path: Path) -> None:
    """The check above would catch a newer construct (so an empty list means something)."""
    newer = tmp_path / "newer.js"
    newer.write_text("let a = null;\na ??= 1_000;\n", encoding="utf-8")
    done = subprocess.run(
        [node, "-e", CHECK, str(ACORN)],
        input=json.dumps([[str(newer), "module"]]),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert len(json.loads(done.stdout)) == 1


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_builtin_newer_than_chromium_80(path: Path) -> None:
    source = path.read_text("utf-8")
    found = [name for pattern, name in NEWER_BUILTINS.items() if re.search(pattern, source)]
    assert found == [], f"{path.name} uses {found}"


def test_the_worker_uses_no_newer_builtin() -> None:
    source = SERVICE_WORKER.script.decode()
    found = [name for pattern, name in NEWER_BUILTINS.items() if re.search(pattern, source)]
    assert found == []
