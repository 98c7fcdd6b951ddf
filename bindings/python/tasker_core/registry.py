"""Finding the handler for a template's ``handler.callable``.

Resolution order: handlers registered explicitly (``register``, or found by
``discover`` scanning modules: every StepHandler subclass under its
``handler_name`` and every decorated function), then the callable read as a
dotted path ``package.module.ClassName`` imported with importlib. A
template's ``handler.method`` names the method to call (default ``call``).
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import pkgutil
import re
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

from tasker_core.step_handler import StepHandler

log = logging.getLogger("tasker_core.registry")

_CLASS_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*\.[A-Za-z_]\w*$")


class HandlerNotFound(LookupError):
    """No handler (or no such method on it) for a callable."""


def _handler_class(obj: Any) -> type | None:
    """The StepHandler class behind a class or a decorated function."""
    if isinstance(obj, type):
        return obj if issubclass(obj, StepHandler) and obj is not StepHandler else None
    cls = getattr(obj, "_handler_class", None)
    return cls if isinstance(cls, type) and issubclass(cls, StepHandler) else None


class HandlerRegistry:
    _instance: HandlerRegistry | None = None

    def __init__(self) -> None:
        self._handlers: dict[tuple[str, str | None], type] = {}
        self._lock = threading.Lock()
        self._wants_config: dict[type, bool] = {}

    @classmethod
    def instance(cls) -> HandlerRegistry:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    @classmethod
    def reset_instance(cls) -> None:
        cls._instance = None

    # --- registration ---
    def register(self, name: str, handler: Any, method: str | None = None) -> None:
        """Register a StepHandler subclass (or a decorated function) under ``name``."""
        cls = _handler_class(handler)
        if cls is None:
            raise ValueError(f"handler for {name!r} must be a StepHandler subclass or a decorated function, got {handler!r}")
        key = (name, method or getattr(cls, "handler_method", None))
        with self._lock:
            old = self._handlers.get(key)
            if old is not None and old is not cls:
                log.warning("handler %s: %s replaces %s", name, cls.__qualname__, old.__qualname__)
            self._handlers[key] = cls

    def unregister(self, name: str) -> bool:
        with self._lock:
            keys = [k for k in self._handlers if k[0] == name]
            for k in keys:
                del self._handlers[k]
        return bool(keys)

    def clear(self) -> None:
        with self._lock:
            self._handlers.clear()

    def is_registered(self, name: str) -> bool:
        return any(k[0] == name for k in self._handlers)

    def list_handlers(self) -> list[str]:
        return sorted({k[0] for k in self._handlers})

    def handler_count(self) -> int:
        return len(self.list_handlers())

    def get_handler_class(self, name: str, method: str | None = None) -> type | None:
        return self._handlers.get((name, method)) or self._handlers.get((name, None))

    # --- resolution ---
    def find_class(self, callable_name: str, method: str | None = None) -> type | None:
        """The handler class for a callable: explicit, then dotted class lookup."""
        cls = self.get_handler_class(callable_name, method)
        if cls is not None or not _CLASS_PATH.match(callable_name):
            return cls
        module_name, _, attr = callable_name.rpartition(".")
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            return None
        return _handler_class(getattr(module, attr, None))

    def resolve(self, callable_name: str, method: str | None = None,
                initialization: dict[str, Any] | None = None) -> tuple[StepHandler, Any]:
        """A new handler instance and the bound method to call; raises HandlerNotFound."""
        method = method or None
        cls = self.find_class(callable_name, method)
        if cls is None:
            raise HandlerNotFound(f"no handler registered or importable for callable {callable_name!r}")
        handler = self._instantiate(cls, initialization or {})
        name = "call" if getattr(cls, "handler_method", None) == method else (method or "call")
        target = getattr(handler, name, None)
        if not callable(target):
            raise HandlerNotFound(f"handler {cls.__qualname__} for {callable_name!r} has no method {name!r}")
        return handler, target

    def can_resolve(self, callable_name: str, method: str | None = None) -> bool:
        cls = self.find_class(callable_name, method or None)
        return cls is not None and (not method or getattr(cls, "handler_method", None) == method or callable(getattr(cls, method, None)))

    def _instantiate(self, cls: type, initialization: dict[str, Any]) -> StepHandler:
        wants = self._wants_config.get(cls)
        if wants is None:
            try:
                wants = "config" in inspect.signature(cls).parameters
            except (TypeError, ValueError):
                wants = False
            self._wants_config[cls] = wants
        return cls(config=initialization) if wants else cls()

    # --- discovery ---
    def discover_module(self, module: ModuleType) -> int:
        """Register every handler class and decorated function a module holds."""
        found = 0
        for value in list(vars(module).values()):
            cls = _handler_class(value)
            if cls is not None and getattr(cls, "handler_name", ""):
                self.register(cls.handler_name, cls)
                found += 1
        return found

    def discover_handlers(self, package_name: str) -> int:
        """Import a package and all its submodules, registering what they hold."""
        package = importlib.import_module(package_name)
        found = self.discover_module(package)
        for info in pkgutil.walk_packages(getattr(package, "__path__", []), prefix=f"{package_name}."):
            found += self.discover_module(importlib.import_module(info.name))
        return found

    def load_directory(self, directory: str | os.PathLike[str]) -> list[str]:
        """Put ``directory`` on sys.path and import every module and package in
        it (files and folders starting with ``_`` are skipped; folders without
        ``__init__.py`` are not packages and are skipped). Returns the
        problems found, one line each; the modules that did import are registered.
        """
        root = Path(directory).resolve()
        if not root.is_dir():
            return [f"{root}: not a directory"]
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
        problems: list[str] = []
        for entry in sorted(root.iterdir()):
            if entry.name.startswith("_") or entry.name.startswith("."):
                continue
            if entry.is_dir() and (entry / "__init__.py").exists():
                name = entry.name
            elif entry.suffix == ".py" and entry.is_file():
                name = entry.stem
            else:
                continue
            try:
                module = importlib.import_module(name)
                where = Path(getattr(module, "__file__", "") or "").resolve()
                if root not in where.parents:
                    problems.append(f"{entry}: module name {name!r} is already taken by {where or 'a built-in module'}; rename the file")
                    continue
                if entry.is_dir():
                    self.discover_handlers(name)
                else:
                    self.discover_module(module)
            except Exception as exc:  # noqa: BLE001 - report and go on with the other files
                problems.append(f"{entry}: {type(exc).__name__}: {exc}")
        return problems


_CALLABLE_LINE = re.compile(r"""\bcallable:\s*(?:"([^"]+)"|'([^']+)'|([^\s#,}'"]+))""")
_METHOD_LINE = re.compile(r"""\bmethod:\s*(?:"([^"]*)"|'([^']*)'|([^\s#,}'"]*))""")


def template_callables(paths: list[str]) -> dict[str, set[str | None]]:
    """``handler.callable`` values (with the ``handler.method`` names used on
    each) of every ``*.yaml``/``*.yml`` template under ``paths``.

    The standard library has no YAML parser: this reads ``callable:`` and the
    ``method:`` that follows it within the same handler block, which is how
    task templates write them (block or flow style).
    """
    found: dict[str, set[str | None]] = {}
    for base in paths:
        root = Path(base)
        files = [root] if root.is_file() else sorted(p for ext in ("*.yaml", "*.yml") for p in root.rglob(ext))
        for path in files:
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                log.warning("skipping template %s: %s", path, exc)
                continue
            current: str | None = None
            for line in text.splitlines():
                line = line.split(" #", 1)[0]
                m = _CALLABLE_LINE.search(line)
                if m:
                    current = next(g for g in m.groups() if g is not None)
                    found.setdefault(current, set())
                mm = _METHOD_LINE.search(line[m.end():] if m else line)
                if current is not None and mm:
                    method = next((g for g in mm.groups() if g is not None), "")
                    found[current].add(method or None)
                elif re.match(r"^\s*-\s+name:", line):
                    current = None
    return found
