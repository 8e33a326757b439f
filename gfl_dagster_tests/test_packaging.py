"""A regular install (a wheel: pip, pipx, the Docker image) carries everything the package reads at run
time, so it runs the same Dagster instance, schema and page as a source checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from gfl_dagster_tests.conftest import PROJECT_DIR


def _tracked(*paths: str) -> list[str]:
    return subprocess.run(["git", "ls-files", *paths], cwd=PROJECT_DIR, capture_output=True, text=True,
                          check=True).stdout.split()


def _checkout_copy(target: Path) -> Path:
    """The tracked files only: building in the checkout would leave build/ behind, whose stale files ship."""
    for name in _tracked():
        if (PROJECT_DIR / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT_DIR / name, target / name)
    return target


def test_the_wheel_carries_every_data_file_and_its_install_finds_the_instance_config(tmp_path: Path):
    wanted = {name for name in _tracked("gfl_dagster", "gfl_dagster_bench") if not name.endswith(".py")}
    assert "gfl_dagster/dagster.yaml" in wanted and "gfl_dagster/db/schema.sql" in wanted
    assert "gfl_dagster_bench/eval/search/understanding_test.jsonl" in wanted  # `gfl bench` reads its frozen sets

    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"),
                    str(_checkout_copy(tmp_path / "src"))], check=True, capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("gfl_dagster-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    assert wanted - shipped == set(), f"package data missing from {wheel.name}"
    assert "gfl_dagster_bench/cli.py" in shipped, "`gfl bench` needs the bench package in the same install"
    assert not [name for name in shipped if name.startswith("gfl_dagster_tests/")], "the tests are no package"

    # Installed apart from the checkout and run from elsewhere, the package reads its own copies.
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    probe = ("import gfl_dagster.dagster_instance as d, gfl_dagster.settings as s; "
             "print(d.PACKAGE_YAML); print(d.instance_config()['run_coordinator']['class']); print(s.PACKAGE_DIR); "
             "import gfl_dagster_bench.eval.search.understanding_eval as u, gfl_dagster_bench.cli; "
             "print(u.TEST_SET.is_file() and u.TEST_SET)")
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == str(target / "gfl_dagster" / "dagster.yaml")
    assert out[1] == "DefaultRunCoordinator"  # the package's instance (sensor threads, no queue), not Dagster's default
    assert out[2] == str(target / "gfl_dagster")
    assert out[3] == str(target / "gfl_dagster_bench" / "eval" / "search" / "understanding_test.jsonl")
