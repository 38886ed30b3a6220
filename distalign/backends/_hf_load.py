"""Loading a Hugging Face causal LM for :mod:`distalign.backends.hf`: device, dtype, quantization.

``dtype=auto`` is bfloat16 where the hardware computes it fast — CUDA with bf16 support, or a CPU with AMX-BF16 or
AVX512-BF16 (read from ``/proc/cpuinfo``) — and float32 elsewhere (a CPU without bf16 units emulates it several
times slower than float32). The choice and its reason are logged once per model load; ``--dtype`` or
``--backend_arg dtype=...`` overrides it. ``--backend_arg`` keys ``device_map``, ``trust_remote_code`` and
``quantize`` (``4bit``/``8bit``, needs bitsandbytes) go to ``from_pretrained``; ``engine=transformers`` runs the
model through the transformers forward instead of the lean one. Also the padding and end-of-sequence token ids of
a loaded model (docs/original.md §3.2).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from distalign.backends._http import parse_extra
from distalign.backends.base import BackendOptions

EXTRA_KEYS = ("device_map", "trust_remote_code", "quantize", "gather_ms", "dtype", "engine")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
log = logging.getLogger(__name__)


def cpu_flags() -> set[str]:
    """The CPU feature flags of ``/proc/cpuinfo`` (empty where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def fast_bf16(device: torch.device) -> tuple[bool, str]:
    """Whether ``device`` computes bfloat16 fast, and why (for the load message)."""
    if device.type == "cuda":
        ok = bool(torch.cuda.is_bf16_supported())
        return ok, "CUDA with bf16" if ok else "CUDA without bf16"
    if device.type == "cpu":
        found = [f for f in BF16_CPU_FLAGS if f in cpu_flags()]
        return bool(found), f"CPU with {'/'.join(found)}" if found else "CPU without AMX-BF16 or AVX512-BF16"
    return False, f"{device.type} device"


def resolve_dtype(options: BackendOptions) -> str:
    """The requested dtype name: ``--backend_arg dtype=...`` over ``--dtype``."""
    return parse_extra(options.extra, EXTRA_KEYS).get("dtype", options.dtype)


def pick_device(device: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def pick_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """``auto`` -> bfloat16 where :func:`fast_bf16` says so, float32 otherwise; else the named dtype."""
    return explain_dtype(dtype, device)[0]


def explain_dtype(dtype: str, device: torch.device) -> tuple[torch.dtype, str]:
    """The dtype of :func:`pick_dtype` and why it was chosen."""
    if dtype == "auto":
        fast, why = fast_bf16(device)
        return (torch.bfloat16 if fast else torch.float32), f"auto: {why}"
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; valid: auto, {', '.join(DTYPES)}")
    return DTYPES[dtype], "requested"


def pad_id(tokenizer: Any) -> int:
    """The padding token id: the tokenizer's pad token, else its end-of-sequence token, else 0."""
    for candidate in (tokenizer.pad_token_id, tokenizer.eos_token_id, 0):
        if candidate is not None:
            return int(candidate)
    return 0


def eos_ids(model: Any, tokenizer: Any) -> set[int]:
    """Every token id that ends generation (the tokenizer's and the model's generation config's)."""
    ids: set[int] = set()
    for value in (tokenizer.eos_token_id, getattr(getattr(model, "generation_config", None), "eos_token_id", None)):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list | tuple):
            ids.update(int(v) for v in value)
    return ids


def load_model(path: str, options: BackendOptions, **kwargs: Any) -> tuple[Any, Any]:
    """Tokenizer and model from a local folder or hub id, on the chosen device and dtype, in eval mode."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    extra = parse_extra(options.extra, EXTRA_KEYS)
    device = pick_device(options.device)
    dtype, why = explain_dtype(resolve_dtype(options), device)
    log.warning("loading %s on %s in %s (%s)", path, device, str(dtype).removeprefix("torch."), why)
    trust = extra.get("trust_remote_code", "false").lower() == "true"
    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust, **kwargs)
    load: dict[str, Any] = {"dtype": dtype, "trust_remote_code": trust, **kwargs}
    if "device_map" in extra:
        load["device_map"] = extra["device_map"]
    if "quantize" in extra:
        load["quantization_config"] = _quantization(extra["quantize"], dtype)
    model: Any = AutoModelForCausalLM.from_pretrained(path, **load)
    if "device_map" not in extra and "quantize" not in extra:
        model = model.to(device)
    return model.eval(), tokenizer


def _quantization(kind: str, dtype: torch.dtype) -> Any:
    from transformers import BitsAndBytesConfig  # needs bitsandbytes (CUDA)

    if kind not in ("4bit", "8bit"):
        raise ValueError(f"quantize={kind!r}; valid: 4bit, 8bit")
    if kind == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=dtype)
