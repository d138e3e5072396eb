"""Scoring members in parallel: the supernet's own trial and `workers - 1` Ray actors beside it.

The trained supernet's tensors go into Ray's object store once (`ray.put`); each actor builds the same
supernet, dataset batches and calibration batches as the trial (`building.build_trainer`), loads those tensors
into its own copy and scores the members it is sent (`scoring.score_member`: BatchNorm recalibrated on its
copy, accuracy, params, MACs). The trial scores members itself while the actors work, so `--eval-actors 2`
costs one CPU set more than the trial, not two. Every worker holds the same tensors and scores a member the
same way, so a member's score does not depend on where it was scored.

Inside a Tune trial the actors run in the trial's placement group (bundle i for actor i: the driver asks
Tune for one bundle of `--cpus-per-trial/--gpus-per-trial` per worker); elsewhere (tests, benches) they
are scheduled as any actor with those resources.

An actor that dies (killed, its node lost, out of memory) loses nothing: the members it held go back to the
queue and a new actor takes its place, up to `RESTARTS` times per place, after which the others (at least
the trial itself) finish the work. A member whose actor died under it twice is recorded as failed with the
reason; a member that raises while being scored is failed by `score_member` itself.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from .scoring import MemberScore, score_member

DEPTH = 2  # members queued on each actor, so that it never waits for the trial between two members
RESTARTS = 3  # new actors per place after deaths, before the place is given up
ATTEMPTS = 2  # actor deaths a member may see before it is recorded as failed


class ScoringActor:
    """One scoring worker (made a Ray actor by `ParallelScorer`): started with the search, before the supernet
    has trained, so that its start (a process, torch, the dataset) overlaps the training."""

    def __init__(self, config: dict) -> None:
        import torch

        from ..search.trainable import pick_device
        from .building import build_trainer

        settings = config["settings"]
        torch.set_num_threads(max(1, int(settings.get("cpus_per_trial") or 1)))
        device, _ = pick_device({"device": "auto"})
        _, _, self.trainer = build_trainer(settings, config["space_text"], settings.get("space") or "<space>",
                                           device)

    def load(self, tensors: dict) -> bool:
        from .building import load_tensors

        load_tensors(self.trainer, tensors)
        return True

    def score(self, member) -> MemberScore:
        return score_member(self.trainer, member)


@dataclass
class _Place:
    index: int  # the placement group bundle (0 is the trial's)
    actor: object = None
    generation: int = 0
    ready: object = None  # the `load()` call's reference until it answered
    load: int = 0
    restarts: int = 0
    gone: bool = False
    errors: list = field(default_factory=list)


class ParallelScorer:
    """`start()` the actors, `attach(trainer)` once the supernet has trained, then `score(members)`: the
    trainer and `workers - 1` actors score them, the results in order."""

    def __init__(self, config: dict, workers: int, cpus: float = 1.0, gpus: float = 0.0) -> None:
        self.config, self.workers = config, int(workers)
        self.cpus, self.gpus = float(cpus), float(gpus)
        self.trainer, self.tensors = None, None
        self.places = [_Place(i) for i in range(1, self.workers)]
        self.by_actors = 0  # members the actors scored (the rest the trial did)

    def start(self) -> ParallelScorer:
        import ray

        self.remote = ray.remote(ScoringActor)
        for p in self.places:
            self._start(p)
        return self

    def attach(self, trainer) -> ParallelScorer:
        """Score with `trainer`'s supernet: its tensors go into the object store once, every actor loads them."""
        import ray

        net = trainer.net
        self.trainer = trainer
        self.tensors = ray.put({"weights": {k: p.detach().cpu() for k, p in net.weights.items()},
                                "stats": {k: b.detach().cpu() for k, b in net.stats._buffers.items()}})
        for p in self.places:
            if not p.gone:
                p.ready = p.actor.load.remote(self.tensors)
        return self

    # -- actors --------------------------------------------------------------------------------------

    def _start(self, place: _Place) -> None:
        from ray.util import get_current_placement_group
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        pg = get_current_placement_group()
        strategy = PlacementGroupSchedulingStrategy(pg, placement_group_bundle_index=place.index) \
            if pg is not None and place.index < pg.bundle_count else "DEFAULT"
        place.actor = self.remote.options(num_cpus=self.cpus, num_gpus=self.gpus, max_restarts=0,
                                          scheduling_strategy=strategy).remote(self.config)
        place.generation += 1
        place.load = 0
        place.ready = place.actor.load.remote(self.tensors) if self.tensors is not None else None

    def _lost(self, place: _Place, generation: int, error) -> None:
        """The actor of `place` died (seen by one of its calls): start another, or give the place up."""
        import ray

        from ..search.results import reason_of

        if generation != place.generation or place.gone:
            return  # an older actor's death, already handled
        place.errors.append(reason_of(error))
        ray.kill(place.actor, no_restart=True)
        if place.restarts >= RESTARTS:
            place.gone, place.actor, place.ready = True, None, None
            return
        place.restarts += 1
        self._start(place)

    def _check_ready(self) -> None:
        import ray

        waiting = [p for p in self.places if p.ready is not None and not p.gone]  # loading the tensors
        if not waiting:
            return
        done, _ = ray.wait([p.ready for p in waiting], num_returns=len(waiting), timeout=0)
        for p in waiting:
            if p.ready in done:
                ref, generation = p.ready, p.generation
                p.ready = None
                try:
                    ray.get(ref)
                except Exception as e:  # noqa: BLE001 - an actor that could not start: try another
                    self._lost(p, generation, e)

    @property
    def restarts(self) -> int:
        return sum(p.restarts for p in self.places)

    @property
    def errors(self) -> list[str]:
        return [e for p in self.places for e in p.errors]

    # -- scoring -------------------------------------------------------------------------------------

    def score(self, members: list) -> list[MemberScore]:
        import ray

        members = [tuple(a) for a in members]
        results: list[MemberScore | None] = [None] * len(members)
        todo = deque(range(len(members)))
        deaths = [0] * len(members)
        inflight: dict = {}  # reference -> (place, generation, member index)
        while todo or inflight:
            self._check_ready()
            for p in self.places:
                while not p.gone and p.ready is None and p.actor is not None and p.load < DEPTH and todo:
                    i = todo.popleft()
                    inflight[p.actor.score.remote(members[i])] = (p, p.generation, i)
                    p.load += 1
            if todo:  # the trial scores too, from the other end of the queue
                i = todo.pop()
                results[i] = score_member(self.trainer, members[i])
                timeout = 0
            else:
                timeout = 1.0
            if not inflight:
                continue
            done, _ = ray.wait(list(inflight), num_returns=1, timeout=timeout)
            if done:  # and whatever else is done by now
                done, _ = ray.wait(list(inflight), num_returns=len(inflight), timeout=0)
            for ref in done:
                p, generation, i = inflight.pop(ref)
                if generation == p.generation:
                    p.load -= 1
                try:
                    results[i] = ray.get(ref)
                    self.by_actors += 1
                except (ray.exceptions.RayActorError, ray.exceptions.ObjectLostError) as e:
                    self._lost(p, generation, e)
                    deaths[i] += 1
                    if deaths[i] >= ATTEMPTS:
                        from ..search.results import reason_of

                        times = "once" if deaths[i] == 1 else f"{deaths[i]} times"
                        results[i] = MemberScore(None, reason=f"its scoring actor died {times} while scoring "
                                                              f"it ({reason_of(e)})")
                    else:
                        todo.appendleft(i)
                except Exception as e:  # noqa: BLE001 - the call itself failed (not the member's scoring)
                    from ..search.results import reason_of

                    results[i] = MemberScore(None, reason=f"scoring failed: {reason_of(e)}")
        return results

    def close(self) -> None:
        import ray

        for p in self.places:
            if p.actor is not None:
                ray.kill(p.actor, no_restart=True)
                p.actor, p.gone = None, True
