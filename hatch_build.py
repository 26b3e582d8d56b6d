"""Builds ``ctg_exchange._native`` (pseudonymisation in C, issue 17) with the wheel.

It needs a C compiler, Python's headers and OpenSSL's (Debian: gcc, python3-dev, libssl-dev).
Where one is missing the package installs without it, in pure Python, and says so: the
pseudonymised send is then a few times slower, and gives the same bytes.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path("ctg_exchange") / "_native.c"


def compile_native(root: Path) -> Path | None:
    """Compile the extension next to its source (where an editable install imports it)."""
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    target = root / SOURCE.with_name("_native" + suffix)
    compiler = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
    command = [
        *compiler,
        "-O2",
        "-shared",
        "-fPIC",
        "-Wall",
        f"-I{sysconfig.get_paths()['include']}",
        str(root / SOURCE),
        "-o",
        str(target),
        "-lcrypto",
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as exc:
        done = None
        reason = str(exc)
    if done is None or done.returncode != 0:
        reason = reason if done is None else (done.stderr.strip().splitlines() or ["?"])[-1]
        print(
            f"ctg-exchange: the C pseudonymiser was not built ({reason}); the pure-Python one "
            "gives the same bytes, more slowly (apt-get install gcc python3-dev libssl-dev)",
            file=sys.stderr,
        )
        return None
    return target


class NativeHook(BuildHookInterface):  # type: ignore[misc]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        built = compile_native(Path(self.root))
        if built is None:
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if version != "editable":
            build_data["force_include"][str(built)] = f"ctg_exchange/{built.name}"
