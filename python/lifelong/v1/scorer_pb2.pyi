from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ScoreRequest(_message.Message):
    __slots__ = ("user", "candidates", "mode", "timeout_ms")
    USER_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    user: str
    candidates: _containers.RepeatedScalarFieldContainer[str]
    mode: str
    timeout_ms: float
    def __init__(self, user: _Optional[str] = ..., candidates: _Optional[_Iterable[str]] = ..., mode: _Optional[str] = ..., timeout_ms: _Optional[float] = ...) -> None: ...

class ScoreReply(_message.Message):
    __slots__ = ("probabilities", "fingerprint")
    PROBABILITIES_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    probabilities: _containers.RepeatedScalarFieldContainer[float]
    fingerprint: str
    def __init__(self, probabilities: _Optional[_Iterable[float]] = ..., fingerprint: _Optional[str] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("user", "item", "timestamp", "label", "category")
    USER_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    user: str
    item: str
    timestamp: float
    label: bool
    category: str
    def __init__(self, user: _Optional[str] = ..., item: _Optional[str] = ..., timestamp: _Optional[float] = ..., label: _Optional[bool] = ..., category: _Optional[str] = ...) -> None: ...

class AppendRequest(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[Event]
    def __init__(self, events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ...) -> None: ...

class EventStatus(_message.Message):
    __slots__ = ("code", "reason")
    class Code(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        APPENDED: _ClassVar[EventStatus.Code]
        ALREADY_APPLIED: _ClassVar[EventStatus.Code]
        REFUSED: _ClassVar[EventStatus.Code]
    APPENDED: EventStatus.Code
    ALREADY_APPLIED: EventStatus.Code
    REFUSED: EventStatus.Code
    CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    code: EventStatus.Code
    reason: str
    def __init__(self, code: _Optional[_Union[EventStatus.Code, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class AppendReply(_message.Message):
    __slots__ = ("statuses", "appended", "refused")
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    APPENDED_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    statuses: _containers.RepeatedCompositeFieldContainer[EventStatus]
    appended: int
    refused: int
    def __init__(self, statuses: _Optional[_Iterable[_Union[EventStatus, _Mapping]]] = ..., appended: _Optional[int] = ..., refused: _Optional[int] = ...) -> None: ...

class DescribeRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DescribeReply(_message.Message):
    __slots__ = ("fingerprint", "version", "d", "items", "users", "shards", "writable", "max_candidates", "threads", "queue_capacity", "model", "store")
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    D_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    USERS_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    WRITABLE_FIELD_NUMBER: _ClassVar[int]
    MAX_CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    THREADS_FIELD_NUMBER: _ClassVar[int]
    QUEUE_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    fingerprint: str
    version: str
    d: int
    items: int
    users: int
    shards: int
    writable: bool
    max_candidates: int
    threads: int
    queue_capacity: int
    model: str
    store: str
    def __init__(self, fingerprint: _Optional[str] = ..., version: _Optional[str] = ..., d: _Optional[int] = ..., items: _Optional[int] = ..., users: _Optional[int] = ..., shards: _Optional[int] = ..., writable: _Optional[bool] = ..., max_candidates: _Optional[int] = ..., threads: _Optional[int] = ..., queue_capacity: _Optional[int] = ..., model: _Optional[str] = ..., store: _Optional[str] = ...) -> None: ...
