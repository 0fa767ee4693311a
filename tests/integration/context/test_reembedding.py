"""Switching the embedding model re-embeds every memory in the background, resumably: notes
embedded offline, the model switched to a litellm model (a local server speaking OpenAI's
embeddings API, through litellm's real client), the job crashes after its second batch's
vectors are stored and before their events are; meanwhile search answers (rows of the new
model by vector, the others by full text); the job is run again and every row carries the new
model id and dimension, each memory re-embedded on record once."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pydantic import SecretStr

from adapters.context.reembedding import PostgresReembedStore
from commands.base import Caller, Issued
from commands.bootstrap import Services, bootstrap
from commands.context.notes import NoteMemory
from commands.context.reembedding import Reembedder
from commands.ports.context import OFFLINE_MODEL
from commands.ports.planner import LlmProvider, ProviderCredential
from commands.runs.provider_keys import store_provider_key
from entrypoints.projector_cli import projection_settings
from infra.stack.launcher import StackEndpoints
from projections.engine import projector_registry
from projections.engine.projector_host import ProjectorHost
from projections.views.context import queries
from tests.support.cairn_settings import isolated_settings
from tests.support.embeddings_stub import EmbeddingsStub

pytestmark = pytest.mark.integration

REMOTE = "openai/text-embedding-3-small"
KEY = "sk-reembed-test-1"
NOTES = 23
BATCH = 5


class Crash(Exception):
    pass


@pytest.fixture
def services(
    stack: StackEndpoints, migrated_database_url: str, unique_name: str, tmp_path: Path
) -> Iterator[Services]:
    settings = isolated_settings(
        stack, migrated_database_url, unique_name, tmp_path, allow_private_model_endpoints=True
    )
    context = [projector_registry.PROJECTORS["context"]]
    with ProjectorHost(projection_settings(settings), context):
        services = bootstrap(settings)
        try:
            yield services
        finally:
            services.close()


def _rows(database_url: str, tenant: uuid.UUID) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT memory_id, model, dim FROM context_memories WHERE tenant_id = %s"
            " ORDER BY memory_id",
            (tenant,),
        ).fetchall()


def test_a_model_switch_reembeds_every_row_and_resumes_after_a_crash(services: Services) -> None:
    tenant, user = uuid.uuid4(), "ada"
    who = Caller(tenant, user, session_id=str(uuid.uuid4()))
    position = 0
    for i in range(NOTES):
        issued = Issued(caller=who, command_id=str(uuid.uuid4()))
        text = f"note {i}: climbing at the quarry" if i % 2 else f"note {i}: dentist on Friday"
        noted = services.commands.dispatch(NoteMemory(text=text), issued)
        position = noted.position or position
    pool = services.pool
    queries.wait_for(pool, queries.CONTEXT, position, timeout=30)
    url = services.settings.database_url
    assert {(m, d) for _, m, d in _rows(url, tenant)} == {(OFFLINE_MODEL, 384)}

    with EmbeddingsStub(KEY) as stub:
        switched = bootstrap(dataclasses.replace(services.settings, embedding_model=REMOTE))
        try:
            credential = ProviderCredential(api_key=SecretStr(KEY), api_base=stub.base_url)
            store_provider_key(switched.identity.vault, tenant, LlmProvider.OPENAI, credential)
            store = PostgresReembedStore(switched.pool)

            def crash_at_second(batch: int) -> None:
                if batch == 2:
                    raise Crash

            crashing = Reembedder(
                switched.context, store, batch=BATCH, after_vectors=crash_at_second
            )
            with pytest.raises(Crash):
                crashing.run_pass()
            app = switched.context.app
            queries.wait_for(pool, queries.CONTEXT, app.recorder.max_notification_id() or 0, 30)
            mid = _rows(url, tenant)
            assert sum(m == REMOTE for _, m, _ in mid) == BATCH  # the first batch only
            # Meanwhile: the new model's rows by vector, the rest by full text; no error.
            hits = switched.context.search.search(tenant, user, "dentist on Friday", limit=50)
            found = {h.id for h in hits if h.kind == "memory"}
            assert len([h for h in hits if "dentist" in h.text]) == (NOTES + 1) // 2
            by_vector = {h.id for h in hits if "vector" in h.matched_by}
            assert by_vector == {str(m) for m, model, _ in mid if model == REMOTE} <= found
            progress = crashing.progress()[tenant]
            assert (progress.model, progress.pending) == (REMOTE, NOTES - BATCH)

            resumed = Reembedder(switched.context, store, batch=BATCH)
            recorded = resumed.run_pass()
            queries.wait_for(pool, queries.CONTEXT, app.recorder.max_notification_id() or 0, 30)
            after = _rows(url, tenant)
            assert {(m, d) for _, m, d in after} == {(REMOTE, 1536)}
            assert recorded == NOTES - BATCH
            for memory_id, _, _ in after:
                names = [type(e).__name__ for e in app.events.get(memory_id)]
                assert names.count("MemoryReembedded") == 1, names
            assert resumed.run_pass() == 0  # nothing behind any more
            assert crashing.progress()[tenant].pending == 0
            # The crashed batch was embedded twice, everything else once.
            assert len(stub.texts()) == NOTES + BATCH + 1  # + the search query
        finally:
            switched.close()
