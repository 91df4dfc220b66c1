"""``testbed.study``'s names load on first use, each the documented object (never a
submodule of the same name), and the ``testbed`` command loads none of them until
one of its study commands runs."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
from types import ModuleType

import testbed.study


def test_every_public_name_is_its_object_with_a_docstring() -> None:
    for name in testbed.study.__all__:
        value = getattr(testbed.study, name)
        assert not isinstance(value, ModuleType), name
        if callable(value):
            assert inspect.getdoc(value), f"testbed.study.{name} has no docstring"
    # importing a submodule first must not shadow the function of the same job
    importlib.import_module("testbed.study.comparison")
    assert callable(testbed.study.compare) and not isinstance(testbed.study.compare, ModuleType)


def test_the_command_line_registers_the_studies_without_loading_them() -> None:
    code = ("import sys, testbed.cli; testbed.cli._register_live_commands(); "
            "print(sorted(m for m in sys.modules if m.startswith('testbed.study.')))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['testbed.study.cli', 'testbed.study.variant']"
