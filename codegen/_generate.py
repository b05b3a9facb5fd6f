"""Run the pinned datamodel-code-generator on a normalised spec, with its profile from pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

__all__ = ["GenerateError", "start_generator", "finish_generator"]


class GenerateError(Exception):
    """datamodel-code-generator failed."""


def start_generator(profile: str, spec_file: Path, output: Path, header: str, cwd: Path) -> subprocess.Popen[str]:
    """Start the generator in a subprocess, so both specs (and validation) run at once on 2 cores."""
    command = [
        sys.executable,
        "-m",
        "datamodel_code_generator",
        "--profile",
        profile,
        "--input",
        str(spec_file),
        "--output",
        str(output),
        "--custom-file-header",
        header,
    ]
    return subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish_generator(profile: str, process: subprocess.Popen[str]) -> None:
    stdout, stderr = process.communicate()
    if process.returncode != 0:
        raise GenerateError(f"datamodel-codegen --profile {profile} exited {process.returncode}:\n{stderr or stdout}")
