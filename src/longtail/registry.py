"""One generic registry for every pluggable component (losses, samplers, strategies, ...).

Anywhere a component is accepted, the user may pass a registered name (``"focal"``), a spec
mapping (``{"name": "focal", "gamma": 2.0}``) or a ready object. Unknown names fail with the list of
valid ones, so there is no string dispatch anywhere else in the code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from longtail.errors import LongtailError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to factories: ``register(name)`` decorates, ``build(spec, **context)`` creates."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._factories:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._factories[name] = factory
            return factory

        return decorator

    def names(self) -> list[str]:
        return sorted(self._factories)

    def __contains__(self, name: object) -> bool:
        return name in self._factories

    def get(self, name: str) -> Callable[..., T]:
        if name not in self._factories:
            raise LongtailError(
                f"unknown {self.kind} {name!r}; valid names: {', '.join(self.names())}"
            )
        return self._factories[name]

    def build(self, spec: str | Mapping[str, Any] | T, **context: Any) -> T:
        """Create a component from a name or ``{"name": ..., **params}``; objects pass through.

        ``context`` carries what the caller knows (task, class counts, ...); ``params`` from the
        spec are the user's choices. Both are passed to the factory as keyword arguments.
        """
        if isinstance(spec, str):
            return self.get(spec)(**context)
        if isinstance(spec, Mapping):
            params = dict(spec)
            name = params.pop("name", None)
            if not isinstance(name, str):
                raise LongtailError(
                    f"{self.kind} spec {dict(spec)!r} needs a 'name'; valid: {', '.join(self.names())}"
                )
            factory = self.get(name)
            try:
                return factory(**context, **params)
            except TypeError as exc:
                raise LongtailError(f"bad parameters for {self.kind} {name!r}: {exc}") from exc
        return spec


def spec_name(spec: Any) -> str:
    """A loss / sampler / strategy as the log shows it: ``focal(gamma=2.0)``, or an object's class."""
    if isinstance(spec, str):
        return spec
    if isinstance(spec, dict):
        params = ", ".join(f"{k}={v}" for k, v in spec.items() if k != "name")
        return f"{spec.get('name')}({params})" if params else str(spec.get("name"))
    return type(spec).__name__
