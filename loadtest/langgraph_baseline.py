#!/usr/bin/env python3
"""LangGraph peer baseline for askpanel's burst benchmark.

What it models
--------------
One askpanel "structured" panel, written the way a LangGraph user would write
it: a ``StateGraph`` whose state carries the question, the experts' personas,
the transcript and each round's consensus. One ``expert`` node takes a turn
(the next expert in declared order speaks: it is shown the question, its
persona and the transcript so far, and ends its turn with a 1-9 rating); a
router sends the graph back to ``expert`` until every expert of the round has
spoken, then to ``consensus``, which parses the round's ratings and stores the
median and a RAND/UCLA-like disagreement (the share of ratings outside the
median's tertile of the 1-9 scale). A conditional edge starts the next round,
or ends the graph after the last one.

Each turn calls a fake chat model (a ``BaseChatModel`` subclass) that streams
``--turn-tokens`` one-word chunks at once, without sleeping: the model costs
next to nothing, so what is measured is the framework's own work per panel,
per step and per token, which is what askpanel's simulated experts
(``--pace 0 --words-per-delta 1``) measure on the other side.

Why it is the fair peer workload
--------------------------------
askpanel's burst target (``askpanel-loadtest --type structured --experts 5
--rounds 3 --turn-tokens 200 --pace 0 --words-per-delta 1``) runs N panels of
5 experts x 3 rounds whose turns stream 200 one-token deltas each, and every
token reaches a WebSocket subscriber as its own frame. Here every token
reaches the consumer of ``graph.astream(..., stream_mode="messages")`` as its
own item, the way a server built on LangGraph forwards each token; the run
counts them and fails unless each panel delivered experts x rounds x
turn-tokens tokens. All panels share one process and one asyncio event loop
(LangGraph's own concurrency model), started together with
``asyncio.gather``. Python runs as shipped, its cyclic garbage collector
included (``--gc off`` shows what the collector costs). The baseline does
less than askpanel (no HTTP, no WebSockets, no persistence, no JSON encoding
of frames), so its figures are an upper bound for a LangGraph server doing
the same work.

Prints one JSON line, e.g. (2 cores, another build running)::

    {"framework": "langgraph", "langgraph": "1.2.24", "panels": 100,
     "completed": 100, "wall_s": 8.784, "panels_per_s": 11.38,
     "tokens": 300000, "cpu_s": 8.78, ...}

and exits 1 if a panel did not deliver all its tokens.

Usage: python langgraph_baseline.py [--panels 100] [--experts 5] [--rounds 3]
[--turn-tokens 200] [--gc default|off]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import operator
import os
import random
import re
import resource
import statistics
import sys
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from importlib.metadata import version
from typing import Annotated, Any, TypedDict

# The baseline talks to nothing: no tracing, whatever the environment says.
for _name in ("LANGSMITH_TRACING", "LANGSMITH_TRACING_V2", "LANGCHAIN_TRACING", "LANGCHAIN_TRACING_V2"):
    os.environ[_name] = "false"

from langchain_core.callbacks import (  # noqa: E402
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel  # noqa: E402
from langchain_core.messages import (  # noqa: E402
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult  # noqa: E402
from langgraph.graph import END, START, StateGraph  # noqa: E402

QUESTION = "Should a mid-sized hospital move its patient records to a public cloud within two years?"

PERSONAS = [
    "Dr. Ada Okafor, chief medical officer: patient safety and clinical workflow first.",
    "Ravi Menon, hospital CISO: threat models, breach costs and regulatory exposure.",
    "Lena Fischer, health economist: total cost of ownership and budget risk.",
    "Tomás Ruiz, cloud architect: migration paths, resilience and vendor lock-in.",
    "Mei Chen, patient advocate: privacy, consent and access for patients.",
    "Jonas Berg, compliance officer: audits, data residency and retention rules.",
    "Priya Nair, head of nursing informatics: usability at the bedside.",
    "Samuel Adeyemi, CFO: capital versus operating expense and financing.",
]

WORDS = (
    "the risk of migration depends on governance staffing encryption latency cost "
    "vendor contracts audit trails clinical uptime backups identity access training "
    "phased rollout pilot evidence regulators patients budget resilience downtime "
    "interoperability standards records imaging consent residency monitoring"
).split()

RATING = re.compile(r"\[([1-9])\]\s*$")


class FakeInstantChatModel(BaseChatModel):
    """A chat model that streams ``turn_tokens`` one-word chunks at once.

    It ignores the prompt except to seed its choice of words and its rating,
    so turns differ from expert to expert and round to round. The last chunk
    is the rating, ``[k]`` with k in 1..9, as a rated expert turn ends.
    """

    turn_tokens: int = 200

    @property
    def _llm_type(self) -> str:
        return "fake-instant"

    def _words(self, messages: list[BaseMessage]) -> Iterator[str]:
        persona = str(messages[0].content)
        prompt = str(messages[-1].content)
        rng = random.Random(zlib.crc32(prompt.encode()) ^ zlib.crc32(persona.encode()))
        for _ in range(self.turn_tokens - 1):
            yield rng.choice(WORDS) + " "
        # Ratings drift toward 6 as the transcript (the rounds) grows.
        spread = max(1, 4 - prompt.count("Round ") // 2)
        yield f"[{min(9, max(1, 6 + rng.randint(-spread, spread)))}] "

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = "".join(self._words(messages))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        words = list(self._words(messages))
        for i, word in enumerate(words):
            # Marking the last chunk keeps langchain-core from appending an
            # empty closing chunk (one more callback than tokens).
            last = i == len(words) - 1
            message = AIMessageChunk(content=word, chunk_position="last" if last else None)
            yield ChatGenerationChunk(message=message)


class Turn(TypedDict):
    round: int
    expert: str
    text: str
    rating: int | None


class RoundConsensus(TypedDict):
    round: int
    ratings: list[int]
    median: float
    disagreement: float


class PanelState(TypedDict):
    question: str
    personas: list[str]
    rounds: int
    round: int
    turn: int
    transcript: Annotated[list[Turn], operator.add]
    consensus: Annotated[list[RoundConsensus], operator.add]


def tertile(rating: float) -> int:
    """0, 1 or 2 for 1-3, 4-6 and 7-9 (a median between two falls low)."""
    return min(2, int((rating - 1) // 3))


def expert_prompt(state: PanelState, persona: str) -> list[BaseMessage]:
    lines = [f"Question: {state['question']}", ""]
    if state["transcript"]:
        lines.append("Discussion so far:")
        shown = -1
        for turn in state["transcript"]:
            if turn["round"] != shown:
                shown = turn["round"]
                lines.append(f"Round {shown}:")
            lines.append(f"{turn['expert']}: {turn['text']}")
        lines.append("")
    for c in state["consensus"]:
        lines.append(f"Round {c['round']} ratings: median {c['median']}, disagreement {c['disagreement']:.2f}")
    lines.append(
        f"Round {state['round']}: give your position in your own expertise, "
        "then end with your rating from 1 (strongly against) to 9 (strongly for) as [k]."
    )
    return [SystemMessage(content=f"You are {persona}"), HumanMessage(content="\n".join(lines))]


def build_graph(model: BaseChatModel) -> Any:
    async def expert(state: PanelState) -> dict[str, Any]:
        persona = state["personas"][state["turn"]]
        reply = await model.ainvoke(expert_prompt(state, persona))
        text = str(reply.content)
        found = RATING.search(text)
        turn: Turn = {
            "round": state["round"],
            "expert": persona.split(",")[0],
            "text": text,
            "rating": int(found.group(1)) if found else None,
        }
        return {"transcript": [turn], "turn": state["turn"] + 1}

    def consensus(state: PanelState) -> dict[str, Any]:
        ratings = [t["rating"] for t in state["transcript"] if t["round"] == state["round"] and t["rating"] is not None]
        median = float(statistics.median(ratings)) if ratings else 0.0
        outside = sum(1 for r in ratings if tertile(r) != tertile(median)) if ratings else 0
        result: RoundConsensus = {
            "round": state["round"],
            "ratings": ratings,
            "median": median,
            "disagreement": outside / len(ratings) if ratings else 0.0,
        }
        return {"consensus": [result], "round": state["round"] + 1, "turn": 0}

    def after_expert(state: PanelState) -> str:
        return "expert" if state["turn"] < len(state["personas"]) else "consensus"

    def after_consensus(state: PanelState) -> str:
        return "expert" if state["round"] <= state["rounds"] else END

    graph = StateGraph(PanelState)
    graph.add_node("expert", expert)
    graph.add_node("consensus", consensus)
    graph.add_edge(START, "expert")
    graph.add_conditional_edges("expert", after_expert, ["expert", "consensus"])
    graph.add_conditional_edges("consensus", after_consensus, ["expert", END])
    return graph.compile()


async def run_panel(graph: Any, index: int, experts: int, rounds: int) -> int:
    """Runs one panel, forwarding every token as a server would; returns the count."""
    personas = [PERSONAS[(index + i) % len(PERSONAS)] for i in range(experts)]
    state: PanelState = {
        "question": QUESTION,
        "personas": personas,
        "rounds": rounds,
        "round": 1,
        "turn": 0,
        "transcript": [],
        "consensus": [],
    }
    # One step per turn and per round's consensus, plus slack.
    config = {"recursion_limit": rounds * (experts + 1) + 10}
    tokens = 0
    async for chunk, _metadata in graph.astream(state, config, stream_mode="messages"):
        if not isinstance(chunk, AIMessageChunk):
            raise RuntimeError(f"panel {index}: unexpected message {type(chunk).__name__}")
        tokens += 1
    return tokens


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    model = FakeInstantChatModel(turn_tokens=args.turn_tokens)
    graph = build_graph(model)
    cpu_start = time.process_time()
    started = time.perf_counter()
    counts = await asyncio.gather(*(run_panel(graph, i, args.experts, args.rounds) for i in range(args.panels)))
    wall_s = time.perf_counter() - started
    cpu_s = time.process_time() - cpu_start
    expected = args.experts * args.rounds * args.turn_tokens
    completed = sum(1 for c in counts if c == expected)
    tokens = sum(counts)
    return {
        "framework": "langgraph",
        "langgraph": version("langgraph"),
        "langchain_core": version("langchain-core"),
        "python": sys.version.split()[0],
        "panels": args.panels,
        "completed": completed,
        "wall_s": round(wall_s, 3),
        "panels_per_s": round(completed / wall_s, 2),
        "tokens": tokens,
        "expected_tokens": expected * args.panels,
        "tokens_per_s": round(tokens / wall_s),
        "cpu_s": round(cpu_s, 2),
        "tokens_per_cpu_s": round(tokens / cpu_s) if cpu_s > 0 else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "config": {"experts": args.experts, "rounds": args.rounds, "turn_tokens": args.turn_tokens, "gc": args.gc},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--panels", type=int, default=100, help="panels run at once (default 100)")
    parser.add_argument("--experts", type=int, default=5, help="experts per panel (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per panel (default 3)")
    parser.add_argument("--turn-tokens", type=int, default=200, help="tokens per expert turn (default 200)")
    parser.add_argument(
        "--gc",
        choices=["default", "off"],
        default="default",
        help="Python's cyclic garbage collector: as shipped (default, the peer as deployed) or off "
        "(an upper bound: at 300 panels the collector takes over half the CPU)",
    )
    args = parser.parse_args()
    if not 1 <= args.experts <= len(PERSONAS):
        parser.error(f"--experts must be 1..{len(PERSONAS)}")
    if args.panels < 1 or args.rounds < 1 or args.turn_tokens < 1:
        parser.error("--panels, --rounds and --turn-tokens must be at least 1")
    if args.gc == "off":
        gc.disable()
    report = asyncio.run(main_async(args))
    print(json.dumps(report), flush=True)
    if report["completed"] != args.panels or report["tokens"] != report["expected_tokens"]:
        print(
            f"check failed: {report['completed']}/{args.panels} panels delivered all tokens, "
            f"{report['tokens']}/{report['expected_tokens']} tokens",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
