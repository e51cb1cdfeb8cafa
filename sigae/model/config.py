"""AutoencoderConfig: the single source of truth for the architecture.

Saved as ``config.json`` in every run folder; the network is rebuilt from it
and checked against the saved model when a run folder is loaded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from sigae.errors import ConfigError, option

DECODERS = ("seed", "mirror")
ENCODERS = ("kernels", "conv")
NORMALIZERS = ("global", "per-signal", "per-timestep", "minmax")
LR_SCHEDULES = ("constant", "cosine")
CONFIG_VERSION = 4
KERNEL_MIN_LENGTH = 9
"""MiniRocket's kernels have 9 taps (sigae.model.kernels.KERNEL_LENGTH): the kernels encoder's shortest input."""

SEED_PRESET = {"encoder": "conv", "filters": (256, 32), "kernel_sizes": (3, 3), "pool_sizes": (2, 2), "latent_dim": 32,
               "activation": "tanh", "latent_activation": "tanh", "decoder": "seed", "linear_path": False,
               "restore_best": False, "learning_rate": 1e-3, "lr_schedule": "constant", "trim_fraction": 0.0,
               "rare_fraction": 0.0, "cross_fit_folds": 0}
"""The seed architecture and recipe, field by field: the original model (Conv1D(256, 3, tanh)/MaxPool(2),
Conv1D(32, 3, tanh)/MaxPool(2), Dense(32, tanh); the seed decoder; Adam 1e-3), what version-1 config files
described."""

RECONSTRUCTION_PRESET = {"encoder": "conv"}
"""The default of config version 3: a convolutional encoder beside a PCA-started linear path, made for
reconstruction error (compression, anomaly scores) rather than codes."""

PRESETS = {"default": {}, "reconstruction": RECONSTRUCTION_PRESET, "seed": SEED_PRESET}


@dataclass(frozen=True)
class AutoencoderConfig:
    """Architecture, preprocessing and training recipe of one autoencoder.

    Every shape follows from ``input_length`` and ``channels``. The encoder is
    Conv1D(valid)/MaxPool stages, Flatten and a Dense bottleneck of
    ``latent_dim`` units; the decoder mirrors it (``decoder="mirror"``) or is
    seed thread 003's Conv1D/UpSampling stages closed by a Dense layer to the
    full length (``decoder="seed"``).

    The default encoder (``encoder="kernels"``, config version 4) is not convolution stages but
    MiniRocket's fixed random dilated kernels (:mod:`sigae.model.kernels`; ``kernel_features`` of them), whose
    standardized features' leading principal components make ``kernel_code_share`` of the code, the rest
    being PCA of the signal at a tenth of that spread; it is set at ``fit`` and frozen, and only the
    decoder trains (the ``filters``/``kernel_sizes``/``pool_sizes`` stages then shape the mirrored
    decoder). ``encoder="conv"`` (``from_preset("reconstruction")``, the default until version 4) is the
    convolutional encoder below.

    The reconstruction preset adds a *linear path* (``linear_path=True``): a linear encoder
    and decoder beside the convolutional ones, initialized at ``fit`` to the
    principal components of the training signals, while the convolutional
    paths' last layers start at zero. The untrained model *is* PCA with
    ``latent_dim`` components; training moves away from it only as far as the
    validation loss says it helps, because the best epoch (epoch 0, PCA,
    included) is restored at the end (``restore_best=True``).

    ``AutoencoderConfig.from_preset("seed")`` is the seed architecture and
    recipe exactly (15,054,773 parameters at 501 points).

    Fields: ``input_length`` L and ``channels`` C (set from the data by ``fit``); ``encoder``
    (``"kernels"`` or ``"conv"``), ``kernel_features`` (about how many kernel features, rounded down to
    a multiple of 84) and ``kernel_code_share`` (the share of ``latent_dim`` they fill); ``filters``,
    ``kernel_sizes``, ``pool_sizes`` (one entry per encoder stage); ``latent_dim``; ``activation`` of the
    convolutions and ``latent_activation`` of the bottleneck Dense; ``decoder`` (``"mirror"`` or ``"seed"``);
    ``linear_path``; ``tied`` (decoder kernels read from the encoder's, mirror decoder only);
    ``normalize`` (``"global"``, ``"per-signal"``, ``"per-timestep"``, ``"minmax"``); ``learning_rate`` and
    ``lr_schedule`` (``"constant"``, ``"cosine"``) of Adam; ``trim_fraction`` of each batch left out of
    the gradient; ``rare_fraction``: training signals far out on a direction carried by fewer than this
    fraction of them, and those PCA fitted without them reconstructs far worse than the others, are left out
    of training (:mod:`sigae.evaluation.screening`; 0 keeps every signal); ``cross_fit_folds``: after
    training, up to 1,000 kept training signals are scored out of fold by this many fold models
    (:mod:`sigae.estimator.cross_fitting`; 0: scored by the model itself); ``restore_best``; ``version`` of the file
    format. Invalid values raise
    :class:`~sigae.ConfigError`.
    """

    input_length: int = 501
    channels: int = 1
    encoder: str = "kernels"
    kernel_features: int = 4000
    kernel_code_share: float = 0.5
    filters: tuple[int, ...] = (64, 32)
    kernel_sizes: tuple[int, ...] = (3, 3)
    pool_sizes: tuple[int, ...] = (2, 2)
    latent_dim: int = 32
    activation: str = "tanh"
    latent_activation: str = "linear"
    decoder: str = "mirror"
    linear_path: bool = True
    tied: bool = False
    normalize: str = "global"
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"
    trim_fraction: float = 0.0
    rare_fraction: float = 0.01
    cross_fit_folds: int = 5
    restore_best: bool = True
    version: int = field(default=CONFIG_VERSION)

    @classmethod
    def from_preset(cls, name: str = "default", **overrides) -> "AutoencoderConfig":
        """The configuration of a named preset (``"default"`` or ``"seed"``), with *overrides* on top.

        Raises :class:`ConfigError` for an unknown preset name."""
        if name not in PRESETS:
            raise ConfigError(f"{option('--preset', 'preset')}: unknown preset {name!r}; choose from "
                              f"{', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    def __post_init__(self):
        for name in ("filters", "kernel_sizes", "pool_sizes"):
            value = getattr(self, name)
            if isinstance(value, int):
                value = (value,)
            try:
                value = tuple(int(v) for v in value)
            except (TypeError, ValueError):
                raise ConfigError(f"config: {name} must be a list of whole numbers, got {value!r}") from None
            object.__setattr__(self, name, value)
        if not (len(self.filters) == len(self.kernel_sizes) == len(self.pool_sizes)) or not self.filters:
            raise ConfigError(
                "config: filters, kernel_sizes and pool_sizes need one entry per encoder stage "
                f"(got {len(self.filters)}, {len(self.kernel_sizes)}, {len(self.pool_sizes)})")
        for name in ("filters", "kernel_sizes", "pool_sizes"):
            if any(v < 1 for v in getattr(self, name)):
                raise ConfigError(f"config: every entry of {name} must be at least 1, got {list(getattr(self, name))}")
        for name in ("input_length", "channels", "latent_dim"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ConfigError(f"config: {name} must be a whole number >= 1, got {getattr(self, name)!r}")
        if self.encoder not in ENCODERS:
            raise ConfigError(f"config: encoder must be one of {', '.join(ENCODERS)}, got {self.encoder!r}")
        if not isinstance(self.kernel_features, int) or self.kernel_features < 84:
            raise ConfigError(f"config: kernel_features must be a whole number >= 84 (one per kernel), "
                              f"got {self.kernel_features!r}")
        if not (isinstance(self.kernel_code_share, (int, float)) and 0 < self.kernel_code_share <= 1):
            raise ConfigError(f"config: kernel_code_share must be in (0, 1], got {self.kernel_code_share!r}")
        if self.encoder == "kernels":
            if self.input_length < KERNEL_MIN_LENGTH:
                raise ConfigError(f"config: input_length {self.input_length} is too short for the kernels encoder "
                                  f"(its kernels span {KERNEL_MIN_LENGTH} points); the minimum is "
                                  f"{self.minimum_length()}; for shorter signals use encoder='conv' "
                                  "(--preset reconstruction) with smaller kernel_sizes")
            if self.tied:
                raise ConfigError("config: tied weights need the convolutional encoder (--preset reconstruction "
                                  "--tied, or encoder='conv'); the default's kernels are fixed, not learned")
            if not self.linear_path and self.kernel_code_dims < self.latent_dim:
                raise ConfigError("config: with encoder='kernels' and no linear path, kernel_code_share must be 1")
        if self.decoder not in DECODERS:
            raise ConfigError(f"config: decoder must be one of {', '.join(DECODERS)}, got {self.decoder!r}")
        if self.normalize not in NORMALIZERS:
            raise ConfigError(f"config: normalize must be one of {', '.join(NORMALIZERS)}, got {self.normalize!r}")
        for name in ("linear_path", "tied", "restore_best"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"config: {name} must be true or false, got {getattr(self, name)!r}")
        if self.tied and self.decoder != "mirror":
            raise ConfigError("config: tied weights need the mirrored decoder (decoder='mirror', --decoder mirror)")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(f"config: lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        if not (isinstance(self.trim_fraction, (int, float)) and 0 <= self.trim_fraction < 0.5):
            raise ConfigError(f"config: trim_fraction must be in [0, 0.5), got {self.trim_fraction!r}")
        if not (isinstance(self.rare_fraction, (int, float)) and 0 <= self.rare_fraction < 0.5):
            raise ConfigError(f"config: rare_fraction must be in [0, 0.5), got {self.rare_fraction!r}")
        if not (isinstance(self.cross_fit_folds, int) and not isinstance(self.cross_fit_folds, bool)
                and (self.cross_fit_folds == 0 or self.cross_fit_folds >= 2)):
            raise ConfigError(f"config: cross_fit_folds must be 0 (off) or a whole number >= 2, got "
                              f"{self.cross_fit_folds!r}")
        if not self.learning_rate > 0:
            raise ConfigError(f"config: learning_rate must be > 0, got {self.learning_rate!r}")
        self.stage_lengths()  # raises ConfigError for a too-short input
        if self.decoder == "seed":
            self.seed_decoder_lengths()

    @property
    def kernel_code_dims(self) -> int:
        """Code units from the kernel features (encoder ``"kernels"``); the others are the signals' PCA."""
        return max(1, min(self.latent_dim, round(self.latent_dim * self.kernel_code_share)))

    def stage_lengths(self) -> list[int]:
        """Lengths through the encoder: [L, after conv 1, after pool 1, ..., final]."""
        lengths = [self.input_length]
        for stage, (k, p) in enumerate(zip(self.kernel_sizes, self.pool_sizes), start=1):
            after_conv = lengths[-1] - k + 1
            after_pool = after_conv // p
            if after_conv < 1 or after_pool < 1:
                minimum = self.minimum_length()
                raise ConfigError(
                    f"config: input_length {self.input_length} is too short for this encoder "
                    f"(stage {stage} leaves nothing); the minimum is {minimum}")
            lengths += [after_conv, after_pool]
        return lengths

    def seed_decoder_lengths(self) -> list[int]:
        """Lengths through the seed decoder, which starts from the latent code as a (latent_dim, 1) sequence."""
        lengths = [self.latent_dim]
        for k, p in reversed(list(zip(self.kernel_sizes, self.pool_sizes))):
            after_conv = lengths[-1] - k + 1
            if after_conv < 1:
                raise ConfigError(f"config: latent_dim {self.latent_dim} is too small for the seed decoder's "
                                  "valid convolutions; use a larger latent_dim or decoder='mirror'")
            lengths += [after_conv, after_conv * p]
        return lengths

    def minimum_length(self) -> int:
        """The shortest input that survives every valid-conv/pool stage (and the kernels encoder's span)."""
        length = 1
        for k, p in reversed(list(zip(self.kernel_sizes, self.pool_sizes))):
            length = length * p + k - 1
        return max(length, KERNEL_MIN_LENGTH) if self.encoder == "kernels" else length

    def with_updates(self, **changes) -> "AutoencoderConfig":
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ConfigError(f"config: unknown option(s) {', '.join(sorted(unknown))}; "
                              f"known: {', '.join(f.name for f in dataclasses.fields(self))}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        for name in ("filters", "kernel_sizes", "pool_sizes"):
            data[name] = list(data[name])
        return data

    @classmethod
    def from_dict(cls, data: dict, source: str = "config") -> "AutoencoderConfig":
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: expected a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"{source}: unknown field(s) {', '.join(sorted(unknown))}")
        version = data.get("version", 1)
        if not isinstance(version, int) or version > CONFIG_VERSION:
            raise ConfigError(f"{source}: written by a newer sigae (config version {version!r})")
        if version == 1:  # written before the linear path existed: every missing field was the seed's
            data = {**{k: v for k, v in SEED_PRESET.items() if k not in data and k != "latent_activation"}, **data, "version": CONFIG_VERSION}
            data.setdefault("latent_activation", data["activation"])
        elif version == 2:  # written before training signals were screened (sigae.evaluation.screening)
            data = {"rare_fraction": 0.0, "encoder": "conv", **data, "version": CONFIG_VERSION}
        elif version == 3:  # written before the random-kernel encoder (sigae.model.kernels) was the default
            data = {"encoder": "conv", **data, "version": CONFIG_VERSION}
        try:
            return cls(**data)
        except TypeError as exc:
            raise ConfigError(f"{source}: {exc}") from None

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def load(cls, path: str | Path) -> "AutoencoderConfig":
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: not a readable JSON config ({exc})") from None
        return cls.from_dict(data, source=str(path))

    def hash(self) -> str:
        """A short fingerprint of the architecture, for provenance in outputs."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:12]
