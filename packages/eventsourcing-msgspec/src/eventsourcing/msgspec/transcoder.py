"""msgspec encodes and decodes JSON in C; the transcodings stay the standard ones.

Writing: msgspec writes ``UUID``, ``datetime`` and ``Decimal`` in forms of
its own and calls no hook for them, so state is first copied with every
registered type replaced by its ``{"_type_": ..., "_data_": ...}`` form.
Anything msgspec would write differently from the standard encoder
(subclasses of basic types, non-string keys, integers beyond 64 bits, NaN
and infinities, strings that are not valid Unicode, circular structures,
unregistered types) is handed to the standard path, which writes it or
raises its usual error. Output is compact and UTF-8 rather than
``json.dumps``'s ASCII with spaces: different bytes, the same JSON, which
every JSON transcoder reads.

Reading: the usual state, a dict of scalars, lists and transcoded values,
is read by a typed msgspec decoder that reads each transcoded value as a
tagged struct, so Python looks at the top-level values only; any other
document (a nested plain dict, an unknown ``_type_``, repeated keys in a
transcoded value, numbers msgspec does not read) fails that decoder and
is read by msgspec untyped and walked, or, where msgspec cannot read it,
by the standard decoder. Either way the result is the standard decoder's.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from decimal import Decimal
from functools import partial
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union
from uuid import UUID

import msgspec
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    DictFreeStates,
    JSONTranscoder,
    Transcoding,
    UUIDAsHex,
)

_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1  # what msgspec writes as integers
_isfinite = math.isfinite
_SCALAR: Any = object()  # in decode(): a value that is kept as it is
_LIST: Any = object()  # in decode(): a list, walked


class _Unsupported(Exception):
    """State that the standard path must write."""


class MsgspecTranscoder(JSONTranscoder):
    """:class:`~eventsourcing.persistence.JSONTranscoder` with msgspec doing the JSON."""

    def __init__(self) -> None:
        super().__init__()
        self._msgspec_encode = msgspec.json.Encoder().encode
        self._msgspec_decode = msgspec.json.Decoder().decode
        self._encoders: Dict[type, Tuple[str, Callable[[Any], Any]]] = {}
        self._strings: Dict[str, Callable[[str], Any]] = {}
        self._typed = _typed_state(self.names, self._restore)

    def register(self, transcoding: Transcoding | type[Transcoding]) -> None:
        super().register(transcoding)
        # Each remade whole and replaced in one assignment: an encode() or
        # decode() running meanwhile uses the old or the new, never half of each.
        self._encoders = {
            cls: (t.name, _NATIVE_ENCODE.get(type(t)) or t.encode) for cls, t in self.types.items()
        }
        self._strings = {name: _STRINGS.get(type(t)) or t.decode for name, t in self.names.items()}
        self._typed = _typed_state(self.names, self._restore)

    def encode(self, obj: Any) -> bytes:
        try:
            if type(obj) is dict:
                return self._msgspec_encode(self._plain_dict(obj))
            return self._msgspec_encode(self._plain(obj))
        except (_Unsupported, RecursionError, UnicodeEncodeError):
            return super().encode(obj)

    def decode(self, data: bytes) -> Any:
        # One document is read untyped and walked: the typed decoder pays
        # only for pages (0.40 against 0.74 us per state of the benchmark),
        # and its failure on a state that is not flat costs 0.5 to 0.7 us.
        try:
            obj = self._msgspec_decode(data)
        except msgspec.DecodeError:
            # NaN, huge exponents, damaged documents: the standard reader
            # reads them as before, or raises its usual error.
            return super().decode(data)
        return self._restore(obj)

    def decode_many(self, data: Sequence[bytes]) -> List[Any]:
        typed_decode, forms = self._typed
        try:
            # All decoded, then all converted: 0.36 us per state of the
            # benchmark; 0.47 us decoding and converting each in turn.
            states = [typed_decode(item) for item in data]
        except msgspec.DecodeError:
            # Some state is not flat (most likely a nested plain dict): the
            # page is read as decode() reads one state, with no more typed
            # attempts, each of which would cost 0.5 to 0.7 us to fail.
            return [self.decode(item) for item in data]
        return self._converted(states, forms)

    def _converted(self, states: List[Dict[str, Any]], forms: Dict[type, Any]) -> List[Any]:
        """``states`` as the typed decoder read them, with the values the
        standard decoder's object hook makes (in place); ``forms`` is the
        decoder's (see :func:`_typed_state`).

        The typed decoder reads no dict as a value, so the states come back
        as :class:`~eventsourcing.persistence.DictFreeStates` unless a
        transcoding made a dict of one, or a whole state was a transcoded value.
        """
        dict_free = True
        for i, state in enumerate(states):
            for key, value in state.items():
                convert = forms.get(type(value), _SCALAR)
                if convert is not _SCALAR:
                    if convert is None:
                        state[key] = value.data
                    elif convert is _LIST:
                        state[key] = self._restore(value)
                    else:
                        converted = state[key] = convert(value.data)
                        if type(converted) is dict:
                            dict_free = False
            if len(state) == 2 and "_type_" in state and "_data_" in state:
                states[i] = self._decode_obj(state)
                dict_free = False
        return DictFreeStates(states) if dict_free else states

    def _plain(self, o: Any) -> Any:
        """``o`` with registered types replaced by their transcoded form."""
        t = type(o)
        if t is dict:
            return self._plain_dict(o)
        if t is str or t is bool or o is None:
            return o
        if t is int:
            if _INT_MIN <= o <= _INT_MAX:
                return o
            raise _Unsupported
        if t is float:
            if math.isfinite(o):
                return o
            raise _Unsupported
        if t is list or t is tuple:
            return [self._plain(value) for value in o]
        return self._transcoded(o)

    def _plain_dict(self, o: Dict[Any, Any]) -> Dict[str, Any]:
        # State is mostly dicts of strings, numbers and registered types:
        # those are handled here rather than by a call per value (encoding
        # 5,000 events' states: 1.37x the stdlib rate, 1.24x with a call per
        # value), and the dict is copied only when a value is replaced.
        plain = o
        encoders = self._encoders
        for key, value in o.items():
            if type(key) is not str:
                raise _Unsupported
            t = type(value)
            if t is str or t is bool or value is None:
                continue
            if t is int and _INT_MIN <= value <= _INT_MAX:
                continue
            if t is float and _isfinite(value):
                continue
            if plain is o:
                plain = dict(o)
            if t in encoders:
                name, encode = encoders[t]
                data = encode(value)
                plain[key] = {
                    "_type_": name,
                    "_data_": data if type(data) is str else self._plain(data),
                }
            else:
                plain[key] = self._plain(value)
        return plain

    def _transcoded(self, o: Any) -> Dict[str, Any]:
        """The ``{"_type_": ..., "_data_": ...}`` form of a registered type's value."""
        try:
            name, encode = self._encoders[type(o)]
        except KeyError:
            raise _Unsupported from None
        data = encode(o)
        return {"_type_": name, "_data_": data if type(data) is str else self._plain(data)}

    def _restore(self, o: Any) -> Any:
        """What the standard decoder's object hook makes of ``o``, innermost first."""
        if type(o) is dict:
            if len(o) == 2 and type(o.get("_type_")) is str and type(o.get("_data_")) is str:
                # A transcoded value with string data, the usual kind: read
                # without a walk, and UUIDs by msgspec (see _STRINGS).
                decode = self._strings.get(o["_type_"])
                if decode is not None:
                    return decode(o["_data_"])
            for key, value in o.items():
                if type(value) is dict or type(value) is list:
                    o[key] = self._restore(value)
            return self._decode_obj(o)
        if type(o) is list:
            items: List[Any] = o
            for i, value in enumerate(items):
                if type(value) is dict or type(value) is list:
                    items[i] = self._restore(value)
        return o


