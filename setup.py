"""Package list only (everything else is in pyproject.toml): models/ at the repository root ships
inside the wheel as emer_live/_models, which pyproject's find table cannot express."""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["emer_live*", "training*"]) + ["emer_live._models"],
    package_dir={"emer_live._models": "models"},
)
