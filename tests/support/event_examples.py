"""Example events of any type, built from the type's fields, and reading one back from its table.

`example` gives one fixed event per type; `any_event` a Hypothesis strategy drawing every field from its
type, so a property test covers every event type without restating its fields.
"""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import strategies as st

from pairflow import events
from pairflow.storage import Store, table_for

__all__ = ["TS", "any_event", "example", "read_back"]

TS = 1_750_000_000_123


def _value(info: Any, name: str, filled: bool) -> Any:
    """A value of a field's type; ``filled`` False leaves optional parts empty."""
    if isinstance(info, msgspec.inspect.UnionType):
        kinds = [kind for kind in info.types if not isinstance(kind, msgspec.inspect.NoneType)]
        return _value(kinds[0], name, filled) if filled else None
    if isinstance(info, msgspec.inspect.LiteralType):
        return info.values[-1] if filled else info.values[0]
    if isinstance(info, msgspec.inspect.BoolType):
        return filled
    if isinstance(info, msgspec.inspect.IntType):
        return TS + len(name) if name.endswith("ts") or name in ("window_start", "window_end") else 40 + len(name)
    if isinstance(info, msgspec.inspect.FloatType):
        return 0.125 * len(name) - 1.0
    if isinstance(info, msgspec.inspect.StrType):
        return f"{name}-{'x' if filled else 'y'}"
    if isinstance(info, msgspec.inspect.VarTupleType):
        return tuple(_value(info.item_type, f"{name}{index}", True) for index in range(3 if filled else 0))
    if isinstance(info, msgspec.inspect.StructType):
        return info.cls(**{field.name: _value(field.type, field.name, filled) for field in info.fields})
    if isinstance(info, msgspec.inspect.DictType):
        count = 2 if filled else 0
        return {f"k{index}": _value(info.value_type, f"{name}{index}", True) for index in range(count)}
    raise AssertionError(f"no example value for {info!r} ({name})")


def example(cls: type[events.Event], filled: bool) -> events.Event:
    """An event of ``cls`` with every field set, optional fields set (``filled``) or empty."""
    values = {field.name: _value(field.type, field.name, filled) for field in msgspec.inspect.type_info(cls).fields}
    values["id"] = f"{cls.__name__}:{filled}"
    if cls is events.Bar:
        values["interval"] = "1s" if filled else "1m"
    return cls(**values)


def _strategy(info: Any) -> st.SearchStrategy[Any]:
    if isinstance(info, msgspec.inspect.UnionType):
        return st.one_of([_strategy(kind) for kind in info.types])
    if isinstance(info, msgspec.inspect.NoneType):
        return st.none()
    if isinstance(info, msgspec.inspect.LiteralType):
        return st.sampled_from(info.values)
    if isinstance(info, msgspec.inspect.BoolType):
        return st.booleans()
    if isinstance(info, msgspec.inspect.IntType):
        return st.integers(min_value=0, max_value=2**53)
    if isinstance(info, msgspec.inspect.FloatType):
        return st.floats(allow_nan=False, allow_infinity=False)
    if isinstance(info, msgspec.inspect.StrType):
        return st.text(max_size=20)
    if isinstance(info, msgspec.inspect.VarTupleType):
        return st.lists(_strategy(info.item_type), max_size=4).map(tuple)
    if isinstance(info, msgspec.inspect.StructType):
        return st.builds(info.cls, **{field.name: _strategy(field.type) for field in info.fields})
    if isinstance(info, msgspec.inspect.DictType):
        return st.dictionaries(_strategy(info.key_type), _strategy(info.value_type), max_size=4)
    raise AssertionError(f"no strategy for {info!r}")


def any_event(cls: type[events.Event]) -> st.SearchStrategy[events.Event]:
    """A Hypothesis strategy of ``cls`` events: every field drawn from its type (finite floats, any text)."""
    return _strategy(msgspec.inspect.type_info(cls))


def read_back(store: Store, cls: type[events.Event], event: events.Event) -> events.Event:
    fields = [field.name for field in msgspec.inspect.type_info(cls).fields]
    columns = ", ".join(f"`{name}`" for name in fields)
    rows = store.select(table_for(event), columns, "id = {id:String}", {"id": event.id})
    assert len(rows) == 1, rows
    return msgspec.convert(rows[0], cls)
