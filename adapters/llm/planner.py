"""The litellm planner: route, ask, validate, fall back; a validated plan or a clear reason.

One intent goes like this (docs/planner.md has the long version):

1. estimate the intent's complexity; pick the routing table's row for complexity, cost
   preference and latency need; keep the models whose provider the person has a key for;
   try at most `max_attempts` of them, in order;
2. per model: lease the key, call the model with the plan's response schema, parse and
   validate the answer;
3. a failed call (timeout, rate limit, provider error, bad key) or an answer that is not a
   plan in the schema -> next model; an answer naming an unknown action or invalid parameters
   -> `PlanInvalid` at once (never executed, no other model asked);
4. nothing left -> `PlanInvalid` if some model answered (but never validly), otherwise
   `PlannerUnavailable`.

Tokens and cost add up over every call that returned an answer, so what failed attempts cost is
accounted for too; `ModelUsage.attempts` lists every model tried with its outcome.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType

from adapters.llm.answer import MalformedAnswer, parse_plan_answer
from adapters.llm.complexity import estimate_complexity
from adapters.llm.gateway import (
    CompletionAnswer,
    CompletionFailed,
    CompletionGateway,
    CompletionRequest,
    CredentialIncomplete,
    LiteLLMGateway,
)
from adapters.llm.prompt import build_messages
from adapters.llm.routing import DEFAULT_ROUTING_TABLE, CandidateModel, RoutingTable
from adapters.llm.schema import plan_response_format
from commands.ports.planner import (
    LatencyNeed,
    PlanInvalid,
    PlannerUnavailable,
    PlanningContext,
    ProposedPlan,
    ProviderKeys,
    RoutingPreference,
)
from domain.errors import InvalidInput
from domain.runs.actions import CATALOGUE, InvalidParameters, UnknownAction
from domain.runs.plan import ModelUsage, Plan

logger = logging.getLogger("cairn.planner")

# A hostile or confused model can put anything in an action name; reports quote a bounded part.
_MAX_QUOTED_CHARS = 80


@dataclass(frozen=True)
class PlannerSettings:
    max_attempts: int = 3
    timeout_seconds: Mapping[LatencyNeed, float] = field(
        default_factory=lambda: MappingProxyType({LatencyNeed.FAST: 10.0, LatencyNeed.NORMAL: 30.0})
    )
    max_output_tokens: int = 2_000
    max_intent_chars: int = 4_000


@dataclass
class _Ledger:
    """What was tried and what it cost, across the attempts of one intent."""

    attempts: list[str] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    answered: CandidateModel | None = None
    problems: list[str] = field(default_factory=list)

    def record(self, candidate: CandidateModel, outcome: str, elapsed: float) -> None:
        self.attempts.append(f"{candidate.model}: {outcome}")
        # Every attempt is in the plan's usage record (PlanProposed); the log tells of the
        # ones that did not answer. A line per plan made each worker write one per run,
        # serialised behind the log handler's lock (decision 0042).
        logger.log(
            logging.DEBUG if outcome == "ok" else logging.INFO,
            "planner attempt model=%s outcome=%s elapsed_ms=%d",
            candidate.model,
            outcome,
            round(elapsed * 1000),
        )

    def add(self, candidate: CandidateModel, answer: CompletionAnswer) -> None:
        self.answered = candidate
        self.prompt_tokens += answer.prompt_tokens
        self.completion_tokens += answer.completion_tokens
        self.cost_usd += answer.cost_usd

    def usage(self) -> ModelUsage | None:
        if self.answered is None:
            return None
        return ModelUsage(
            model=self.answered.model,
            provider=self.answered.provider.value,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            cost_usd=self.cost_usd,
            attempts=list(self.attempts),
        )


class LiteLLMPlanner:
    """Implements `commands.ports.planner.Planner`."""

    def __init__(
        self,
        gateway: CompletionGateway | None = None,
        routing: RoutingTable = DEFAULT_ROUTING_TABLE,
        settings: PlannerSettings | None = None,
    ) -> None:
        self._gateway = gateway if gateway is not None else LiteLLMGateway()
        self._routing = routing
        self._settings = settings if settings is not None else PlannerSettings()

    def candidates(
        self, intent_text: str, keys: ProviderKeys, preference: RoutingPreference
    ) -> tuple[CandidateModel, ...]:
        """The models `propose` would try, in order."""
        level = estimate_complexity(intent_text).level
        row = self._routing.candidates(level, preference, keys.providers)
        return row[: self._settings.max_attempts]

    def propose(
        self,
        intent_text: str,
        context: PlanningContext,
        keys: ProviderKeys,
        preference: RoutingPreference,
    ) -> ProposedPlan:
        self._check_intent(intent_text)
        candidates = self.candidates(intent_text, keys, preference)
        if not candidates:
            raise PlannerUnavailable(
                "no model to ask: the person has no key for a provider this route uses",
                {
                    "reason": "no_provider_keys",
                    "providers_with_keys": sorted(p.value for p in keys.providers),
                },
            )
        self._gateway.warm_up()
        messages = build_messages(intent_text, context)
        response_format = plan_response_format(tuple(tool.action for tool in context.tools))
        timeout = self._settings.timeout_seconds[preference.latency]
        ledger = _Ledger()
        for candidate in candidates:
            request = CompletionRequest(
                candidate, messages, response_format, timeout, self._settings.max_output_tokens
            )
            plan = self._attempt(request, keys, ledger)
            if plan is not None:
                usage = ledger.usage()
                assert usage is not None  # a plan means a model answered
                return ProposedPlan(plan=plan, usage=usage)
        raise self._exhausted(ledger)

    def _check_intent(self, intent_text: str) -> None:
        limit = self._settings.max_intent_chars
        if not intent_text.strip():
            raise InvalidInput("the intent is empty", {"reason": "intent_empty"})
        if len(intent_text) > limit:
            raise InvalidInput(
                f"the intent is longer than {limit} characters",
                {"reason": "intent_too_long", "max_chars": limit},
            )

    def _attempt(
        self, request: CompletionRequest, keys: ProviderKeys, ledger: _Ledger
    ) -> Plan | None:
        candidate = request.candidate
        started = time.monotonic()
        try:
            credential = keys.lease(candidate.provider)
            answer = self._gateway.complete(request, credential)
        except CompletionFailed as failure:
            ledger.record(candidate, failure.kind.value, time.monotonic() - started)
            return None
        except CredentialIncomplete as incomplete:
            ledger.record(candidate, "key_unavailable", time.monotonic() - started)
            logger.warning("planner credential incomplete: %s", incomplete)
            return None
        except Exception as lease_error:
            # The vault's error text is not ours to repeat; its type says enough.
            ledger.record(candidate, "key_unavailable", time.monotonic() - started)
            logger.warning("planner key lease failed: %s", type(lease_error).__name__)
            return None
        ledger.add(candidate, answer)
        elapsed = time.monotonic() - started
        try:
            plan = parse_plan_answer(answer.content)
        except MalformedAnswer as malformed:
            ledger.record(candidate, f"invalid_answer ({malformed.reason})", elapsed)
            ledger.problems.append(f"{candidate.model}: {malformed.message}")
            return None
        except (UnknownAction, InvalidParameters) as rejected:
            ledger.record(candidate, "plan_invalid", elapsed)
            raise _rejected(rejected, candidate, ledger) from None
        ledger.record(candidate, "ok", elapsed)
        return plan

    def _exhausted(self, ledger: _Ledger) -> PlanInvalid | PlannerUnavailable:
        tried = "; ".join(ledger.attempts)
        if ledger.problems:
            return PlanInvalid(
                f"no model answered with a valid plan ({tried})",
                {
                    "reason": "no_valid_answer",
                    "attempts": ledger.attempts,
                    "problems": ledger.problems,
                },
                usage=ledger.usage(),
            )
        return PlannerUnavailable(
            f"no model could propose a plan ({tried})",
            {"reason": "all_models_failed", "attempts": ledger.attempts},
            usage=ledger.usage(),
        )


def _rejected(
    error: UnknownAction | InvalidParameters, candidate: CandidateModel, ledger: _Ledger
) -> PlanInvalid:
    action = _bounded(str(error.details.get("action", "")))
    common = {"model": candidate.model, "attempts": ledger.attempts}
    if isinstance(error, UnknownAction):
        return PlanInvalid(
            f"the model proposed the unknown action {action!r}; the plan was rejected and "
            "nothing was executed",
            {
                "reason": "unknown_action",
                "action": action,
                "known_actions": sorted(CATALOGUE),
                **common,
            },
            usage=ledger.usage(),
        )
    return PlanInvalid(
        f"the model proposed invalid parameters for {action!r}; the plan was rejected and "
        "nothing was executed",
        {
            "reason": "invalid_action_parameters",
            "action": action,
            "errors": error.details.get("errors", []),
            **common,
        },
        usage=ledger.usage(),
    )


def _bounded(text: str) -> str:
    return text if len(text) <= _MAX_QUOTED_CHARS else text[:_MAX_QUOTED_CHARS] + "..."
