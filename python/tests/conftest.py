"""Fixtures: a MovieLens-100K store made with the command-line tool the way the quickstart makes one
(here with a random v2 bundle from `init-model --feedback` instead of a trained one)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: The data folder Tools/setup.sh fills ($LIFELONG_DATA overrides it, as in set-up).
DATA = Path(os.environ.get("LIFELONG_DATA", ROOT / "Data"))


def cli() -> Path:
    """The `lifelong` executable of the build under test ($LIFELONG_CLI, else next to $LIFELONG_LIBRARY)."""
    explicit = os.environ.get("LIFELONG_CLI")
    if explicit:
        return Path(explicit)
    library = os.environ.get("LIFELONG_LIBRARY")
    folder = Path(library).parent if library else ROOT / ".build" / "debug"
    return folder / "lifelong"


def run_cli(*args: str) -> str:
    result = subprocess.run([str(cli()), *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"lifelong {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


@pytest.fixture(scope="session")
def movielens() -> Path:
    data = DATA / "ml-100k"
    assert (data / "ml-100k.inter").is_file(), f"{data} is missing: Tools/setup.sh fetches it"
    return data


@pytest.fixture(scope="session")
def quickstart(tmp_path_factory: pytest.TempPathFactory, movielens: Path) -> Path:
    """Folder with model/ and store/ (and other/, a bundle the store was not encoded with)."""
    root = tmp_path_factory.mktemp("quickstart")
    run_cli("init-model", "--data", str(movielens), "--out", str(root / "model"), "--feedback", "--seed", "3")
    run_cli("encode", "--model", str(root / "model"), "--data", str(movielens), "--store", str(root / "store"),
            "--quiet")
    run_cli("init-model", "--data", str(movielens), "--out", str(root / "other"), "--window", "20")
    return root


@pytest.fixture()
def store_copy(quickstart: Path, tmp_path: Path) -> Path:
    """A copy of the store, for tests that append."""
    target = tmp_path / "store"
    target.mkdir()
    shutil.copy(quickstart / "store" / "data.mdb", target / "data.mdb")
    return target
