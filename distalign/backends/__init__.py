"""Backend registry: ``provider/model`` name -> backend instance, with lazy heavy imports.

Each provider is one module; its client library (openai, anthropic, torch, vllm) is imported only when
that provider is asked for, so ``import distalign`` stays light and a missing optional dependency gives
a clear message naming the extra to install. Whatever differs between providers (log-probs, sampling rules,
whether the model runs in this process, whether it is priced, which environment variables hold its keys) is
declared in its :class:`~distalign.types.Capabilities`; the variables' values are masked everywhere
(:mod:`distalign.redact`) from the moment a backend or its capabilities are looked up.

>>> get_backend("nope/model")
Traceback (most recent call last):
...
ValueError: unknown provider 'nope' in 'nope/model'; valid providers: anthropic, fake, hf, local, openai, vllm
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from distalign.backends.base import Backend, BackendError, BackendOptions, TransientError
from distalign.names import resolve_model
from distalign.redact import watch
from distalign.types import Capabilities

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendError",
    "BackendOptions",
    "TransientError",
    "get_backend",
    "model_capabilities",
]

# provider -> (module, factory function name, pip extra that provides its dependencies)
BACKENDS: dict[str, tuple[str, str, str]] = {
    "fake": ("distalign.backends.fake", "make_backend", ""),
    "openai": ("distalign.backends.openai", "make_backend", "openai"),
    "anthropic": ("distalign.backends.anthropic", "make_backend", "anthropic"),
    "hf": ("distalign.backends.hf", "make_backend", "hf"),
    "local": ("distalign.backends.local", "make_backend", "hf"),
    "vllm": ("distalign.backends.vllm", "make_backend", "vllm"),
}


def split_name(name: str) -> tuple[str, str]:
    """``("provider", "model")`` of a model name (paper keys resolve through their alias first)."""
    full = resolve_model(name)
    provider, sep, model = full.partition("/")
    if not sep or not model:
        raise ValueError(f"model names are 'provider/model' (e.g. openai/gpt-4o-2024-08-06), got {name!r}")
    return provider, model


def get_backend(name: str, options: BackendOptions | None = None) -> Backend:
    """Instantiate the backend for ``name`` (``provider/model`` or a paper model key)."""
    provider = resolve_model(name).partition("/")[0]
    if provider not in BACKENDS:
        valid = ", ".join(sorted(BACKENDS))
        raise ValueError(f"unknown provider {provider!r} in {name!r}; valid providers: {valid}")
    provider, model = split_name(name)
    module_name, factory_name, extra = BACKENDS[provider]
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        hint = f" (pip install 'distalign[{extra}]')" if extra else ""
        raise BackendError(f"backend {provider!r} needs a package that is not installed: {e.name}{hint}") from e
    factory: Callable[[str, BackendOptions], Backend] = getattr(module, factory_name)
    backend = factory(model, options or BackendOptions())
    watch(*backend.capabilities.key_env)  # before it can send or echo anything
    return backend


def model_capabilities(model: str, options: BackendOptions | None = None) -> Capabilities:
    """A model's capabilities without loading it or needing a key, when its provider module can say so.

    The provider module's ``capabilities(model, options)`` is used when it has one; otherwise the
    backend is constructed (backends load weights lazily, on their first request).

    >>> model_capabilities("anthropic_opus").logprobs
    False
    """
    options = options or BackendOptions()
    provider, name = split_name(model)
    if provider in BACKENDS:
        module = importlib.import_module(BACKENDS[provider][0])
        if hasattr(module, "capabilities"):
            caps: Capabilities = module.capabilities(name, options)
            watch(*caps.key_env)
            return caps
    return get_backend(model, options).capabilities
