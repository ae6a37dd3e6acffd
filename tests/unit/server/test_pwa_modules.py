"""Versioned imports inside ES modules (server/pwa/modules.py)."""

from __future__ import annotations

from server.pwa.modules import version_modules, version_of
from server.templating import ASSETS, static_url


def test_relative_imports_carry_the_imported_modules_version() -> None:
    sources = {
        "js/a.js": b'import { b } from "./b.js";\nconst c = () => import("./sub/c.js");\n',
        "js/b.js": b'export { c } from "./sub/c.js";\nexport const b = 1;\n',
        "js/sub/c.js": b'import "../b.js";\nexport const c = 2;\n',
    }
    done = version_modules(sources)
    c_version = done["js/sub/c.js"][1]
    assert done["js/b.js"][0] == (
        f'export {{ c }} from "./sub/c.js?v={c_version}";\nexport const b = 1;\n'.encode()
    )
    assert f'import("./sub/c.js?v={c_version}")'.encode() in done["js/a.js"][0]
    for name, (content, version) in done.items():
        assert version == version_of(content), name


def test_a_change_below_changes_every_module_above() -> None:
    sources = {"js/a.js": b'import "./b.js";', "js/b.js": b"export const x = 1;"}
    before = version_modules(sources)
    after = version_modules({**sources, "js/b.js": b"export const x = 2;"})
    assert before["js/a.js"][1] != after["js/a.js"][1]


def test_unknown_imports_and_cycles_are_left_as_written() -> None:
    sources = {
        "js/a.js": b'import "./missing.js"; import "./b.js";',
        "js/b.js": b'import "./a.js";',
    }
    done = version_modules(sources)
    assert b'"./missing.js"' in done["js/a.js"][0]
    assert done["js/b.js"][0] == b'import "./a.js";'  # the cycle closes here, unversioned


def test_the_served_modules_name_each_other_by_version() -> None:
    app = ASSETS["js/app.js"]
    assert app.content is not None
    agent = static_url("js/agent.js").removeprefix("/static/js/")
    assert f'import("./{agent}")'.encode() in app.content
