"""Records ↔ proto messages, for every record type at once, through their JSON form.

The protos mirror the pydantic records field for field (same names, strings for the closed value
sets), so `json_format` maps one onto the other; pydantic still validates whatever comes in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, get_args, get_origin

from google.protobuf import json_format
from google.protobuf.message import Message
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

M = TypeVar("M", bound=BaseModel)
P = TypeVar("P", bound=Message)


class InvalidRequest(ValueError):
    """A request the servicer cannot act on; the server answers INVALID_ARGUMENT with the message."""


def to_proto(record: BaseModel | Mapping[str, Any], cls: type[P]) -> P:
    """A record (or a plain row such as a store returns) as a message of `cls`.

    None leaves an `optional` field unset. A field the message lacks is an error, not silently
    dropped: it means the proto and the record have drifted apart.
    """
    data = record.model_dump(mode="json") if isinstance(record, BaseModel) else dict(record)
    return json_format.ParseDict(data, cls())


def from_proto(msg: Message, model_cls: type[M]) -> M:
    """A message as a validated record (pydantic.ValidationError when it is not a valid one)."""
    data = json_format.MessageToDict(
        msg, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    return model_cls.model_validate(_empty_as_none(data, model_cls))


def field_from_proto(request: Message, field: str, model_cls: type[M]) -> M:
    """A request's record field, which must be set and valid (else InvalidRequest, saying why).

    An unset message field reads as an all-defaults message, which could validate as a blank record.
    """
    if not request.HasField(field):
        raise InvalidRequest(f"{field} is required")
    try:
        return from_proto(getattr(request, field), model_cls)
    except ValidationError as e:
        raise InvalidRequest(f"invalid {field}: {e}") from e


def _empty_as_none(data: dict[str, Any], model_cls: type[BaseModel]) -> dict[str, Any]:
    # A repeated or map field cannot be absent in proto3, so an empty one stands for the record's None
    # where None is its default (Sample.choices of a QA item); nested records are treated alike.
    out: dict[str, Any] = {}
    for name, value in data.items():
        field = model_cls.model_fields.get(name)
        if field is None:
            out[name] = value  # left to pydantic to refuse or ignore
            continue
        if isinstance(value, list | dict) and not value and _defaults_to_none(field):
            continue
        nested, many = _record_type(field.annotation)
        if nested is not None and many and isinstance(value, list):
            value = [_empty_as_none(v, nested) if isinstance(v, dict) else v for v in value]
        elif nested is not None and not many and isinstance(value, dict):
            value = _empty_as_none(value, nested)
        out[name] = value
    return out


def _defaults_to_none(field: FieldInfo) -> bool:
    return not field.is_required() and field.get_default(call_default_factory=True) is None


def _record_type(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The record type a field holds, and whether it is a list of them (Optional is seen through)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is list and args:
        nested, _ = _record_type(args[0])
        return nested, True
    if origin is not None and origin is not dict:  # Union / X | None
        for arg in args:
            nested, many = _record_type(arg)
            if nested is not None:
                return nested, many
    return None, False
