"""Methods that dispatch on the type of their first argument after ``self``.

Used for aggregate projections (``apply(self, event)`` with one registered
function per event class) and for process application policies. Unlike
``functools.singledispatchmethod``, registrations whose annotation can't be
resolved yet (a forward reference to a class defined later in the same
class body) are deferred until the method is first used, and the bound
method does not rebuild a wrapper function on every attribute access.
"""

from __future__ import annotations

import functools
from types import FunctionType
from typing import Any, Callable, Dict, Generic, List, Optional, Tuple, TypeVar, cast, overload

__all__ = ["singledispatchmethod"]

T = TypeVar("T")
TFunc = TypeVar("TFunc", bound=Callable[..., Any])


class singledispatchmethod(Generic[T]):
    """Decorator: a method dispatching on the class of its first argument.

    Register implementations with ``@method.register(SomeClass)`` or with
    ``@method.register`` on a function whose first argument after ``self`` is
    annotated with the class.
    """

    def __init__(self, func: Callable[..., T]) -> None:
        if not callable(func) and not hasattr(func, "__get__"):
            raise TypeError(f"{func!r} is not callable or a descriptor")
        self.func = func
        self.dispatcher = functools.singledispatch(func)
        self._deferred: List[Tuple[Any, Optional[Callable[..., Any]]]] = []
        self._cache: Dict[type, Callable[..., Any]] = {}
        functools.update_wrapper(cast(Any, self), func)

    @overload
    def register(self, cls: type, method: None = None) -> Callable[[TFunc], TFunc]: ...

    @overload
    def register(self, cls: TFunc, method: None = None) -> TFunc: ...

    @overload
    def register(self, cls: type, method: TFunc) -> TFunc: ...

    def register(self, cls: Any, method: Optional[Callable[..., Any]] = None) -> Any:
        """Register ``method`` (or the decorated function) for ``cls``."""
        self._cache.clear()
        try:
            return self.dispatcher.register(cls, func=method)
        except NameError:
            # A forward reference: resolve when the method is first used.
            self._deferred.append((cls, method))
            return cls if method is None else method

    def _resolve_deferred(self) -> None:
        deferred, self._deferred = self._deferred, []
        for cls, method in deferred:
            try:
                self.dispatcher.register(cls, func=method)
            except NameError as e:
                raise TypeError(
                    f"Cannot register {cls!r} with {self.func!r}: its annotation "
                    f"could not be resolved ({e})"
                ) from e

    def dispatch(self, cls: type) -> Callable[..., Any]:
        """The implementation registered for ``cls`` (or its nearest base)."""
        if self._deferred:
            self._resolve_deferred()
        try:
            return self._cache[cls]
        except KeyError:
            impl = self.dispatcher.dispatch(cls)
            self._cache[cls] = impl
            return impl

    def __get__(self, obj: Any, cls: Optional[type] = None) -> Callable[..., T]:
        return _BoundDispatchMethod(self, obj, cls)

    @property
    def __isabstractmethod__(self) -> bool:
        return bool(getattr(self.func, "__isabstractmethod__", False))


class _BoundDispatchMethod(Generic[T]):
    # A dispatching method bound to an object (cheap to make on each access).

    __slots__ = ("_cls", "_method", "_obj")

    def __init__(self, method: singledispatchmethod[T], obj: Any, cls: Optional[type]) -> None:
        self._method = method
        self._obj = obj
        self._cls = cls

    def __call__(self, *args: Any, **kwargs: Any) -> T:
        if not args:
            raise TypeError(
                f"{self._method.func.__qualname__}() requires an argument to dispatch on"
            )
        impl = self._method.dispatch(args[0].__class__)
        if isinstance(impl, FunctionType):
            return impl(self._obj, *args, **kwargs)  # type: ignore[no-any-return]
        return impl.__get__(self._obj, self._cls)(*args, **kwargs)  # type: ignore[no-any-return]

    @property
    def __doc__(self) -> Optional[str]:  # type: ignore[override]
        return self._method.func.__doc__

    @property
    def register(self) -> Any:
        return self._method.register

    def __getattr__(self, name: str) -> Any:
        return getattr(self._method.func, name)
