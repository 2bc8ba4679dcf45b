"""Multi partitions: the cartesian product of named dimensions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any, ClassVar

from ..errors import DefinitionError, InvalidPartition
from ._definition import PartitionsDefinition, definition_error
from ._dynamic import DynamicPartitions
from ._encoding import (
    ESCAPE,
    NAME_SEPARATOR,
    PAIR_SEPARATOR,
    escape,
    has_control_characters,
    show,
    split_multi,
    type_name,
)
from ._set import PartitionSet
from ._space import Axis, ProductSpace, Space
from ._time_window import TimeWindowPartitions

DynamicKeys = Sequence[str] | Mapping[str, Sequence[str]]


class MultiPartitions(PartitionsDefinition):
    """Partitions along several named dimensions at once, e.g. tenant × date.

    ``MultiPartitions({"tenant": StaticPartitions(["acme", "beta"]),
    "date": DailyPartitions("2024-01-01")})`` has keys
    ``{"tenant": "acme", "date": date(2024, 1, 1)}``, encoded as
    ``"tenant=acme|date=2024-01-01"`` (``\\``, ``|`` and ``=`` inside values are escaped with
    ``\\``). Keys are ordered by the first dimension, then the next. At most one dimension
    may be time windows, and dimensions cannot nest.
    """

    kind: ClassVar[str] = "multi"

    def __init__(self, dimensions: Mapping[str, PartitionsDefinition]) -> None:
        _check_dimensions(dimensions)
        self._dimensions = dict(dimensions)
        self._names = tuple(self._dimensions)

    @property
    def dimensions(self) -> Mapping[str, PartitionsDefinition]:
        """The dimensions, by name, in order (read-only)."""
        return MappingProxyType(self._dimensions)

    @property
    def time_dimension(self) -> str | None:
        """The name of the time-window dimension, if there is one."""
        for name, definition in self._dimensions.items():
            if isinstance(definition, TimeWindowPartitions):
                return name
        return None

    def validate(self, key: Any) -> Any:
        if key is None:
            raise self._invalid(None, "is not a key (a partitioned asset needs one)")
        if isinstance(key, str):
            pairs = split_multi(key)
            if pairs is None:
                raise self._invalid(key, "is not of the form 'name=value|name=value'")
            names = [name for name, _ in pairs]
            for name in names:
                if names.count(name) > 1:
                    raise self._invalid(key, f"names dimension {name!r} twice")
            return self._validate_values(dict(pairs), key)
        if isinstance(key, Mapping):
            return self._validate_values(key, key)
        raise self._invalid(key, f"is {type_name(key)}, not a dict or a string")

    def encode(self, key: Any) -> str:
        canonical = self.validate(key)
        return PAIR_SEPARATOR.join(
            f"{name}{NAME_SEPARATOR}{escape(dim.encode(canonical[name]))}"
            for name, dim in self._dimensions.items()
        )

    def all(
        self, *, now: datetime | None = None, dynamic_keys: DynamicKeys | None = None
    ) -> PartitionSet:
        axes = [
            _axis(dim.all(now=now, dynamic_keys=self._dynamic_keys(name, dynamic_keys)))
            for name, dim in self._dimensions.items()
        ]
        return self._box(axes)

    def range(
        self, first: Any, last: Any, *, dynamic_keys: DynamicKeys | None = None
    ) -> PartitionSet:
        """Return the box of keys whose every dimension lies between ``first``'s and
        ``last``'s value for it, e.g. tenants a..c × days 1..7."""
        first, last = self.validate(first), self.validate(last)
        axes = [
            _axis(
                dim.range(
                    first[name], last[name], dynamic_keys=self._dynamic_keys(name, dynamic_keys)
                )
            )
            for name, dim in self._dimensions.items()
        ]
        return self._box(axes)

    def with_dimension(
        self,
        dimension: str,
        value: Any,
        *,
        now: datetime | None = None,
        dynamic_keys: DynamicKeys | None = None,
    ) -> PartitionSet:
        """Return every key whose ``dimension`` is ``value`` (the other dimensions range over
        ``all(now=now, dynamic_keys=dynamic_keys)``)."""
        if dimension not in self._dimensions:
            names = ", ".join(repr(n) for n in self._names)
            raise InvalidPartition(
                f"{self.describe()} have no dimension {dimension!r}; expected one of {names}"
            )
        axes = []
        for name, dim in self._dimensions.items():
            if name == dimension:
                axes.append(_axis(dim.range(value, value)))
            else:
                keys = self._dynamic_keys(name, dynamic_keys)
                axes.append(_axis(dim.all(now=now, dynamic_keys=keys)))
        return self._box(axes)

    def example(self) -> str:
        return PAIR_SEPARATOR.join(
            f"{name}{NAME_SEPARATOR}{escape(dim.example())}"
            for name, dim in self._dimensions.items()
        )

    def describe(self) -> str:
        parts = " × ".join(f"{name}: {dim.describe()}" for name, dim in self._dimensions.items())
        return f"multi partitions ({parts})"

    def __repr__(self) -> str:
        return f"MultiPartitions({self._dimensions!r})"

    # -- internals ---------------------------------------------------------------------

    def _identity(self) -> tuple[Any, ...]:
        return ("MultiPartitions", tuple(self._dimensions.items()))

    def _expectation(self) -> str:
        names = ", ".join(repr(name) for name in self._names)
        shape = PAIR_SEPARATOR.join(f"{name}{NAME_SEPARATOR}…" for name in self._names)
        return f"a dict with keys {names} or a string {shape!r}"

    def _validate_values(self, values: Mapping[Any, Any], found: Any) -> dict[str, Any]:
        for name in values:
            if name not in self._dimensions:
                raise self._invalid(found, f"has unknown dimension {name!r}")
        canonical: dict[str, Any] = {}
        for name, dim in self._dimensions.items():
            if name not in values:
                raise self._invalid(found, f"is missing dimension {name!r}")
            try:
                canonical[name] = dim.validate(values[name])
            except InvalidPartition as exc:
                raise InvalidPartition(
                    f"partition {show(found)} of {self._label()} has an invalid {name!r}: {exc}"
                ) from None
        return canonical

    def _dynamic_keys(self, name: str, given: DynamicKeys | None) -> Sequence[str] | None:
        dim = self._dimensions[name]
        if not isinstance(dim, DynamicPartitions) or given is None:
            return None
        if isinstance(given, Mapping):
            found = given.get(name, given.get(dim.name))
            return None if found is None else list(found)
        dynamic = [n for n, d in self._dimensions.items() if isinstance(d, DynamicPartitions)]
        if len(dynamic) > 1:
            raise TypeError(
                f"{self.describe()} has several dynamic dimensions ({', '.join(dynamic)});"
                " pass dynamic_keys as a dict from dimension name to stored keys"
            )
        return list(given)

    def _box(self, axes: Sequence[Axis]) -> PartitionSet:
        space = ProductSpace(self._names, axes)
        return PartitionSet(self, space, ((0, space.size),))

    def _space_for(self, keys: Sequence[Any]) -> Space:
        axes = []
        for name, dim in self._dimensions.items():
            values = [key[name] for key in keys]
            space = dim._space_for(values)
            indices = [space.index_of(value) for value in values]
            known = [i for i in indices if i is not None]
            axes.append(Axis(space, min(known), max(known) + 1) if known else Axis(space, 0, 0))
        return ProductSpace(self._names, axes)

    def __getstate__(self) -> dict[str, Any]:
        return {"dimensions": self._dimensions}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._dimensions = state["dimensions"]
        self._names = tuple(self._dimensions)