# How the built-in transcodings' forms are read: the type msgspec reads the
# ``_data_`` string as, and what then makes the value (None: msgspec did).
# msgspec reads a UUID from fewer strings than UUID() does, to the same value;
# for datetime, fromisoformat() itself: msgspec's RFC 3339 reader accepts
# strings fromisoformat() refuses ("t", "z") and rounds what it truncates
# (more than 6 digits of a second). Strings refused take the walk.
_NATIVE: Dict[type, Tuple[type, Optional[Callable[[str], Any]]]] = {
    UUIDAsHex: (UUID, None),
    DatetimeAsISO: (str, datetime.fromisoformat),
}


def _uuid(data: str) -> UUID:
    """``UUID(data)``: by msgspec where it reads ``data`` (0.29 us instead of
    0.64), else by ``UUID()`` itself, which reads more forms or raises."""
    try:
        return _convert(data, UUID)
    except msgspec.ValidationError:
        return UUID(data)


_convert = msgspec.convert

# What the built-in transcodings' decode() methods do with string data, done
# without calling them, where a walk meets their forms.
_STRINGS: Dict[type, Callable[[str], Any]] = {
    UUIDAsHex: _uuid,
    DatetimeAsISO: datetime.fromisoformat,
}

_write = msgspec.json.Encoder().encode
_UTC = timezone.utc


