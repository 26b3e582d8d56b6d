"""Builds ``ctg_exchange._native`` (a dataset's lines checked and pseudonymised in C, issue 17)
with the wheel.

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
        if done is not None:
            said = (done.stderr + done.stdout).strip().splitlines()
            reason = said[-1] if said else f"{command[0]} exited with {done.returncode}"
        print(
            f"ctg-exchange: ctg_exchange._native was not built ({reason}); the Python that "
            "stands in for it gives the same results, more slowly (Debian: apt-get install "
            "gcc python3-dev libssl-dev)",
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