def _axis(dimension_set: PartitionSet) -> Axis:
    runs = dimension_set._runs
    if not runs:
        return Axis(dimension_set._space, 0, 0)
    return Axis(dimension_set._space, runs[0][0], runs[-1][1])


def _check_dimensions(dimensions: Any) -> None:
    if not isinstance(dimensions, Mapping):
        raise definition_error(
            "MultiPartitions",
            "dimensions",
            dimensions,
            f"is {type_name(dimensions)}",
            "a dict from dimension name to partitions definition",
        )
    if len(dimensions) < 2:
        raise definition_error(
            "MultiPartitions",
            "dimensions",
            dimensions,
            "has fewer than two dimensions",
            "two or more; with one dimension, use its definition directly",
        )
    for name, dim in dimensions.items():
        _check_dimension(name, dim)
    time = [name for name, dim in dimensions.items() if isinstance(dim, TimeWindowPartitions)]
    if len(time) > 1:
        raise DefinitionError(
            f"MultiPartitions dimensions {' and '.join(repr(n) for n in time)} are both time"
            " windows; expected at most one time dimension: a key with two time windows has no"
            " single window in time, so time-window mappings and 'the last complete window'"
            " would be ambiguous. Keep one time dimension and make the others static or dynamic"
        )


def _check_dimension(name: Any, dim: Any) -> None:
    specials = (ESCAPE, PAIR_SEPARATOR, NAME_SEPARATOR)
    if (
        not isinstance(name, str)
        or not name
        or has_control_characters(name)
        or any(ch in name for ch in specials)
    ):
        raise definition_error(
            "MultiPartitions",
            "dimension name",
            name,
            "is not usable",
            "a non-empty string without control characters, '|', '=' or '\\', e.g. 'tenant'",
        )
    if isinstance(dim, MultiPartitions):
        raise definition_error(
            "MultiPartitions",
            f"dimension {name!r}",
            dim,
            "is itself multi partitions",
            "a single-dimension definition; list its dimensions at the top level instead",
        )
    if not isinstance(dim, PartitionsDefinition):
        raise definition_error(
            "MultiPartitions",
            f"dimension {name!r}",
            dim,
            f"is {type_name(dim)}",
            "a partitions definition such as StaticPartitions([...]) or DailyPartitions(...)",
        )
