"""Registry of strategies: the contract test-suite and the benchmark runner read it.

A new strategy joins both through the :func:`register` class decorator (or the
lower-level :func:`register_adapter`, which takes any factory); neither the runner
nor the tests are edited::

    @register("my_method", "feature", "One line for tables", stochastic=True)
    class MyMethod(FeatureAdapter):
        ...
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .base import BaseAdapter

__all__ = ["AdapterEntry", "register", "register_adapter", "get_adapters", "get_adapter"]

#: Modules whose import registers the built-in strategies.
BUILTIN_MODULES = (
    "domainadapt.model",
    "domainadapt.instance",
    "domainadapt.feature",
    "domainadapt.relation",
    "domainadapt.selection",
)

FAMILIES = ("model", "instance", "feature", "relation")


@dataclass(frozen=True)
class AdapterEntry:
    """One registered strategy.

    Attributes
    ----------
    name : str
        Short name used in tables and on the command line.
    family : str
        ``"instance"``, ``"feature"``, ``"model"`` or ``"relation"``.
    factory : callable
        ``factory(estimator, random_state) -> BaseAdapter``: builds the strategy
        with ``estimator`` as its downstream model (ignored by strategies that
        bring their own model).
    description : str
        One line for tables and ``--list``.
    contract : bool
        Run it through the contract test-suite.
    benchmark : bool
        Include it in ``python -m domainadapt.benchmarks`` by default.
    stochastic : bool
        Results vary with ``random_state`` (the runner then reports std).
    test_params : dict
        Parameters set on top of the factory's for the contract test-suite, whose
        data set has 4 features and a few hundred rows (e.g. a smaller subspace or
        fewer epochs), so the factory itself can keep the sizes meant for real data.
    """

    name: str
    family: str
    factory: Callable[[Any, int | None], BaseAdapter]
    description: str = ""
    contract: bool = True
    benchmark: bool = True
    stochastic: bool = False
    test_params: Mapping[str, Any] = field(default_factory=dict)

    def make(self, estimator: Any = None, random_state: int | None = None) -> BaseAdapter:
        """Build a fresh, unfitted strategy."""
        return self.factory(estimator, random_state)

    def make_for_tests(self, estimator: Any = None, random_state: int | None = None) -> BaseAdapter:
        """Build the strategy with ``test_params`` applied (the contract suite's sizes)."""
        adapter = self.factory(estimator, random_state)
        if self.test_params:
            adapter.set_params(**self.test_params)
        return adapter


_REGISTRY: dict[str, AdapterEntry] = {}


def register_adapter(
    name: str,
    family: str,
    factory: Callable[[Any, int | None], BaseAdapter],
    *,
    description: str = "",
    contract: bool = True,
    benchmark: bool = True,
    stochastic: bool = False,
    test_params: Mapping[str, Any] | None = None,
) -> AdapterEntry:
    """Register a strategy for the contract tests and the benchmark runner.

    Re-registering the same name replaces the entry (so module reloads work).
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}; got {family!r}.")
    entry = AdapterEntry(
        name, family, factory, description, contract, benchmark, stochastic, dict(test_params or {})
    )
    _REGISTRY[name] = entry
    return entry


AdapterClassOrFactory = TypeVar("AdapterClassOrFactory", bound=Callable[..., BaseAdapter])


def _class_factory(
    adapter_class: type[BaseAdapter], params: Mapping[str, Any]
) -> Callable[[Any, int | None], BaseAdapter]:
    """``factory(estimator, random_state)`` building ``adapter_class`` the registry's way.

    ``random_state`` is passed when the class takes one, and ``progress=False`` when it
    has a progress bar (registry-built strategies run inside the benchmark runner and
    the test-suite); ``params`` are passed on top.
    """

    def factory(estimator: Any, random_state: int | None) -> BaseAdapter:
        # get_params, not the __init__ signature: deep strategies forward **kwargs
        accepted = adapter_class().get_params(deep=False)
        defaults = {"random_state": random_state, "progress": False}
        extra = {key: value for key, value in defaults.items() if key in accepted}
        return adapter_class(estimator=estimator, **{**extra, **params})

    return factory


def register(
    name: str,
    family: str,
    description: str = "",
    *,
    params: Mapping[str, Any] | None = None,
    contract: bool = True,
    benchmark: bool = True,
    stochastic: bool = False,
    test_params: Mapping[str, Any] | None = None,
) -> Callable[[AdapterClassOrFactory], AdapterClassOrFactory]:
    """Decorator registering a strategy class (or a factory) under ``name``.

    Parameters
    ----------
    name, family, description, contract, benchmark, stochastic, test_params
        As in :class:`AdapterEntry`.
    params : mapping, optional
        Constructor parameters fixed for this entry, e.g. ``{"entropy": True}`` to
        register a variant of a class under a second name.

    Returns
    -------
    decorator : callable
        Takes the class and returns it unchanged. A class is built as
        ``cls(estimator=estimator, random_state=seed, **params)``, ``random_state``
        only when the class takes one and ``progress=False`` added when it takes that.
        A plain function is used as the factory itself, ``factory(estimator, seed)``
        (``params`` must then be empty).
    """

    def decorator(adapter: AdapterClassOrFactory) -> AdapterClassOrFactory:
        if isinstance(adapter, type):
            factory = _class_factory(adapter, params or {})
        elif params:
            raise TypeError("params only apply to a registered class, not to a factory.")
        else:
            factory = adapter
        register_adapter(
            name,
            family,
            factory,
            description=description,
            contract=contract,
            benchmark=benchmark,
            stochastic=stochastic,
            test_params=test_params,
        )
        return adapter

    return decorator


def _load_builtins() -> None:
    for module in BUILTIN_MODULES:
        importlib.import_module(module)


def get_adapters(
    family: str | None = None,
    *,
    contract: bool | None = None,
    benchmark: bool | None = None,
) -> list[AdapterEntry]:
    """Registered strategies, in registration order, optionally filtered."""
    _load_builtins()
    out = []
    for entry in _REGISTRY.values():
        if family is not None and entry.family != family:
            continue
        if contract is not None and entry.contract != contract:
            continue
        if benchmark is not None and entry.benchmark != benchmark:
            continue
        out.append(entry)
    return out


def get_adapter(name: str) -> AdapterEntry:
    """The entry registered under ``name``."""
    _load_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"no strategy named {name!r}; registered: {sorted(_REGISTRY)}"
        ) from None
