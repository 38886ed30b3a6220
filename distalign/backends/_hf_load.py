"""Loading a Hugging Face causal LM for :mod:`distalign.backends.hf`: device, dtype, quantization.

``dtype=auto`` is bfloat16 on CUDA when supported and float32 on CPU; ``--backend_arg`` keys ``device_map``,
``trust_remote_code`` and ``quantize`` (``4bit``/``8bit``, needs bitsandbytes) go to ``from_pretrained``.
Also the padding and end-of-sequence token ids of a loaded model (docs/original.md §3.2).
"""

from __future__ import annotations

from typing import Any

import torch

from distalign.backends._http import parse_extra
from distalign.backends.base import BackendOptions

EXTRA_KEYS = ("device_map", "trust_remote_code", "quantize", "gather_ms")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def pick_device(device: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def pick_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """``auto`` -> bfloat16 on CUDA with bf16 support, float32 otherwise."""
    if dtype == "auto":
        cuda_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if cuda_bf16 else torch.float32
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; valid: auto, {', '.join(DTYPES)}")
    return DTYPES[dtype]


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
    dtype = pick_dtype(options.dtype, device)
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
