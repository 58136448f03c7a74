"""Field validation for request bodies, with DRF 2's messages and {field: [msg]} errors."""
from __future__ import annotations

from typing import Any

from sentrail.http.errors import FieldErrors

_TRUE = (True, 'true', 'True', '1', 1)
_FALSE = (False, 'false', 'False', '0', 0)


def boolean(name: str, value: Any) -> bool:
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise FieldErrors({name: [f"'{value}' value must be either True or False."]})


def integer(name: str, value: Any, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise FieldErrors({name: ['Enter a whole number.']})
    try:
        number = int(value)
    except ValueError:
        raise FieldErrors({name: ['Enter a whole number.']}) from None
    if minimum is not None and number < minimum:
        raise FieldErrors({name: [f'Ensure this value is greater than or equal to {minimum}.']})
    if maximum is not None and number > maximum:
        raise FieldErrors({name: [f'Ensure this value is less than or equal to {maximum}.']})
    return number


def string(name: str, value: Any, max_length: int | None = None, required: bool = True) -> str:
    if not isinstance(value, str) or (required and not value.strip()):
        raise FieldErrors({name: ['This field is required.' if value in (None, '') else 'Not a valid string.']})
    if max_length is not None and len(value) > max_length:
        raise FieldErrors({name: [f'Ensure this field has no more than {max_length} characters.']})
    return value


def optional_string(name: str, value: Any, max_length: int | None = None) -> str | None:
    return None if value is None else string(name, value, max_length, required=False)


def string_list(name: str, value: Any) -> list[str]:
    if isinstance(value, str):
        value = [line for line in value.splitlines() if line.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise FieldErrors({name: ['Expected a list of strings.']})
    return value


def choice(name: str, value: Any, choices: tuple[str, ...] | list[str]) -> str:
    if value not in choices:
        raise FieldErrors({name: [f'Select a valid choice. {value} is not one of the available choices.']})
    return value


def required(body: dict, name: str) -> Any:
    if body.get(name) in (None, ''):
        raise FieldErrors({name: ['This field is required.']})
    return body[name]


