"""The rule sandbox: N policy-rule evaluations asked one by one (one round trip to a worker
each, as `assess_case` asks them) against the same N prefetched first (a few requests
spread over the workers at once) and then asked, cache hits. For scale: the same rules
evaluated in this process, and the cache key (`_digest`) alone.

Each round uses fresh sandboxes (cold caches) whose workers are started and warmed before
the clock starts; the modes alternate within a round, rounds are repeated (best and
median reported: the machine is shared).
Sizes: LEDGER_BENCH_RULE_EVALUATIONS (default 2000), LEDGER_BENCH_RULE_ROUNDS (5).
Run alone: `python -m bench.bench_rule_sandbox`; writes bench/results/rule_sandbox.json.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from ledger.adapters.rule_sandbox import SandboxConfig, SandboxedEvaluator, _digest
from ledger.domain.responsibility.policy_check import evaluate_rule
from ledger.domain.responsibility.rules import RuleLimits

from .common import write_results

RULES = (
    "payload.return_days <= 3",
    "payload.amount < 50000.0 || payload.approved_by != ''",
    "payload.items.all(i, i.qty > 0 && i.qty <= 100)",
)
Pairs = list[tuple[str, Mapping[str, Any]]]


def pairs(n: int, salt: int) -> Pairs:
    """n distinct (rule, payload) pairs shaped like sales orders (`salt`: a round's own)."""
    return [(RULES[i % len(RULES)], {
        "return_days": i % 7, "amount": 1000.0 * (i % 90), "approved_by": "",
        "customer": f"c-{salt}-{i}", "items": [{"sku": f"S{k}", "qty": k + 1} for k in range(3)],
    }) for i in range(n)]


def ready(workers: int) -> SandboxedEvaluator:
    box = SandboxedEvaluator(SandboxConfig(workers=workers))
    box.warm()
    box.prefetch([(rule, {"return_days": 1, "amount": 1.0, "approved_by": "", "items": []})
                  for rule in RULES for _ in range(workers)])  # imports and compiles done
    return box


def one_by_one(box: SandboxedEvaluator, work: Pairs) -> None:
    for rule, payload in work:
        box.evaluate(rule, payload)


def prefetched(box: SandboxedEvaluator, work: Pairs) -> None:
    box.prefetch(work)
    for rule, payload in work:
        box.evaluate(rule, payload)


def in_process(work: Pairs) -> None:
    limits = RuleLimits()
    for rule, payload in work:
        evaluate_rule(rule, payload, limits)


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def modes_of(boxes: dict[int, list[SandboxedEvaluator]]) -> dict[str, Callable[[Pairs], None]]:
    modes: dict[str, Callable[[Pairs], None]] = {}
    for workers, (first, second) in boxes.items():
        modes[f"one by one, {workers} worker(s)"] = partial(one_by_one, first)
        modes[f"prefetched, {workers} worker(s)"] = partial(prefetched, second)
    modes["in process (no sandbox)"] = in_process
    return modes


def main() -> None:
    n = int(os.environ.get("LEDGER_BENCH_RULE_EVALUATIONS", "2000"))
    rounds = int(os.environ.get("LEDGER_BENCH_RULE_ROUNDS", "5"))
    runs: dict[str, list[float]] = {}
    for round_ in range(rounds):
        boxes = {w: [ready(w) for _ in range(2)] for w in (1, 2)}
        for index, (name, run) in enumerate(modes_of(boxes).items()):
            runs.setdefault(name, []).append(timed(partial(run, pairs(n, round_ * 100 + index))))
        for group in boxes.values():
            for box in group:
                box.close()
    keyed = pairs(n, -1)
    digest_s = timed(lambda: [_digest(r, p) for r, p in keyed])
    base = min(runs["one by one, 2 worker(s)"])
    results = {name: {"best_s": round(min(t), 4), "median_s": round(statistics.median(t), 4),
                      "per_evaluation_us": round(min(t) / n * 1e6, 1),
                      "speed_up_vs_one_by_one": round(base / min(t), 2)}
               for name, t in runs.items()}
    for name, figures in results.items():
        print(f"{name:32} {figures}")
    print(f"cache key (_digest) alone: {digest_s / n * 1e6:.1f} us per pair")
    write_results("rule_sandbox", {"evaluations": n, "rounds": rounds, "modes": results,
                                   "digest_us_per_pair": round(digest_s / n * 1e6, 2)})


if __name__ == "__main__":
    main()
