"""The pieces a newcomer meets before any code: the two dependency lists agree, every notebook opens on Colab,
and the presets the README promises exist."""
import json
import re
import tomllib
from pathlib import Path

from fitlam.colab import colab_setup_source

ROOT = Path(__file__).resolve().parent.parent
CONDA_TO_PYPI = {"pytorch": "torch"}  # conda-forge names that differ from PyPI's


def split_requirement(req: str) -> tuple[str, str]:
    "'pandas>=2.0' -> ('pandas', '>=2.0'); names normalised as PyPI does (case, '_' and '.' as '-')."
    name, spec = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", req).groups()
    return re.sub(r"[-_.]+", "-", name).lower(), spec.replace(" ", "")


def pyproject_requirements() -> dict:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + project["optional-dependencies"]["dev"]
    return dict(split_requirement(r) for r in reqs)


def conda_requirements() -> dict:
    "The packages environment.yml lists (conda and pip), without python, pip and the kit itself."
    reqs = {}
    for line in (ROOT / "environment.yml").read_text().splitlines():
        item = re.match(r"^\s*-\s+([^#:]+?)\s*(#.*)?$", line)
        if not item or item.group(1) in ("pip", "-e .") or item.group(1).startswith(("python", "conda-forge")):
            continue
        name, spec = split_requirement(item.group(1))
        reqs[CONDA_TO_PYPI.get(name, name)] = spec
    return reqs


def test_split_requirement():
    assert split_requirement("Foo_Bar.baz >= 1.0") == ("foo-bar-baz", ">=1.0")


def test_environment_yml_matches_pyproject():
    assert conda_requirements() == pyproject_requirements()


def test_environment_yml_is_really_read():
    # the agreement test could pass by reading nothing; make sure it reads the packages it compares
    reqs = conda_requirements()
    assert {"torch", "pandas", "nbdev", "fastprogress"} <= set(reqs) and reqs["torch"] == ">=2.4"


def test_runtime_dependencies_leave_colab_its_jupyter():
    "The Colab set-up cell installs the kit's runtime dependencies only: no Jupyter of our own over Colab's."
    runtime = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {split_requirement(r)[0] for r in runtime}
    assert not names & {"jupyterlab", "notebook", "jupyter", "ipykernel", "nbdev", "pytest"}, names


def test_every_notebook_starts_with_the_colab_cell():
    for path in sorted((ROOT / "nbs").glob("*.ipynb")):
        code = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
        first_real = next(c for c in code if "default_exp" not in "".join(c["source"]))
        src = "".join(first_real["source"])
        assert src == colab_setup_source(), f"{path.name}: first code cell is not the Colab set-up (run `make colab`)"


def test_readme_starts_with_the_two_commands():
    text = (ROOT / "README.md").read_text()
    first_code = text[text.index("```"):][:400]
    assert "make demo" in first_code and "make test" in first_code
