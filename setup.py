"""Maps the top-level folders onto one import root: core/ is `certbench.core`, gui/ is
`certbench.gui`, resources/ is `certbench.resources`. Metadata lives in pyproject.toml; only the package list is computed here,
so a new sub-package needs no edit anywhere."""

from pathlib import Path

from setuptools import setup

ROOTS = {"core": "certbench.core", "gui": "certbench.gui", "resources": "certbench.resources"}


def _packages() -> tuple[list[str], dict[str, str]]:
    here = Path(__file__).parent
    packages, package_dir = [], {}
    for folder, name in ROOTS.items():
        for init in sorted((here / folder).rglob("__init__.py")):
            rel = init.parent.relative_to(here)
            dotted = ".".join([name, *rel.parts[1:]])
            packages.append(dotted)
            package_dir[dotted] = rel.as_posix()
    return packages, package_dir


packages, package_dir = _packages()
setup(packages=packages, package_dir=package_dir, package_data={"certbench.resources": ["**/*"]})
