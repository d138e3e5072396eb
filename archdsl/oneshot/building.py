"""What a one-shot trial and each of its scoring actors build from the search's settings: the dataset, the
space, the supernet's trainer, the algorithm, and a copy of trained tensors (in one module below both, so that
the trial may start actors that build the same)."""

from __future__ import annotations


def build(settings: dict, space_text: str, space_file: str, device: str):
    """The dataset, the supernet's trainer and the algorithm for `settings`."""
    data, space, trainer = build_trainer(settings, space_text, space_file, device)
    return data, space, trainer, algorithm(settings, trainer)


def build_trainer(settings: dict, space_text: str, space_file: str, device: str):
    """The dataset, the space and the supernet's trainer (as every scoring worker builds them)."""
    import torch

    from ..dsl.parser import parse as parse_arch
    from ..search.space import Space
    from ..search.trainable import cached_dataset
    from .supernet import Supernet
    from .train import SupernetConfig, Trainer

    data = cached_dataset(settings.get("data") or "digits", settings.get("val_fraction"))
    space = Space.load(parse_arch(space_text, space_file), settings.get("args"))
    seed = int(settings.get("seed") or 0)
    torch.manual_seed(seed)
    net = Supernet(space, tuple(data.input_shape), data.num_classes, device=device,
                   sharing=settings.get("sharing") or "shape")
    net.max_params, net.max_macs = settings.get("max_params"), settings.get("max_macs")
    cfg = SupernetConfig(epochs=int(settings["supernet_epochs"]), seed=seed,
                         **{k: settings[k] for k in ("batch_size", "lr") if settings.get(k)})
    trainer = Trainer(net, data, cfg, amp=bool(settings.get("amp", True)),
                      channels_last=bool(settings.get("channels_last", True)))
    return data, space, trainer


def load_tensors(trainer, tensors: dict) -> None:
    """Give `trainer`'s supernet the tensors of another (`{"weights": {key: tensor}, "stats": {...}}`), as its
    own copies: scoring writes BatchNorm statistics into them."""
    from torch import nn

    net = trainer.net
    for k, t in tensors["weights"].items():
        net.weights[k] = nn.Parameter(t.to(trainer.device).clone(), requires_grad=False)
    for k, t in tensors["stats"].items():
        net.stats.register_buffer(k, t.to(trainer.device).clone())
    net.take_new_parameters()
    net.clear_cache()


def algorithm(settings: dict, trainer):
    seed = int(settings.get("seed") or 0)
    kind = settings["one_shot"]
    if kind == "enas":
        from .algorithms import Enas

        return Enas(trainer, seed, **(settings.get("strategy_options") or {}))
    if kind == "darts":
        from .darts import Darts

        return Darts(trainer, seed)
    from .algorithms import Spos

    return Spos(trainer, seed, settings.get("strategy") or "evolution", settings.get("strategy_options") or {},
                sampling=settings.get("sampling") or "fair")
