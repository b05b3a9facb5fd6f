"""``POST /v1/responses/compact`` for every provider, and opening what it sealed when it comes back.

Native where the provider row has the route (OpenAI's opaque ``compaction`` item, passed through).
Elsewhere the gateway asks the same model for a summary of the window and returns it as a
``compaction`` item (``object: "response.compaction"``) whose ``encrypted_content`` the gateway
sealed: AES-256-GCM under a server secret, with the owning gateway key as associated data, so the
item is opaque to the client and opens only for the key that made it. When such an item comes back
in a create request's input, the gateway opens it and gives the model the summary as a message;
another key's item (or a forged one) is answered as a missing object (404).

The secret: ``POLYRESPONSES_SECRET`` (64 hex digits) or, by default, a file created beside the
store (``gateway-secret.key``, mode 0600); an in-memory store gets one for the process only.
Sealed strings are ``pgw1.<key id>.<base64url(nonce | ciphertext)>``; the key id (the first 8 hex
digits of the key's SHA-256) says which secret sealed it, never the secret.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import secrets
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyresponses.server._errors import GatewayError

if TYPE_CHECKING:
    from polyresponses.server._gateway import Gateway, Principal

__all__ = ["PREFIX", "Sealer", "compact", "open_compactions"]

PREFIX = "pgw1."
SECRET_ENV = "POLYRESPONSES_SECRET"
SUMMARY_INSTRUCTIONS = (
    "Summarise the conversation so far for your own later use: keep every fact, decision, open question, "
    "tool result and instruction that later turns may need, as compact notes. Reply with the summary only."
)


class Sealer:
    """Authenticated encryption of compaction summaries under the gateway's secret."""

    def __init__(self, secret: bytes) -> None:
        try:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        except ImportError:  # pragma: no cover - the [server] extra installs it
            raise RuntimeError(
                "compaction needs the 'cryptography' package: pip install 'polyresponses[server]'"
            ) from None
        if len(secret) != 32:
            raise ValueError("the gateway secret must be 32 bytes")
        self._aead = AESGCM(secret)
        self._secret = secret
        self.key_id = hashlib.sha256(secret).hexdigest()[:8]

    def derived(self, purpose: str) -> Sealer:
        """A sealer under a key derived from this one for ``purpose`` (HMAC-SHA256 of the secret and the
        label): what it seals can never be opened, or forged, as another purpose's (a compaction item
        shaped like a console cookie, say)."""
        return Sealer(hmac.new(self._secret, purpose.encode(), hashlib.sha256).digest())

    @classmethod
    def for_store(cls, store_path: str, environ: dict[str, str] | Any) -> Sealer:
        configured = environ.get(SECRET_ENV)
        if configured:
            try:
                return cls(bytes.fromhex(configured))
            except ValueError:
                raise ValueError(f"{SECRET_ENV} must be 64 hex digits (32 bytes)") from None
        if store_path == ":memory:":
            return cls(secrets.token_bytes(32))
        if store_path.startswith(("postgresql://", "postgres://")):
            # A file beside the store is one machine's; replicas over one database must share the secret.
            raise GatewayError(
                500,
                f"compaction by summary on a gateway over PostgreSQL needs {SECRET_ENV} (64 hex digits), "
                "the same on every replica",
                "server_error",
                "secret_not_configured",
            )
        path = Path(store_path).with_name("gateway-secret.key")
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # Written whole under a temporary name, then linked into place: a second gateway process
            # sharing the store either wins the link or reads the complete file, never a half-written one.
            temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as file:
                file.write(secrets.token_bytes(32).hex().encode())
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass
            finally:
                temporary.unlink()
        return cls(bytes.fromhex(path.read_text().strip()))

    def seal(self, text: str, owner: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, text.encode(), owner.encode())
        return f"{PREFIX}{self.key_id}.{base64.urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}"

    def open(self, value: str, owner: str) -> str | None:
        """The summary, or ``None`` when the item was not sealed by this secret for ``owner``."""
        from cryptography.exceptions import InvalidTag

        key_id, _, payload = value[len(PREFIX) :].partition(".") if value.startswith(PREFIX) else ("", "", "")
        if key_id != self.key_id or not payload:
            return None
        try:
            raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
            return self._aead.decrypt(raw[:12], raw[12:], owner.encode()).decode()
        except (InvalidTag, ValueError):
            return None