def _isoformat(value: datetime) -> str:
    """``value.isoformat()``, written by msgspec where it writes the same
    string but for the "Z" it writes for UTC: 0.13 us instead of 0.60 per
    datetime, and about a third of what encoding an event's state cost."""
    tz = value.tzinfo
    if tz is None:
        return _write(value)[1:-1].decode()
    if tz is _UTC:
        return _write(value)[1:-2].decode() + "+00:00"
    return value.isoformat()


def _writes_isoformat() -> bool:
    """Whether this msgspec writes datetimes as :func:`_isoformat` expects."""
    probes = [
        datetime(2026, 1, 2, 3, 4, 5, microsecond, tz)
        for microsecond in (0, 1, 120000, 999999)
        for tz in (None, _UTC)
    ]
    probes.append(datetime(1, 1, 1))
    return all(_isoformat(d) == d.isoformat() for d in probes)


# What the built-in transcodings' encode() methods do, done without calling
# them: one Python call less per value (0.09 us per datetime, with isoformat()).
_NATIVE_ENCODE: Dict[type, Callable[[Any], str]] = {
    DatetimeAsISO: _isoformat if _writes_isoformat() else datetime.isoformat,
    DecimalAsStr: Decimal.__str__,
}


def _typed_state(
    names: Dict[str, Transcoding], restore: Callable[[Any], Any]
) -> Tuple[Callable[[bytes], Dict[str, Any]], Dict[type, Any]]:
    """A msgspec decoder for the usual state, and what converts its values.

    The usual state is a dict of scalars, lists and transcoded values: the
    decoder reads each ``{"_type_": ..., "_data_": ...}`` as a tagged struct,
    so no Python code looks inside the dicts of the document. The second
    item maps the type of a value of the decoded dict to what converts it:
    for a struct, what makes the value of its ``_data_`` (``None`` where
    msgspec made it), for lists ``_LIST`` (the walk). Scalars are not in it.
    """
    forms: Dict[type, Any] = {list: _LIST}
    for name, transcoding in names.items():
        data_type, convert = _NATIVE.get(type(transcoding), (Any, None))
        if data_type is Any:
            convert = partial(_decode_data, transcoding, restore)
        form = msgspec.defstruct(
            "Transcoded",
            [("data", data_type, msgspec.field(name="_data_"))],
            tag_field="_type_",
            tag=name,
            forbid_unknown_fields=True,
        )
        forms[form] = convert
    structs = [form for form in forms if form is not list]
    value: Any = Union[tuple([None, bool, int, float, str, List[Any], *structs])]
    return msgspec.json.Decoder(Dict[str, value]).decode, forms


def _decode_data(transcoding: Transcoding, restore: Callable[[Any], Any], data: Any) -> Any:
    """What ``transcoding`` makes of ``data``, innermost values first."""
    if type(data) is dict or type(data) is list:
        data = restore(data)
    return transcoding.decode(data)
