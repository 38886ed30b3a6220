"""Loopback fake OpenAI server (chat completions, files and batches); see :mod:`fakeservers`."""

from __future__ import annotations

import email.parser
import email.policy
import json
import time
from typing import Any

from fakeservers import FakeServer, _Handler, _prompt_of


class FakeOpenAI(FakeServer):
    """``/v1/chat/completions`` plus ``/v1/files`` and ``/v1/batches``."""

    main_path = "/v1/chat/completions"

    @staticmethod
    def error_body(status: int, message: str) -> dict[str, Any]:
        kinds = {429: "rate_limit_exceeded", 401: "invalid_api_key", 400: "invalid_request_error"}
        return {
            "error": {
                "message": message,
                "type": kinds.get(status, "server_error"),
                "param": None,
                "code": kinds.get(status),
            }
        }

    def answer(self, body: dict[str, Any], empty: bool = False) -> dict[str, Any]:
        text = self.responder(_prompt_of(body), body)
        tokens = [t for t in text.replace(" ", "\x00 ").split("\x00") if t] or [""]
        choice: dict[str, Any] = {
            "index": 0,
            "finish_reason": "stop",
            "logprobs": None,
            "message": {"role": "assistant", "content": text, "refusal": None},
        }
        if body.get("logprobs") and self.logprobs:
            k = int(body.get("top_logprobs") or 0)
            alts = [{"token": t, "logprob": lp, "bytes": None} for t, lp in self.top[:k]]
            choice["logprobs"] = {
                "content": [{"token": t, "logprob": -0.5, "bytes": None, "top_logprobs": alts} for t in tokens],
                "refusal": None,
            }
        return {
            "id": self.new_id("chatcmpl"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "system_fingerprint": "fp_fake",
            "choices": [] if empty else [choice],
            "usage": {
                "prompt_tokens": len(_prompt_of(body).split()),
                "completion_tokens": len(tokens),
                "total_tokens": len(_prompt_of(body).split()) + len(tokens),
            },
        }

    def route(self, h: _Handler, method: str, path: str, raw: bytes) -> None:
        parts = path.strip("/").split("/")
        if method == "POST" and path == "/v1/files":
            fid = self.new_id("file")
            self.files[fid] = _multipart_file(h.headers.get("Content-Type", ""), raw)
            h.send(
                200,
                {
                    "id": fid,
                    "object": "file",
                    "bytes": len(self.files[fid]),
                    "created_at": 0,
                    "filename": "batch.jsonl",
                    "purpose": "batch",
                    "status": "processed",
                },
            )
        elif method == "GET" and len(parts) == 4 and parts[1] == "files" and parts[3] == "content":
            h.send(200, None, raw=self.files.get(parts[2], b""), content_type="application/octet-stream")
        elif method == "POST" and path == "/v1/batches":
            h.send(200, self._create_batch(json.loads(raw)))
        elif method == "GET" and len(parts) == 3 and parts[1] == "batches":
            batch = self._batch_tick(parts[2])
            h.send(200, self._batch_view(batch)) if batch else h.send(404, self.error_body(404, "no batch"))
        else:
            super().route(h, method, path, raw)

    def _create_batch(self, req: dict[str, Any]) -> dict[str, Any]:
        bid = self.new_id("batch")
        lines = [json.loads(x) for x in self.files[req["input_file_id"]].decode().splitlines() if x.strip()]
        batch = {
            "id": bid,
            "object": "batch",
            "endpoint": req["endpoint"],
            "input_file_id": req["input_file_id"],
            "completion_window": req["completion_window"],
            "created_at": int(time.time()),
            "_polls": 0,
            "_lines": lines,
        }
        with self._lock:
            self.batches[bid] = batch
        return self._batch_view(batch)

    def _batch_view(self, batch: dict[str, Any]) -> dict[str, Any]:
        view = {k: v for k, v in batch.items() if not k.startswith("_")}
        n = len(batch["_lines"])
        if batch["_polls"] < self.batch_polls:
            return {**view, "status": "in_progress", "request_counts": {"total": n, "completed": 0, "failed": 0}}
        if "output_file_id" not in batch:
            self._finish_batch(batch)
        return {**{k: v for k, v in batch.items() if not k.startswith("_")}, "status": "completed"}

    def _finish_batch(self, batch: dict[str, Any]) -> None:
        ok, bad = [], []
        for line in batch["_lines"]:
            cid = line["custom_id"]
            if cid in self.batch_fail_ids:
                bad.append(
                    {
                        "id": self.new_id("req"),
                        "custom_id": cid,
                        "response": None,
                        "error": {"code": "server_error", "message": "fake item failure"},
                    }
                )
            else:
                ok.append(
                    {
                        "id": self.new_id("req"),
                        "custom_id": cid,
                        "error": None,
                        "response": {"status_code": 200, "request_id": "r", "body": self.answer(line["body"])},
                    }
                )
        for key, rows in (("output_file_id", ok), ("error_file_id", bad)):
            fid = self.new_id("file")
            self.files[fid] = "".join(json.dumps(r) + "\n" for r in rows).encode()
            batch[key] = fid
        batch["request_counts"] = {"total": len(ok) + len(bad), "completed": len(ok), "failed": len(bad)}


def _multipart_file(content_type: str, raw: bytes) -> bytes:
    """The ``file`` part of a multipart/form-data upload."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    for part in msg.iter_parts():
        if part.get_param("name", header="content-disposition") == "file":
            payload = part.get_payload(decode=True)
            return payload if isinstance(payload, bytes) else b""
    return b""
