"""A light reader of typed settings from the environment (what `questlog.settings` uses).

Every command reads its settings before any work, and pydantic-settings costs a
cold command several bare interpreter starts of imports. This module reads the
same declarations (`name: type = Field(default=..., ge=..., description=...)`
on an `EnvSettings` subclass, `field_validator(name, mode="before")`) with the
standard library only, and validates them the way pydantic's lax mode does for
the types settings use: `int`, `float`, `bool`, `str`, `Path`, `SecretStr`,
`Literal[...]` and unions of them (with `None`). Keyword arguments win over the
environment (`<env_prefix><NAME>`, matched ignoring case); unknown keywords are
ignored; defaults are not validated. Every bad value is reported at once, in a
`SettingsError`.
"""

from __future__ import annotations

import operator
import os
import re
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal, NamedTuple, Union, get_args, get_origin

_MISSING: Any = object()


class FieldInfo(NamedTuple):
    """One declared setting: its default and its bounds."""

    default: Any = _MISSING
    default_factory: Callable[[], Any] | None = None
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    description: str = ""

    def make_default(self) -> Any:
        return self.default_factory() if self.default_factory is not None else self.default


def Field(default: Any = _MISSING, *, default_factory: Callable[[], Any] | None = None,
          ge: float | None = None, gt: float | None = None, le: float | None = None,
          lt: float | None = None, description: str = "") -> Any:
    """Declare a setting (the keywords of pydantic's `Field` that settings use)."""
    return FieldInfo(default, default_factory, ge, gt, le, lt, description)


class SecretStr:
    """A secret that never shows in repr or str (pydantic's `SecretStr` in short)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "SecretStr('**********')" if self._value else "SecretStr('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretStr) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class _BeforeValidator(NamedTuple):
    names: tuple[str, ...]
    method: Any  # the classmethod object


def field_validator(*names: str, mode: Literal["before"]) -> Callable[[Any], Any]:
    """Run a classmethod on a given value of these settings before its type is checked."""
    def decorate(method: Any) -> Any:
        return _BeforeValidator(names, method)

    return decorate


class SettingsError(ValueError):
    """Invalid settings: `errors` holds one {"loc", "input", "msg"} per bad value."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e['loc'][0]}={e['input']!r}: {e['msg']}" for e in errors))


class _Invalid(Exception):
    pass


_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+(\.0*)?")  # "5000.0" too, as pydantic reads it
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


def _number(value: Any, kind: type) -> Any:
    name, word = ("integer", "an integer") if kind is int else ("number", "a number")
    if isinstance(value, bool):
        if kind is int:
            raise _Invalid("Input should be a valid integer")
        return float(value)
    if kind is int:
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value.strip()):
            return int(value.strip().split(".")[0])
    elif isinstance(value, int | float):
        return float(value)
    elif isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    if isinstance(value, str):
        raise _Invalid(f"Input should be a valid {name}, unable to parse string as {word}")
    raise _Invalid(f"Input should be a valid {name}")


def _convert(kind: Any, value: Any) -> Any:
    """`value` as `kind`, or _Invalid with pydantic's wording."""
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        members = [m for m in get_args(kind) if m is not type(None)]
        if value is None and len(members) < len(get_args(kind)):
            return None
        for member in members:  # an exact instance is kept, as pydantic's smart unions do
            if isinstance(member, type) and type(value) is member:
                return value
        problems = []
        for member in members:
            try:
                return _convert(member, value)
            except _Invalid as exc:
                problems.append(str(exc))
        raise _Invalid(problems[0] if len(problems) == 1 else " or ".join(problems))
    if origin is Literal:
        choices = get_args(kind)
        if value in choices:
            return value
        shown = [repr(c) for c in choices]
        listed = shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"
        raise _Invalid(f"Input should be {listed}")
    if kind is Any:
        return value
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise _Invalid("Input should be a valid boolean, unable to interpret input")
    if kind is int or kind is float:
        return _number(value, kind)
    if kind is str:
        if isinstance(value, str):
            return value
        raise _Invalid("Input should be a valid string")
    if kind is Path:
        if isinstance(value, str | os.PathLike):
            return Path(value)
        raise _Invalid("Input should be a valid path")
    if kind is SecretStr:
        if isinstance(value, str):
            return SecretStr(value)
        secret = getattr(value, "get_secret_value", None)  # pydantic's SecretStr too
        if callable(secret):
            return SecretStr(str(secret()))
        raise _Invalid("Input should be a valid string")
    if isinstance(kind, type) and isinstance(value, kind):
        return value
    raise _Invalid(f"Input should be an instance of {getattr(kind, '__name__', kind)}")


