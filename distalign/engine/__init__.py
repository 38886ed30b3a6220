"""The run engine: answers requests through a backend with a cache, bounded concurrency and retries.

Modules: :mod:`~distalign.engine.executor` (:class:`Executor`: cache lookup, concurrency, retries with backoff,
per-attempt limits), :mod:`~distalign.engine.cache` (the SQLite response cache and the request key),
:mod:`~distalign.engine.runlog` (the JSONL request log), :mod:`~distalign.engine.batch` (provider batch APIs
that fill the cache), :mod:`~distalign.engine.costs` (token estimates and prices) and
:mod:`~distalign.engine.locks` (file locks between processes). Nothing here knows about
datasets, prompts or result files: :mod:`distalign.generate` plans the work and records the answers.
"""

from distalign.engine.executor import Executor, Outcome, RetryPolicy, RunStats

__all__ = ["Executor", "Outcome", "RetryPolicy", "RunStats"]
