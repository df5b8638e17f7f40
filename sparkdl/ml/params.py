"""Shared plumbing of the Spark ML stages: checked param updates and mapping params stored as JSON."""
from __future__ import annotations

import json

from pyspark.ml.param import Param, Params, TypeConverters

from ..config import parse_mapping
from ..errors import ConfigError


def mapping_param(name: str, doc: str) -> Param:
    """A {model tensor name: column} param, stored as a JSON object string ("": automatic)."""
    return Param(Params._dummy(), name, doc, typeConverter=TypeConverters.toString)


def mapping_json(value, what: str) -> str:
    """A dict, a "name=col,..." string or a JSON object string, checked, as the JSON a param stores."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise ConfigError(f"{what}: {value!r} is not a JSON object ({error}); "
                              f"give a dict or name=column[,name=column...]") from None
    return json.dumps(dict(parse_mapping(value, what))) if value not in (None, "") else ""


def read_mapping(value: str):
    """The dict a mapping param holds, or None for automatic."""
    return json.loads(value or "{}") or None


def converted(owner: str, instance: Params, values: dict) -> dict:
    """`values` passed through each param's type converter; a TypeError becomes a ConfigError."""
    result = {}
    for name, value in values.items():
        param = instance.getParam(name)
        try:
            result[name] = None if value is None else param.typeConverter(value)
        except TypeError as error:
            raise ConfigError(f"{owner}: param {name} cannot take {value!r} ({error})") from None
    return result


def merged(instance: Params, values: dict) -> dict:
    """Every param's value once `values` are applied (None: the default); unset ones are absent."""
    state = {p.name: instance.getOrDefault(p) for p in instance.params if instance.isDefined(p)}
    for name, value in values.items():
        param = instance.getParam(name)
        if value is not None:
            state[name] = value
        elif instance.hasDefault(param):
            state[name] = instance._defaultParamMap[param]
        else:
            state.pop(name, None)
    return state


def apply(instance: Params, values: dict):
    """Set the params in `values`; None clears one back to its default. Returns `instance`."""
    for name, value in values.items():
        if value is None:
            instance.clear(instance.getParam(name))
        else:
            instance._set(**{name: value})
    return instance
