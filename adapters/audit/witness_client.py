"""The log's side of C2SP tlog-witness: ask one witness to cosign a checkpoint."""

from __future__ import annotations

import httpx

from domain.audit.merkle import Tree
from domain.audit.note import NoteSignature, SignedNote, parse_signature_line
from domain.audit.witness import request_body


class WitnessClient:
    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.size = 0  # what this witness last cosigned, as far as the log knows
        self._client = httpx.AsyncClient(timeout=timeout)

    async def close(self) -> None:
        await self._client.aclose()

    async def cosign(self, note: SignedNote, tree: Tree) -> list[NoteSignature]:
        """Its cosignature lines; a 409 tells the size it holds, and the request is made once
        more with a proof from there."""
        for _attempt in range(2):
            old = self.size if self.size <= tree.size else 0
            proof = tree.consistency_proof(old, tree.size) if old else []
            response = await self._client.post(
                f"{self.url}/add-checkpoint", content=request_body(old, proof, note).encode()
            )
            if response.status_code == 409 and response.text.strip().isdigit():
                self.size = int(response.text.strip())
                continue
            response.raise_for_status()
            self.size = tree.size
            return [parse_signature_line(line) for line in response.text.splitlines() if line]
        raise RuntimeError(f"the witness at {self.url} kept answering 409")
