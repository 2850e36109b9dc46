"""Our ARI client and models against the swagger files of the sandbox's Asterisk."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from voxtra.ari import models
from voxtra.ari.resources import LEFT_OUT, OPERATIONS
from voxtra.sandbox.asterisk import AsteriskSandbox

REPO = Path(__file__).parents[2]


def swagger_dir(sandbox: AsteriskSandbox) -> Path:
    return sandbox.host_path("/usr/share/asterisk/rest-api")


def test_every_operation_is_implemented_or_left_out_on_purpose(
        asterisk_sandbox: AsteriskSandbox) -> None:
    documented = set()
    for path in swagger_dir(asterisk_sandbox).glob("*.json"):
        for api in json.loads(path.read_text()).get("apis", []):
            for op in api.get("operations", []):
                documented.add((op["httpMethod"], api["path"]))
    assert not OPERATIONS & LEFT_OUT.keys()
    assert OPERATIONS - documented == set(), "implemented but not in this Asterisk"
    assert documented - OPERATIONS - LEFT_OUT.keys() == set(), "neither implemented nor left out"
    assert set(LEFT_OUT) <= documented


def test_every_model_and_field_exists(asterisk_sandbox: AsteriskSandbox) -> None:
    for path in swagger_dir(asterisk_sandbox).glob("*.json"):
        for name, model in json.loads(path.read_text()).get("models", {}).items():
            cls = getattr(models, name, None) or models.Event
            fields = {f.alias or n for n, f in cls.model_fields.items()}
            assert set(model["properties"]) <= fields, name


def test_generated_models_are_up_to_date(asterisk_sandbox: AsteriskSandbox) -> None:
    generated = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen_ari_models.py"),
         str(swagger_dir(asterisk_sandbox))],
        capture_output=True, text=True, check=True).stdout
    assert generated == (REPO / "voxtra" / "ari" / "models.py").read_text()
