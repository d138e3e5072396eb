"""The one-shot search as one Ray Tune trial: supernet training with a checkpoint every epoch, then the
search over members with inherited weights.

Each epoch reports `epoch` and `train_loss` with a checkpoint (`checkpoint.pt`: the supernet's tensors by
key, the optimizer, the algorithm's state, the RNG). A trial relaunched after a kill (`resume_from`: the
trial directories of earlier attempts) continues from the newest checkpoint that loads. The last
checkpoint (epoch = supernet epochs + 1) holds `members`: every scored member as `[assignment, one-shot
accuracy, params, MACs, reason]` (accuracy None and a reason for a member that failed), which the driver
reads back from the search storage. The members are scored by the trial alone or with `eval_actors - 1` Ray
actors beside it (`actors.py`): the same scores either way.

While members are scored, a scoring checkpoint every `ARCHDSL_SCORING_CHECKPOINT_S` seconds (default 10, and
at least ten times what the last one took to save) holds the trained supernet (epoch = supernet epochs), the
algorithm's state as training left it and `scored`: the members scored so far. A trial relaunched from it runs
the search again from its start with those scores known: the strategy is told the same accuracies in the
same order (a member's score depends on the member alone, `scoring.py`), so it proposes the same members, and
only those not yet scored are scored. The newest checkpoint is the one with the greatest (epoch, members
scored). The last report says how many members came from such a checkpoint (`members_reused`) and how many
scoring checkpoints were taken and what they cost (`scoring_checkpoints`, `scoring_checkpoint_s`).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from ..runtime import checkpoint
from .building import build

DONE = "members"
SCORED = "scored"  # a scoring checkpoint's members scored so far
SAVE_EVERY_S = 10.0


def newest(state: dict) -> tuple[int, int]:
    """The order of a one-shot trial's checkpoints: epoch, then members scored."""
    return int(state["epoch"]), len(state.get(SCORED) or ())


def scorer(config: dict):
    """None (`eval_actors` 1: the trial scores alone), or the `eval_actors - 1` Ray actors that score beside
    it, started now so that their start overlaps the supernet's training."""
    workers = int(config.get("eval_actors") or 1)
    if workers <= 1:
        return None
    from .actors import ParallelScorer

    settings = config["settings"]
    return ParallelScorer({"settings": settings, "space_text": config["space_text"]}, workers,
                          float(settings.get("cpus_per_trial") or 1),
                          float(settings.get("gpus_per_trial") or 0)).start()


def run_search(config: dict, report) -> dict:
    """Train (or continue) the supernet and search it; `report(metrics, directory)` after every epoch.
    Returns the final state (with `members`)."""
    import torch

    from ..search.trainable import latest_checkpoint, pick_device

    settings = dict(config["settings"])
    torch.set_num_threads(max(1, int(settings.get("cpus_per_trial") or 1)))
    device, _ = pick_device({"device": "auto"})
    data, space, trainer, algo = build(settings, config["space_text"], settings.get("space") or "<space>", device)
    with tempfile.TemporaryDirectory() as work:
        resumed = latest_checkpoint(config.get("storage"), list(config.get("resume_from") or []), Path(work),
                                    key=newest)
        state = None
        if resumed:
            state = checkpoint.load(Path(work))
            if DONE in state:
                report({"epoch": int(state["epoch"]), "resumed_from": resumed}, work)
                return state
            trainer.load_state_dict(state["trainer"])
            algo.load_state_dict(state["algorithm"])
            checkpoint.set_rng_state(state["rng"])
        parallel = scorer(config)
        try:
            state = _train_and_search(settings, trainer, algo, parallel, state, work, report, resumed)
        finally:
            if parallel is not None:
                parallel.close()
    return state


def _train_and_search(settings: dict, trainer, algo, parallel, state, work: str, report, resumed) -> dict:
    """The supernet's remaining epochs, each checkpointed, then the search (scored by `parallel` or here)."""
    from .scoring import LocalScorer, MemberScore, Scored

    epochs = trainer.cfg.epochs
    saved = (state or {}).pop(SCORED, None) or []
    for epoch in range(trainer.epoch + 1, epochs + 1):
        loss = algo.train_epoch()
        state = {"trainer": trainer.state_dict(), "algorithm": algo.state_dict(), "epoch": epoch,
                 "rng": checkpoint.rng_state()}
        checkpoint.save(state, work)
        report({"epoch": epoch, "train_loss": loss, "resumed_from": resumed}, work)
    # what a scoring checkpoint holds besides the scores: the supernet as trained (its optimizer is done with)
    # (BatchNorm statistics copied: scoring recalibrates them in place)
    trained = trainer.state_dict()
    trained = {**trained, "optimizer": {}, "stats": {k: t.clone() for k, t in trained["stats"].items()}}
    base = {"trainer": trained, "algorithm": algo.state_dict(), "epoch": epochs, "rng": checkpoint.rng_state()}
    scored = Scored(LocalScorer(trainer) if parallel is None else parallel.attach(trainer))
    for entry in saved:
        a, s = MemberScore.from_list(entry)
        scored.results[a] = s
    scored.on_member = saver = Saver(base, scored, work, report, resumed)
    algo.search(int(settings["samples"]), scored)
    state = {"epoch": epochs + 1, DONE: [s.as_list(a) for a, s in scored.results.items()],
             "trainer": trainer.state_dict()}
    checkpoint.save(state, work)
    accs = scored.accuracies()
    report({"epoch": epochs + 1, "val_acc": max(accs.values()) if accs else 0.0, "members": len(accs),
            "failed": len(scored.results) - len(accs), "members_reused": len(saved),
            "scoring_checkpoints": saver.saves, "scoring_checkpoint_s": round(saver.seconds, 3),
            "eval_workers": scored.scorer.workers, "actor_restarts": getattr(scored.scorer, "restarts", 0),
            "scored_by_actors": getattr(scored.scorer, "by_actors", 0), "resumed_from": resumed}, work)
    return state


class Saver:
    """`Scored.on_member`: a scoring checkpoint once `every` seconds passed since the last (or the start), and
    at least ten times what the last save took, so that saving costs at most a tenth of the scoring."""

    def __init__(self, base: dict, scored, work: str, report, resumed: int, every: float | None = None) -> None:
        self.base, self.scored, self.work, self.report, self.resumed = base, scored, work, report, resumed
        self.every = float(os.environ.get("ARCHDSL_SCORING_CHECKPOINT_S", SAVE_EVERY_S)) if every is None else every
        self.due = time.monotonic() + self.every
        self.saves, self.seconds = 0, 0.0  # scoring checkpoints taken, and the time they took

    def __call__(self, member, score) -> None:
        if time.monotonic() < self.due:
            return
        start = time.monotonic()
        members = [s.as_list(a) for a, s in self.scored.results.items()]
        checkpoint.save({**self.base, SCORED: members}, self.work)
        self.report({"epoch": self.base["epoch"], "members_saved": len(members), "resumed_from": self.resumed},
                    self.work)
        took = time.monotonic() - start
        self.saves, self.seconds = self.saves + 1, self.seconds + took
        self.due = time.monotonic() + max(self.every, 10 * took)


def oneshot_trial(config: dict) -> None:
    """The function trainable handed to `tune.Tuner`."""
    from ray import tune

    def report(metrics: dict, directory: str) -> None:
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(directory))

    run_search(config, report)
