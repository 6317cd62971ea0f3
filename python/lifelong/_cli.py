"""The `lifelong` console script: runs the CLI the wheel carries (lifelong/bin/lifelong), with its arguments.

A wheel installs the executable inside the package, so that the package finds it wherever pip put it (a
virtualenv, the user's site-packages, a Spark executor's environment); this script puts it on the PATH.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def bundled() -> Path | None:
    """The executable installed with this package, or None (a source install without the built CLI)."""
    path = Path(__file__).resolve().parent / "bin" / "lifelong"
    return path if path.is_file() and os.access(path, os.X_OK) else None


def main() -> None:
    path = bundled()
    if path is None:
        sys.exit("lifelong: this installation has no CLI (lifelong/bin/lifelong); install the wheel built by "
                 "Tools/build-wheel.sh, or run .build/release/lifelong of a checkout")
    os.execv(path, [str(path), *sys.argv[1:]])


if __name__ == "__main__":
    main()
