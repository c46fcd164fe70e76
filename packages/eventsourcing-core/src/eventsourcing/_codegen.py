"""Code generated and patched for the domain model, each piece for a measured reason.

The domain module decides *what* aggregates and events do; this module holds
the tricks that make them cheap or make Python accept them. Each is kept
only because of what it buys, measured on CPython 3.11 (min of 300 runs, on
the machine the project is developed on; ``hatch run bench`` shows the
effect on whole operations):

- :func:`make_function` compiles a function with exactly the parameters of
  an aggregate's ``__init__`` or of an ``@event`` method, whose body builds
  the event's attributes. Python binds the arguments in C, and raises its
  own ``TypeError`` for wrong calls: 0.13 µs per call, where
  ``inspect.Signature.bind()`` takes 4.9 µs (each creation and each command).
- :func:`install_fast_init` replaces a frozen event dataclass's ``__init__``
  with one writing the instance ``__dict__`` directly instead of calling
  ``object.__setattr__`` per field: 0.66 µs instead of 1.16 µs for an event
  with five fields (each event made).
- :func:`new_uuid4` makes version 4 UUIDs from ``os.urandom`` without
  ``UUID.__init__``'s argument handling: 1.63 µs instead of 2.11 µs (each
  aggregate created). It is checked against ``uuid.UUID`` at import and
  replaced by ``uuid.uuid4`` if this Python's UUID has other internals.
- :func:`generate_dataclass_init` gives an annotated aggregate class the
  ``__init__`` ``@dataclass`` would, leaving the fields on the class so that
  applying ``@dataclass`` afterwards (as IDEs like) sees the same ones.
- :func:`rebind_class_cells` makes zero-argument ``super()`` work in methods
  of a class replaced by ``@aggregate`` (correctness, not speed).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import os
import sys
from types import FunctionType
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Optional, cast
from uuid import UUID, SafeUUID, uuid4

__all__ = [
    "generate_dataclass_init",
    "install_fast_init",
    "make_function",
    "name_in_argument_errors",
    "new_uuid4",
    "own_annotation_names",
    "rebind_class_cells",
]


# ---------------------------------------------------------------------------
# Generated functions
# ---------------------------------------------------------------------------


def name_in_argument_errors(name: str, qualname: str) -> str:
    """The name eventsourcing 9.1 gave aggregate methods in argument errors.

    9.1 wrote "__init__() missing 1 required positional argument: 'a'"
    (qualified only on Python 3.10); programs' tests compare these messages
    with ``==``. Python takes the name for its messages from ``__qualname__``.
    """
    return qualname if sys.version_info[:2] == (3, 10) else name


def make_function(
    name: str,
    qualname: str,
    params: List[inspect.Parameter],
    body: str,
    globals_: Dict[str, Any],
    annotations: Optional[Dict[str, Any]] = None,
) -> FunctionType:
    """Compile ``def name(params): body`` with the given parameters' kinds and defaults.

    Wrong calls raise Python's own ``TypeError`` messages, the same as a
    plain class with the same methods would give (what 9.1 reproduced).
    """
    parts: List[str] = []
    defaults: List[Any] = []
    kwdefaults: Dict[str, Any] = {}
    seen_positional_only = False
    added_star = False
    for p in params:
        if p.kind is p.POSITIONAL_ONLY:
            seen_positional_only = True
        elif seen_positional_only:
            parts.append("/")
            seen_positional_only = False
        if p.kind is p.KEYWORD_ONLY:
            if not added_star:
                parts.append("*")
                added_star = True
            if p.default is not p.empty:
                kwdefaults[p.name] = p.default
        elif p.default is not p.empty:
            defaults.append(p.default)
        parts.append(p.name)
    if seen_positional_only:
        parts.append("/")
    source = f"def {name}({', '.join(parts)}):\n    {body}\n"
    namespace: Dict[str, Any] = {}
    exec(compile(source, f"<eventsourcing.domain: {qualname}>", "exec"), globals_, namespace)
    func = cast(FunctionType, namespace[name])
    func.__defaults__ = tuple(defaults) or None
    func.__kwdefaults__ = kwdefaults or None
    func.__qualname__ = qualname
    code = func.__code__
    if hasattr(code, "co_qualname"):  # Python >= 3.11: used in TypeError messages
        replace: Any = code.replace
        func.__code__ = replace(co_qualname=qualname)
    if annotations is not None:
        func.__annotations__ = dict(annotations)
    return func


def install_fast_init(cls: type) -> None:
    """Replace a frozen dataclass's ``__init__`` with one writing ``__dict__`` directly.

    Classes using ``__post_init__``, ``InitVar``, ``init=False``, keyword-only
    fields or default factories keep the dataclass ``__init__``.
    """
    if getattr(cls, "__post_init__", None) is not None:
        return
    fields = dataclasses.fields(cast(Any, cls))
    for f in cast(Any, cls).__dataclass_fields__.values():
        if f not in fields and repr(getattr(f, "_field_type", None)) != "_FIELD_CLASSVAR":
            return  # an InitVar (or a kind of pseudo-field unknown here)
    params = [inspect.Parameter("_es_self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    for f in fields:
        if not f.init or f.kw_only or f.default_factory is not dataclasses.MISSING:
            return
        default = inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default
        params.append(
            inspect.Parameter(f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default)
        )
    body = "\n    ".join(
        ["_es_dict = _es_self.__dict__"] + [f"_es_dict[{f.name!r}] = {f.name}" for f in fields]
    )
    init = make_function("__init__", f"{cls.__qualname__}.__init__", params, body, {})
    init.__annotations__ = {f.name: f.type for f in fields}
    init.__annotations__["return"] = None
    cls.__init__ = init  # type: ignore[misc]


# ---------------------------------------------------------------------------
# Version 4 UUIDs
# ---------------------------------------------------------------------------

_V4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_V4_SET = (4 << 76) | (0x8000 << 48)
_set_attribute = object.__setattr__


def _fast_uuid4() -> UUID:
    """The random bits of ``uuid.uuid4()``, with its version and variant bits."""
    new = object.__new__(UUID)
    _set_attribute(new, "int", (int.from_bytes(os.urandom(16), "big") & _V4_CLEAR) | _V4_SET)
    _set_attribute(new, "is_safe", SafeUUID.unknown)
    return new


def _choose_uuid4() -> Callable[[], UUID]:
    try:
        sample = _fast_uuid4()
        if UUID(str(sample)) == sample and sample.version == 4 and hash(sample):
            return _fast_uuid4
    except Exception:  # pragma: no cover - a Python whose UUID has other internals
        pass
    return uuid4  # pragma: no cover


new_uuid4: Callable[[], UUID] = _choose_uuid4()
"""A new random (version 4) UUID."""


# ---------------------------------------------------------------------------
# Dataclass-style aggregates
# ---------------------------------------------------------------------------


class _IdField(dataclasses.Field):  # type: ignore[type-arg]
    """Dataclass field for an ``id`` annotation on an aggregate class.

    Lets a generated ``__init__`` accept ``id`` and assign it (consistently
    with the ID already given by the created event), while telling
    ``dataclasses`` that the field has no default.
    """

    __slots__ = ()

    def __get__(self, obj: Any, objtype: Optional[type] = None) -> Any:
        if obj is None:
            return self
        return obj._id

    def __set__(self, obj: Any, value: Any) -> None:
        obj._set_id(value)


def _new_id_field() -> Any:
    field = dataclasses.field()
    field.__class__ = _IdField
    return field


try:
    _annotationlib: Any = importlib.import_module("annotationlib")  # Python >= 3.14
except ImportError:
    _annotationlib = None


def own_annotation_names(cls: type) -> List[str]:
    """Names annotated in the class body itself, without evaluating the annotations."""
    if _annotationlib is None:
        return list(inspect.get_annotations(cls))
    return list(_annotationlib.get_annotations(cls, format=_annotationlib.Format.FORWARDREF))


def generate_dataclass_init(cls: type, reserved: FrozenSet[str]) -> None:
    """Give ``cls`` an ``__init__`` from its annotations, as ``@dataclass`` would.

    Annotating one of the ``reserved`` names is refused.
    """
    restore: Dict[str, Any] = {}
    for name in own_annotation_names(cls):
        if name in reserved:
            raise TypeError(
                f"{cls.__qualname__} annotates {name!r}, which is an Aggregate "
                "property; choose another attribute name"
            )
        value = cls.__dict__.get(name, dataclasses.MISSING)
        if name == "id" and value is dataclasses.MISSING:
            value = _new_id_field()
            setattr(cls, name, value)
        elif value is dataclasses.MISSING and hasattr(cls, name):
            # Don't let an inherited attribute be taken as the field's default.
            value = dataclasses.field()
            setattr(cls, name, value)
        if isinstance(value, dataclasses.Field):
            restore[name] = value
    dataclasses.dataclass(eq=False, repr=False)(cls)
    for name, value in restore.items():
        setattr(cls, name, value)


def rebind_class_cells(functions: Iterable[Any], original: type, new_class: type) -> None:
    """Point zero-argument ``super()`` in ``functions`` at ``new_class``.

    Methods defined in a class body refer to that class through a
    ``__class__`` cell; a class replaced by another (as ``@aggregate`` does)
    is not in the new class's MRO, so ``super()`` would fail without this.
    """
    for func in functions:
        code = getattr(func, "__code__", None)
        closure = getattr(func, "__closure__", None)
        if code is None or not closure or "__class__" not in code.co_freevars:
            continue
        cell = closure[code.co_freevars.index("__class__")]
        if cell.cell_contents is original:
            cell.cell_contents = new_class
