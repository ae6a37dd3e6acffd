"""Content-hashed URLs inside ES modules, so that a module graph is cached as a whole.

A page loads `app.js?v=<hash>`; its `import … from "./vault.js"` would otherwise fetch an
unversioned URL (revalidated on every page load, and a second module instance if a page ever
named it with a version). At start-up each module's relative imports are rewritten to carry
the imported module's version, and a module's version is the hash of its rewritten text, so a
change anywhere below a module changes the module's own URL (a Merkle tree over the imports).
Only specifiers starting with "./" are rewritten. One that names no file, or closes a cycle,
is left as written (the browser reports it), so a half-written module never stops the server.
"""

from __future__ import annotations

import hashlib
import posixpath
import re

# `import x from "./a.js"`, `export { y } from "./b.js"`, `import "./c.js"`, `import("./d.js")`.
IMPORT = re.compile(r"""(\bfrom\s*|\bimport\s*\(?\s*)(["'])(\./[\w./-]+\.js)\2""")


def version_of(content: bytes) -> str:
    """The version a static URL carries: the first 12 hex digits of SHA-256."""
    return hashlib.sha256(content).hexdigest()[:12]


def version_modules(sources: dict[str, bytes]) -> dict[str, tuple[bytes, str]]:
    """For each module (by URL name, e.g. `js/app.js`): its rewritten text and its version."""
    done: dict[str, tuple[bytes, str]] = {}

    def visit(name: str, path: tuple[str, ...]) -> str:
        if name in done:
            return done[name][1]
        text = sources[name].decode("utf-8")

        def rewrite(match: re.Match[str]) -> str:
            target = posixpath.normpath(posixpath.join(posixpath.dirname(name), match[3]))
            if target not in sources or target in path or target == name:
                return match[0]
            return f"{match[1]}{match[2]}{match[3]}?v={visit(target, (*path, name))}{match[2]}"

        content = IMPORT.sub(rewrite, text).encode("utf-8")
        done[name] = (content, version_of(content))
        return done[name][1]

    for name in sources:
        visit(name, ())
    return done