def _check_bounds(info: FieldInfo, value: Any) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return
    for bound, holds, words in ((info.ge, operator.ge, "greater than or equal to"),
                                (info.gt, operator.gt, "greater than"),
                                (info.le, operator.le, "less than or equal to"),
                                (info.lt, operator.lt, "less than")):
        if bound is not None and not holds(value, bound):
            raise _Invalid(f"Input should be {words} {bound}")


def _is_class_var(annotation: Any) -> bool:
    if isinstance(annotation, str):
        return annotation.startswith(("ClassVar", "typing.ClassVar"))
    return annotation is ClassVar or get_origin(annotation) is ClassVar


class EnvSettings:
    """Base of a settings class: each annotated attribute is a setting read from
    `<env_prefix><NAME>` unless given as a keyword argument."""

    env_prefix: ClassVar[str] = ""
    _fields: ClassVar[dict[str, FieldInfo]]
    _kinds: ClassVar[dict[str, Any]]  # each setting's type, resolved when first needed
    _before: ClassVar[dict[str, list[Callable[[Any], Any]]]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        before: dict[str, list[Callable[[Any], Any]]] = {}
        for attr, value in list(vars(cls).items()):
            if isinstance(value, _BeforeValidator):
                setattr(cls, attr, value.method)
                for name in value.names:
                    before.setdefault(name, []).append(getattr(cls, attr))
        cls._before = before
        # The settings are the annotated names; their types are resolved only for the
        # values given (keywords, environment): evaluating all of them (typing's
        # get_type_hints) compiles every annotation, on every command's start.
        # Each name once, in declaration order (a base's first), by its most derived
        # annotation; declared in this class (a default or a Field), else as the base
        # class declared it (its default and bounds are inherited).
        annotations: dict[str, Any] = {}
        for owner in reversed(cls.__mro__):
            annotations.update(vars(owner).get("__annotations__", {}))
        inherited: dict[str, FieldInfo] = getattr(cls, "_fields", {})
        fields = {}
        for name, annotation in annotations.items():
            if name.startswith("_") or _is_class_var(annotation):
                continue
            declared = vars(cls).get(name, _MISSING)
            if isinstance(declared, FieldInfo):
                fields[name] = declared
                delattr(cls, name)  # instances hold the values
            elif declared is not _MISSING or name not in inherited:
                fields[name] = FieldInfo(default=declared)
            else:
                fields[name] = inherited[name]
        cls._fields = fields
        cls._kinds = {}

    @classmethod
    def _kind(cls, name: str) -> Any:
        """The declared type of setting `name`, evaluated as typing.get_type_hints does
        (in its class's module, the class's names as locals)."""
        kind = cls._kinds.get(name, _MISSING)
        if kind is _MISSING:
            owner = next(k for k in cls.__mro__ if name in vars(k).get("__annotations__", {}))
            kind = owner.__annotations__[name]
            if isinstance(kind, str):  # `from __future__ import annotations`
                kind = eval(kind, vars(sys.modules[owner.__module__]), dict(vars(owner)))
            cls._kinds[name] = kind
        return kind

    def __init__(self, **values: Any) -> None:
        environ = {key.lower(): text for key, text in os.environ.items()}
        errors: list[dict[str, Any]] = []
        for name, info in self._fields.items():
            if name in values:
                given = values[name]
            else:
                given = environ.get(f"{self.env_prefix}{name}".lower(), _MISSING)
            if given is _MISSING:
                default = info.make_default()
                if default is _MISSING:
                    errors.append({"loc": (name,), "input": None, "msg": "Field required"})
                object.__setattr__(self, name, default)
                continue
            try:
                value = given
                for validator in self._before.get(name, ()):
                    value = validator(value)
                value = _convert(self._kind(name), value)
                _check_bounds(info, value)
            except (_Invalid, ValueError) as exc:
                errors.append({"loc": (name,), "input": given, "msg": str(exc)})
                continue
            object.__setattr__(self, name, value)
        if errors:
            raise SettingsError(errors)

    @classmethod
    def fields(cls) -> dict[str, FieldInfo]:
        """Every setting's declaration, by name."""
        return dict(cls._fields)

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._fields}

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.values() == self.values()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={value!r}" for name, value in self.values().items())
        return f"{type(self).__name__}({shown})"
