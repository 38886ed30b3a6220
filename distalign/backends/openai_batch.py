"""The OpenAI Batch API half of the OpenAI backend: batch input lines, submission, status and results.

:class:`OpenAIBatch` is mixed into :class:`~distalign.backends.openai.OpenAIBackend`; the run engine's
:mod:`distalign.engine.batch` drives it. It relies on the backend for the SDK client, the request body and the
reading of a chat completion, declared here as abstract members.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final

from distalign.backends._http import classify
from distalign.backends.base import BackendError
from distalign.types import Completion, Request

if TYPE_CHECKING:  # the SDK is imported on first use (:func:`openai_sdk`): capability look-ups never load it
    import openai
    from openai.types.chat import ChatCompletion


def openai_sdk() -> ModuleType:
    """The ``openai`` SDK module, imported on first use (~1 s of imports that a capability look-up never needs)."""
    import openai
    import openai.types.chat

    return openai


CHAT_ENDPOINT: Final = "/v1/chat/completions"
BATCH_MAX_REQUESTS = 50_000
BATCH_MAX_BYTES = 190 * 1024 * 1024  # the limit is 200 MB per input file


class OpenAIBatch(ABC):
    """Batch API methods of an OpenAI Chat Completions backend (distalign/engine/batch.py drives these)."""

    batch_max_requests = BATCH_MAX_REQUESTS
    batch_max_bytes = BATCH_MAX_BYTES

    @property
    @abstractmethod
    def client(self) -> openai.AsyncOpenAI:
        """The SDK client."""

    @property
    @abstractmethod
    def label(self) -> str:
        """How errors name this backend."""

    @abstractmethod
    def request_body(self, request: Request) -> dict[str, Any]:
        """The JSON body of a chat completion for ``request``."""

    @abstractmethod
    def completion(self, response: ChatCompletion, request: Request, latency: float) -> Completion:
        """The :class:`Completion` of an SDK response."""

    @abstractmethod
    def _api_key_or_empty(self) -> str:
        """The client's key, to mask in error messages ("" before the client exists)."""

    def batch_line(self, request: Request, custom_id: str) -> dict[str, Any]:
        """One line of a batch input file."""
        return {"custom_id": custom_id, "method": "POST", "url": CHAT_ENDPOINT, "body": self.request_body(request)}

    async def _call(self, coro: Any) -> Any:
        try:
            return await coro
        except Exception as exc:  # noqa: BLE001 - classified
            raise classify(exc, openai_sdk(), self.label, [self._api_key_or_empty()]) from None

    async def submit_batch(self, requests: Sequence[Request], custom_ids: Sequence[str]) -> str:
        """Upload the requests as a JSONL file and start a 24 h batch; returns the batch id."""
        pairs = zip(requests, custom_ids, strict=True)
        data = "".join(json.dumps(self.batch_line(r, c), ensure_ascii=False) + "\n" for r, c in pairs).encode()
        file = await self._call(self.client.files.create(file=("distalign-batch.jsonl", data), purpose="batch"))
        batch = await self._call(
            self.client.batches.create(input_file_id=file.id, endpoint=CHAT_ENDPOINT, completion_window="24h")
        )
        return str(batch.id)

    async def batch_status(self, batch_id: str) -> str:
        """``running``, ``ended`` (results can be read) or ``failed: <why>``."""
        batch = await self._call(self.client.batches.retrieve(batch_id))
        if batch.status in ("completed", "expired", "cancelled"):
            return "ended"
        if batch.status == "failed":
            errors = getattr(batch.errors, "data", None) or []
            return "failed: " + "; ".join(str(e.message) for e in errors[:3])
        return "running"

    async def batch_results(self, batch_id: str, requests: Mapping[str, Request]) -> dict[str, Completion | str]:
        """``custom_id -> Completion`` for answered lines, ``custom_id -> error message`` for failed ones."""
        batch = await self._call(self.client.batches.retrieve(batch_id))
        out: dict[str, Completion | str] = {}
        for file_id in (batch.output_file_id, batch.error_file_id):
            if file_id:
                content = await self._call(self.client.files.content(file_id))
                for line in content.text.splitlines():
                    if line.strip():
                        out.update(self._batch_line_result(json.loads(line), requests))
        return out

    def _batch_line_result(self, line: dict[str, Any], requests: Mapping[str, Request]) -> dict[str, Completion | str]:
        custom_id = str(line.get("custom_id", ""))
        response, error = line.get("response") or {}, line.get("error")
        if error or response.get("status_code") != 200 or custom_id not in requests:
            why = error or (response.get("body") or {}).get("error") or f"status {response.get('status_code')}"
            return {custom_id: f"batch item failed: {why}"}
        try:
            parsed = openai_sdk().types.chat.ChatCompletion.model_validate(response["body"])
            return {custom_id: self.completion(parsed, requests[custom_id], 0.0)}
        except (BackendError, ValueError, KeyError) as exc:
            return {custom_id: f"batch item unreadable: {exc}"}
