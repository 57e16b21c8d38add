"""Build step pyproject.toml cannot declare: a wheel carries the demo's snapshots and the default storewatch.toml.

They live at the repository's top level (where a user of a checkout looks for them); `build_py` copies them into
the built package as crawler/shipped/, where crawler/shipped.py finds them in an installed wheel.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SHIPPED = ("snapshots", "storewatch.toml")


class BuildWithShippedFiles(build_py):
    def run(self):
        super().run()
        if self.editable_mode:  # an editable install reads them from the checkout itself
            return
        target = Path(self.build_lib) / "crawler" / "shipped"
        shutil.rmtree(target, ignore_errors=True)  # a build folder left from before must not keep deleted snapshots
        for name in SHIPPED:
            source = Path(name)
            if source.is_dir():
                # the reconstruct.py scripts stay with the sources (the sdist has them): the demo needs only the data
                shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / name)


setup(cmdclass={"build_py": BuildWithShippedFiles})
