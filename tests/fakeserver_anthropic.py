"""Loopback fake Anthropic server (``/v1/messages`` and message batches); see :mod:`fakeservers`."""

from __future__ import annotations

import json
from typing import Any

from fakeservers import FakeServer, _Handler, _prompt_of


class FakeAnthropic(FakeServer):
    """``/v1/messages`` plus ``/v1/messages/batches``."""

    main_path = "/v1/messages"

    @staticmethod
    def error_body(status: int, message: str) -> dict[str, Any]:
        kinds = {
            429: "rate_limit_error",
            401: "authentication_error",
            400: "invalid_request_error",
            404: "not_found_error",
            529: "overloaded_error",
        }
        return {"type": "error", "error": {"type": kinds.get(status, "api_error"), "message": message}}

    def answer(self, body: dict[str, Any], empty: bool = False) -> dict[str, Any]:
        prompt = "\n".join(filter(None, [str(body.get("system") or ""), _prompt_of(body)]))
        text = self.responder(prompt, body)
        content = [{"type": "text", "text": text, "citations": None}]
        if (body.get("tool_choice") or {}).get("type") == "tool":  # a forced tool call: the reply is its input
            tool = {"type": "tool_use", "id": self.new_id("toolu"), "name": body["tool_choice"]["name"]}
            content = [{**tool, "input": json.loads(text)}]
        return {
            "id": self.new_id("msg"),
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "fake"),
            "content": [] if empty else content,
            "stop_reason": "tool_use" if content[0]["type"] == "tool_use" else "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": len(prompt.split()), "output_tokens": len(text.split())},
        }

    def route(self, h: _Handler, method: str, path: str, raw: bytes) -> None:
        parts = path.strip("/").split("/")
        if method == "POST" and path == "/v1/messages/batches":
            h.send(200, self._create_batch(json.loads(raw)))
        elif method == "GET" and len(parts) == 4 and parts[2] == "batches":
            batch = self._batch_tick(parts[3])
            h.send(200, self._batch_view(batch)) if batch else h.send(404, self.error_body(404, "no batch"))
        elif method == "GET" and len(parts) == 5 and parts[4] == "results":
            h.send(200, None, raw=self._results(parts[3]), content_type="application/binary")
        else:
            super().route(h, method, path, raw)

    def _create_batch(self, req: dict[str, Any]) -> dict[str, Any]:
        bid = self.new_id("msgbatch")
        batch = {"id": bid, "_polls": 0, "_requests": req["requests"]}
        with self._lock:
            self.batches[bid] = batch
        return self._batch_view(batch)

    def _batch_view(self, batch: dict[str, Any]) -> dict[str, Any]:
        n = len(batch["_requests"])
        ended = batch["_polls"] >= self.batch_polls
        failed = sum(r["custom_id"] in self.batch_fail_ids for r in batch["_requests"]) if ended else 0
        counts = {
            "processing": 0 if ended else n,
            "succeeded": n - failed if ended else 0,
            "errored": failed,
            "canceled": 0,
            "expired": 0,
        }
        return {
            "id": batch["id"],
            "type": "message_batch",
            "processing_status": "ended" if ended else "in_progress",
            "request_counts": counts,
            "created_at": "2026-01-01T00:00:00Z",
            "expires_at": "2026-01-02T00:00:00Z",
            "ended_at": "2026-01-01T01:00:00Z" if ended else None,
            "archived_at": None,
            "cancel_initiated_at": None,
            "results_url": f"{self.url}/v1/messages/batches/{batch['id']}/results" if ended else None,
        }

    def _results(self, batch_id: str) -> bytes:
        rows = []
        for r in self.batches[batch_id]["_requests"]:
            if r["custom_id"] in self.batch_fail_ids:
                err = {"type": "error", "error": {"type": "invalid_request_error", "message": "fake item failure"}}
                rows.append({"custom_id": r["custom_id"], "result": {"type": "errored", "error": err}})
            else:
                rows.append(
                    {"custom_id": r["custom_id"], "result": {"type": "succeeded", "message": self.answer(r["params"])}}
                )
        return "".join(json.dumps(x) + "\n" for x in rows).encode()