def open_compactions(sealer: Sealer, owner: str, items: Any, known_key: Callable[[str], bool] | None = None) -> Any:
    """``items`` with every gateway-sealed ``compaction`` item replaced by its summary as a message.

    An item this secret cannot open is answered as missing (404: another key's item looks like no item),
    except when ``known_key`` says its key id sealed items on this deployment: then a replica runs with
    another secret, which the operator must hear about (it names no owner, only the key id).
    """
    if not isinstance(items, list):
        return items
    out: list[Any] = []
    for index, item in enumerate(items):
        content = item.get("encrypted_content") if isinstance(item, dict) and item.get("type") == "compaction" else None
        if not isinstance(content, str) or not content.startswith(PREFIX):
            out.append(item)
            continue
        summary = sealer.open(content, owner)
        key_id = content[len(PREFIX) :].partition(".")[0]
        if summary is None and key_id != sealer.key_id and known_key is not None and known_key(key_id):
            raise GatewayError(
                500,
                f"compaction item at input[{index}] was sealed under gateway key id {key_id!r}, and this replica "
                f"holds {sealer.key_id!r}: every replica needs the same {SECRET_ENV}",
                "server_error",
                "secret_mismatch",
            )
        if summary is None:
            raise GatewayError(
                404, f"compaction item at input[{index}] not found", "not_found", "not_found", f"input[{index}]"
            )
        out.append(
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": f"[Summary of the earlier conversation]\n{summary}"}],
            }
        )
    return out


async def compact(gateway: Gateway, principal: Principal, body: Any) -> dict[str, Any]:
    """The ``response.compaction`` resource for ``body`` (``CompactResponseMethodPublicBody``)."""
    from polyresponses.router._wire import to_reply

    if not isinstance(body, dict):
        raise GatewayError(400, "the request body must be a JSON object", code="invalid_json")
    request = {
        key: value for key, value in body.items() if key in ("model", "input", "previous_response_id", "instructions")
    }
    unknown = sorted(set(body) - set(request) - {"prompt_cache_key"})
    if unknown:
        raise GatewayError(400, f"unknown field(s) for compact: {unknown}", param=unknown[0], code="unknown_parameter")
    created = await gateway.prepare_create(principal, {**request, "store": False})
    client = created.client
    if "compact" in client.provider.capabilities.endpoints:
        native = await client.responses.compact(**{**request, "model": created.model})
        return to_reply(native)
    params = dict(created.params)
    instructions = params.pop("instructions", None)
    params["instructions"] = SUMMARY_INSTRUCTIONS + (
        f"\n\nThe conversation's own instructions were:\n{instructions}" if instructions else ""
    )
    response = await client.responses.create(model=created.model, **params)
    summary = response.output_text or ""
    if not summary.strip():
        raise GatewayError(502, "the model returned an empty summary", "model_error", "empty_summary")
    sealer = gateway.sealer
    sealed = await asyncio.to_thread(sealer.seal, summary, principal.owner)
    await asyncio.to_thread(gateway.ledger.register_key, sealer.key_id)
    usage = (
        to_reply(response.usage)
        if response.usage is not None
        else {
            "input_tokens": 0,
            "output_tokens": 0,
            "total_tokens": 0,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        }
    )
    return {
        "id": f"resp_{uuid.uuid4().hex}",
        "object": "response.compaction",
        "output": [
            {
                "type": "compaction",
                "id": f"cmp_{uuid.uuid4().hex}",
                "encrypted_content": sealed,
                "created_by": "polyresponses",
            }
        ],
        "created_at": int(time.time()),
        "usage": usage,
    }
