"""Import a stage script as a module (stages are scripts, not a package), for tests of its pure parts."""

import importlib.util
import sys

from conftest import ROOT


def load_stage(name: str):
    spec = importlib.util.spec_from_file_location(f"stage_{name}", ROOT / "stages" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and type hints resolve through sys.modules
    spec.loader.exec_module(module)
    return module
