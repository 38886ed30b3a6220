"""Check GBNF grammars with llama.cpp's own grammar parser (run by the llama-server venv's python, not by pytest).

Usage: ``<llama-server venv>/bin/python tests/llama_grammar_check.py MODEL.gguf < grammars.json``; prints ``ok`` or
``invalid`` per grammar, one line each. Only the model's vocabulary is loaded. An invalid grammar crashes the server
(0.3.36) when sent in a request; here the parser just returns no sampler, so every grammar can be checked safely.
"""

from __future__ import annotations

import json
import sys


def main() -> int:
    """Load the vocabulary, then parse each grammar of the JSON list on stdin."""
    import llama_cpp  # only in the llama-server venv (pytest's doctest collection imports this file without it)

    grammars = json.load(sys.stdin)
    llama_cpp.llama_backend_init()
    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    model = llama_cpp.llama_model_load_from_file(sys.argv[1].encode(), params)
    vocab = llama_cpp.llama_model_get_vocab(model)
    for grammar in grammars:
        sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
        print("ok" if sampler else "invalid", flush=True)
        if sampler:
            llama_cpp.llama_sampler_free(sampler)
    llama_cpp.llama_model_free(model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
