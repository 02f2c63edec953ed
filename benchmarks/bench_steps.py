"""What each step of one case costs, in CPU time (so a busy machine skews it little).

    python benchmarks/bench_steps.py                 # 5,000 realistic cases
    python benchmarks/bench_steps.py --workload uniform --cases 2000

Times each step on the same cases, best of --repeat passes, in microseconds per case: the steps
of a case whose atom vector is already decided (the cache hit), the extra steps of a new atom
vector (its engine key, its check against its own answers, the plan of its reasons when that is
new too) and of a new engine key (the experta engine and the full cross-check too), and the
uncached path for comparison.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workloads import generate  # noqa: E402

from triage.engine import decisions, rete as engine  # noqa: E402
from triage.reading import limits, parse_json, parse_row  # noqa: E402
from triage.rulebook import load_rulebook  # noqa: E402


def per_case(repeat: int, count: int, run) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best / count * 1e6


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", default="realistic", choices=["realistic", "uniform"])
    parser.add_argument("--cases", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    rb = load_rulebook()
    cases = generate(args.workload, rb.questionnaire, args.cases)
    lines = [json.dumps({"case_id": n, **c}) for n, c in enumerate(cases)]
    plan, cache = decisions.plan_for(rb)
    for c in cases:  # decide every pattern first: the hit path below finds them all
        engine.assess(c, rb)
    valid = [plan.validator.validate(c) for c in cases]
    facts = [decisions.facts_of(rb, v) for v in valid]
    keys = [plan.bits(f) for f in facts]
    found = [cache.get(k) for k in keys]
    n, r = len(cases), args.repeat
    lim = limits()
    heads = [{"case_id": i, "line": i} for i in range(n)]

    def uncached_fired():
        return [engine.run_rules(v, rb) for v in valid]
    fired = uncached_fired()
    e = engine.engine_for(rb)
    engine_keys = {e.key_of(k) for k in keys}
    rows = [
        ("read the JSON line (json.loads)", per_case(r, n, lambda: [json.loads(x) for x in lines])),
        ("read the JSON line, standard reader (parse_json: limits, duplicates)",
         per_case(r, n, lambda: [parse_json(x, None, where="line 1", lim=lim) for x in lines])),
        ("read the JSON line as triage batch does (parse_row: orjson when it is safe)",
         per_case(r, n, lambda: [parse_row(x, "line 1", lim) for x in lines])),
        ("validate (compiled coercion)", per_case(r, n, lambda: [plan.validator.validate(c)
                                                                 for c in cases])),
        ("validate (questionnaire, before)", per_case(r, n, lambda: [
            rb.questionnaire.validate(c) for c in cases])),
        ("derived quantities (tree walk, as the cross-check computes them)", per_case(
            r, n, lambda: [decisions.facts_of(rb, v) for v in valid])),
        ("derived quantities (compiled, the cached path)", per_case(
            r, n, lambda: [plan.facts(v) for v in valid])),
        ("atom vector", per_case(r, n, lambda: [plan.bits(f) for f in facts])),
        ("cache lookup", per_case(r, n, lambda: [cache.get(k) for k in keys])),
        ("reasons from the case's answers, as Reason objects (assess)", per_case(r, n, lambda: [
            d.reasons(f) for d, f in zip(found, facts)])),
        ("JSON line from the decision (reasons included)", per_case(r, n, lambda: [
            d.json_line(plan, v, f, h) for d, v, f, h in zip(found, valid, facts, heads)])),
        ("whole hit: assess_json, cached pattern", per_case(r, n, lambda: [
            engine.assess_json(c, rb, head=h) for c, h in zip(cases, heads)])),
        ("new engine key: the experta engine (run_rules)", per_case(r, n, uncached_fired)),
        ("new atom vector: the engine key", per_case(r, n, lambda: [
            e.key_of(k) for k in keys])),
        ("new atom vector, known engine key: its check (_check_vector)", per_case(
            r, n, lambda: [engine._check_vector(f, rb, d.result) for f, d in zip(facts, found)])),
        ("new atom vector, known engine key and reason plan: whole decide()", per_case(
            max(1, r - 1), n, lambda: [engine.decide(v, rb, plan, k, f)
                                       for v, k, f in zip(valid, keys, facts)])),
        ("new atom vector, known engine key, new reason plan: whole decide()", per_case(
            max(1, r - 1), n, lambda: [(plan.by_evidence.clear(), engine.decide(v, rb, plan, k, f))
                                       for v, k, f in zip(valid, keys, facts)])),
        ("new engine key: the full cross-check (and the reasons' evidence)", per_case(
            r, n, lambda: [engine._cross_check(f, rb, fd[0], fd[1])
                           for f, fd in zip(facts, fired)])),
        ("new engine key: whole decide() (engine, cross-check, decision)", per_case(
            max(1, r - 1), n, lambda: [(plan.engine_results.clear(), plan.by_evidence.clear(),
                                        engine.decide(v, rb, plan, k, f))
                                       for v, k, f in zip(valid, keys, facts)])),
        ("uncached: assess(cache=False) + json.dumps", per_case(max(1, r - 1), n, lambda: [
            json.dumps({**h, **engine.assess(c, rb, cache=False).to_dict()})
            for c, h in zip(cases, heads)])),
    ]
    print(f"Python {sys.version.split()[0]}; {args.workload} workload, {n:,} cases, "
          f"{len(set(keys)):,} distinct atom vectors, {len(engine_keys):,} distinct engine keys; "
          f"CPU µs per case, best of {r}")
    print()
    print("| step | µs per case |")
    print("|---|---:|")
    for what, micros in rows:
        print(f"| {what} | {micros:,.1f} |")


if __name__ == "__main__":
    main()
