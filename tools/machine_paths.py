#!/usr/bin/env python3
"""Keep one machine's paths out of committed files.

The torch dynamo exporter stores a Python stack trace in each node's ``metadata_props``
(``pkg.torch.onnx.stack_trace``), with the absolute path of the venv that ran it
(``File "/some/venv/lib/python3.11/site-packages/transformers/..."``). The fixture scripts copy
sample node metadata into ``reference.json``. This rewrites every such path to start at
``site-packages/``: the trace stays readable, and no committed file names a folder of the machine
that made it. Nothing the importer reads changes (it uses ``pkg.torch.onnx.name_scopes``).

Used by tools/make_onnx_fixtures.py and tools/make_bundled_model.py on what they write; run by
hand it scrubs the committed fixtures:
    .venv-tools/bin/python tools/machine_paths.py Fixtures/models models/arith-qwen2-1m
and updates the sizes in Fixtures/models/MANIFEST.json and the model hash in
Fixtures/bundled/reference.json to match.
"""
import hashlib
import json
import re
import sys
from pathlib import Path

# An absolute path up to and including its site-packages folder.
_SITE_PACKAGES = re.compile(r'(?:/[^/"\\\s]+)+/site-packages/')
# The same for the venv's interpreter in a command line ("/x/venv/bin/python tools/...").
_VENV_PYTHON = re.compile(r'(?:/[^/"\\\s]+)+/bin/python3?\b')


def scrub_text(text: str) -> str:
    return _VENV_PYTHON.sub(".venv-tools/bin/python", _SITE_PACKAGES.sub("site-packages/", text))


def scrub_onnx(path: Path) -> bool:
    """Rewrites the paths in node and model metadata of one ONNX file; True when it changed."""
    import onnx
    model = onnx.load(str(path), load_external_data=False)
    changed = False

    def fix(props):
        nonlocal changed
        for p in props:
            new = scrub_text(p.value)
            if new != p.value:
                p.value = new
                changed = True

    def walk_graph(graph):
        for node in graph.node:
            fix(node.metadata_props)
            for attr in node.attribute:
                if attr.g is not None and attr.HasField("g"):
                    walk_graph(attr.g)
                for g in attr.graphs:
                    walk_graph(g)
        fix(graph.metadata_props)

    fix(model.metadata_props)
    walk_graph(model.graph)
    for fn in model.functions:
        for node in fn.node:
            fix(node.metadata_props)
        fix(fn.metadata_props)
    if changed:
        tmp = path.with_name("." + path.name + ".tmp")
        tmp.write_bytes(model.SerializeToString())
        tmp.replace(path)
    return changed


def scrub_json(path: Path) -> bool:
    text = path.read_text()
    new = scrub_text(text)
    if new != text:
        tmp = path.with_name("." + path.name + ".tmp")
        tmp.write_text(new)
        tmp.replace(path)
    return new != text


def scrub_tree(root: Path) -> list:
    """Every ``*.onnx`` and ``*.json`` below root; returns the files that changed."""
    changed = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and ((p.suffix == ".onnx" and scrub_onnx(p)) or (p.suffix == ".json" and scrub_json(p))):
            changed.append(p)
    return changed


def refresh_manifest_sizes(manifest_path: Path):
    """MANIFEST.json lists each fixture's file sizes: make them the files' sizes again."""
    manifest = json.loads(manifest_path.read_text())
    repo = manifest_path.resolve().parents[2]
    for fixture in manifest.get("fixtures", []):
        folder = repo / fixture["path"]
        for name in fixture.get("files", {}):
            fixture["files"][name] = (folder / name).stat().st_size
    manifest["total_bytes"] = sum(sum(x["files"].values()) for x in manifest.get("fixtures", []))
    # The layout tools/make_onnx_fixtures.py writes: indent 1, innermost number lists on one line.
    text = re.sub(r"\[\s*([-0-9.eE+,\s]+?)\s*\]",
                  lambda m: "[" + ",".join(x.strip() for x in m.group(1).split(",")) + "]",
                  json.dumps(manifest, indent=1))
    manifest_path.write_text(text + "\n")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv):
    repo = Path(__file__).resolve().parent.parent
    for arg in argv or ["Fixtures/models", "models"]:
        for p in scrub_tree((repo / arg) if not Path(arg).is_absolute() else Path(arg)):
            print(f"scrubbed {p.relative_to(repo) if p.is_relative_to(repo) else p}")
    manifest = repo / "Fixtures/models/MANIFEST.json"
    if manifest.exists():
        refresh_manifest_sizes(manifest)
    bundled_ref = repo / "Fixtures/bundled/reference.json"
    if bundled_ref.exists():
        ref = json.loads(bundled_ref.read_text())
        model = repo / ref["model"]
        if model.exists() and ref.get("model_sha256") != sha256(model):
            text = bundled_ref.read_text().replace(ref["model_sha256"], sha256(model))
            bundled_ref.write_text(text)
            print(f"updated model_sha256 in {bundled_ref.relative_to(repo)}")


if __name__ == "__main__":
    main(sys.argv[1:])
