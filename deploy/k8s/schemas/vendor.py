"""Write the OpenAPI schemas of the operators' CRDs (the objects kubernetes-validate has no
schema for) as JSON, one file per group/kind/version, descriptions dropped.

    python deploy/k8s/schemas/vendor.py CRD.yaml [CRD.yaml ...]

The CRD files are the operators' published install YAML (deploy/k8s/README.md says which
releases); tests/unit/test_deploy_manifests.py validates the manifests against the output.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent


def _strip(node: Any) -> Any:
    """Descriptions are most of the bytes and none of the validation."""
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def vendor(path: Path) -> list[Path]:
    written: list[Path] = []
    for crd in yaml.safe_load_all(path.read_text()):
        if not crd or crd.get("kind") != "CustomResourceDefinition":
            continue
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if not version.get("served"):
                continue
            schema = _strip(version["schema"]["openAPIV3Schema"])
            target = HERE / f"{group}_{kind.lower()}_{version['name']}.json"
            target.write_text(json.dumps(schema, sort_keys=True, separators=(",", ":")) + "\n")
            written.append(target)
    return written


if __name__ == "__main__":
    for argument in sys.argv[1:]:
        for target in vendor(Path(argument)):
            print(target)
