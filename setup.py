"""The installed layout of finmt (everything else is declared in pyproject.toml).

The repository keeps its working layout (``dashboard/``, ``pages/``, ``benchmarks/``,
``configs/`` and ``.streamlit/`` at the top); a wheel holds only finmt's own top-level names:

    finmt_core/                 the library (with every subpackage, found automatically)
    finmt_core/configs/         <- configs/             presets + search spaces (YAML)
    finmt_app/dashboard/        <- dashboard/           the Streamlit router and helpers
    finmt_app/pages/            <- pages/               one file per page
    finmt_app/benchmarks/       <- benchmarks/          the performance suite
    finmt_app/.streamlit/config.toml <- .streamlit/config.toml

``finmt_app`` mirrors the repository root, so the app's own relative paths (``pages/`` next
to ``dashboard/``, ``.streamlit/config.toml`` above both) hold in a checkout and in an
installation alike. The app imports its modules as ``dashboard.*`` / ``benchmarks.*``; those
names are put on ``sys.path`` only inside finmt's own processes (``dashboard/app.py``,
``finmt bench``), never installed at the top of site-packages.

pyproject.toml cannot express renamed packages next to a discovered package tree, hence this
file. Its one build hook keeps ``finmt_app`` itself free of modules: that package is the
repository root, whose only .py file is this one.
"""

from setuptools import find_namespace_packages, setup
from setuptools.command.build_py import build_py


class BuildPy(build_py):
    """``finmt_app`` (= the repository root) installs no modules of its own, only its subpackages
    and ``.streamlit/config.toml``: this setup.py stays out of the wheel."""

    def find_package_modules(self, package, package_dir):
        return [] if package == "finmt_app" else super().find_package_modules(package, package_dir)


#: repository folders installed under ``finmt_app`` (each with its .py files)
APP_PACKAGES = ("dashboard", "pages", "benchmarks")

setup(
    cmdclass={"build_py": BuildPy},
    packages=[
        *find_namespace_packages(include=["finmt_core", "finmt_core.*"], exclude=["*.__pycache__"]),
        "finmt_core.configs",
        "finmt_core.configs.search",
        "finmt_app",
        *(f"finmt_app.{name}" for name in APP_PACKAGES),
    ],
    package_dir={"finmt_core.configs": "configs", "finmt_app": "."},
    # explicit lists only: with finmt_app at the repository root, "include everything in the
    # sdist" would install README, Makefile and friends into finmt_app/
    include_package_data=False,
    package_data={
        "finmt_core": ["py.typed", "templates/*.html", "evaluation/*.json"],
        "finmt_core.data.sample": ["*.csv.gz", "NOTICE"],
        "finmt_core.configs": ["*.yaml"],
        "finmt_core.configs.search": ["*.yaml"],
        "finmt_app": [".streamlit/config.toml"],
    },
)
