"""Finding handlers: explicit registration, module discovery, dotted class
lookup, method dispatch, handler directories and template callables."""

import sys
import tempfile
import textwrap
import unittest
from pathlib import Path

from tasker_core import HandlerNotFound, HandlerRegistry, StepHandler
from tasker_core.registry import template_callables
from tasker_core.step_handler.functional import step_handler


class Multi(StepHandler):
    handler_name = "tests.Multi"

    def __init__(self, config=None):
        super().__init__(config)

    def call(self, context):
        return "call"

    def refund(self, context):
        return "refund"


class NoConfig(StepHandler):
    handler_name = "tests.NoConfig"

    def __init__(self):
        super().__init__()
        self.made = True

    def call(self, context):
        return self.config


@step_handler("tests.fn")
def fn():
    return {}


@step_handler("tests.fn", method="refund")
def fn_refund():
    return {"refund": True}


class RegistryTest(unittest.TestCase):
    def test_explicit_and_method_dispatch(self):
        r = HandlerRegistry()
        r.register("x.Multi", Multi)
        handler, target = r.resolve("x.Multi", None, {"k": 1})
        self.assertEqual((target(None), handler.config), ("call", {"k": 1}))
        self.assertEqual(r.resolve("x.Multi", "refund")[1](None), "refund")
        self.assertEqual(r.resolve("x.Multi", "call")[1](None), "call")
        with self.assertRaisesRegex(HandlerNotFound, "no method 'validate'"):
            r.resolve("x.Multi", "validate")
        self.assertFalse(r.can_resolve("x.Multi", "validate"))
        self.assertTrue(r.can_resolve("x.Multi", "refund"))
        with self.assertRaises(ValueError):
            r.register("bad", object)

    def test_constructor_without_config(self):
        r = HandlerRegistry()
        r.register("nc", NoConfig)
        handler, target = r.resolve("nc", None, {"ignored": True})
        self.assertTrue(handler.made)
        self.assertEqual(target(None), {})

    def test_dotted_class_lookup(self):
        r = HandlerRegistry()
        handler, _ = r.resolve(f"{__name__}.Multi")
        self.assertIsInstance(handler, Multi)
        self.assertTrue(r.can_resolve(f"{__name__}.fn"))  # a decorated function by its path
        self.assertFalse(r.can_resolve("no.such.Module"))
        self.assertFalse(r.can_resolve("not a path"))

    def test_discovery_registers_classes_and_functions(self):
        r = HandlerRegistry()
        found = r.discover_module(sys.modules[__name__])
        self.assertGreaterEqual(found, 4)
        self.assertEqual(set(r.list_handlers()), {"tests.Multi", "tests.NoConfig", "tests.fn"})
        self.assertEqual(r.resolve("tests.fn")[0].__class__.__name__, "fn")
        self.assertEqual(r.resolve("tests.fn", "refund")[1](None).result, {"refund": True})
        self.assertTrue(r.unregister("tests.fn"))
        self.assertFalse(r.is_registered("tests.fn"))

    def test_load_directory(self):
        with tempfile.TemporaryDirectory() as d:
            root = Path(d)
            (root / "pyreg_handlers_a.py").write_text(textwrap.dedent('''
                from tasker_core import StepHandler
                class A(StepHandler):
                    handler_name = "dir.A"
                    def call(self, context):
                        return {"a": 1}
            '''))
            pkg = root / "pyreg_pkg"
            (pkg / "sub").mkdir(parents=True)
            (pkg / "__init__.py").write_text("")
            (pkg / "sub" / "__init__.py").write_text("")
            (pkg / "sub" / "deep.py").write_text(textwrap.dedent('''
                from tasker_core.step_handler.functional import step_handler
                @step_handler("dir.deep")
                def deep():
                    return {}
            '''))
            (root / "_private.py").write_text("raise RuntimeError('must not be imported')")
            (root / "notes").mkdir()
            (root / "notes" / "x.py").write_text("raise RuntimeError('not a package')")
            (root / "pyreg_broken.py").write_text("import does_not_exist_anywhere\n")
            (root / "json.py").write_text("")  # shadowed by the standard library
            r = HandlerRegistry()
            problems = r.load_directory(root)
            self.assertEqual(sorted(r.list_handlers()), ["dir.A", "dir.deep"])
            self.assertEqual(len(problems), 2, problems)
            self.assertIn("pyreg_broken.py: ModuleNotFoundError", problems[1])
            self.assertIn("json.py: module name 'json' is already taken", problems[0])
            self.assertEqual(r.load_directory(root / "missing"), [f"{root / 'missing'}: not a directory"])

    def test_template_callables(self):
        with tempfile.TemporaryDirectory() as d:
            Path(d, "t.yaml").write_text(textwrap.dedent('''
                name: t
                input_schema:
                  properties:
                    method: {type: string}
                steps:
                  - name: a
                    handler:
                      callable: pkg.mod.A   # comment
                      method: "refund"
                  - name: b
                    handler: {callable: 'pkg.mod.B', initialization: {}}
                  - name: c
                    handler:
                      callable: "pkg.mod.A"
                    payment_method: card
            '''))
            Path(d, "ignored.txt").write_text("callable: nope")
            self.assertEqual(template_callables([d]), {"pkg.mod.A": {"refund"}, "pkg.mod.B": set()})


if __name__ == "__main__":
    unittest.main()
