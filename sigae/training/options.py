"""FitOptions: how a model is trained (the recipe), as :class:`~sigae.AutoencoderConfig` is what is trained."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from sigae.errors import ConfigError, option


@dataclass(frozen=True)
class FitOptions:
    """The training recipe :meth:`sigae.SignalAutoencoder.fit` takes as keywords (or as ``options=``).

    *epochs*, *batch_size* (the global batch, split across replicas), *validation_split* (a random fraction of
    the signals, seeded by *seed*, held out for validation, early stopping and the anomaly threshold),
    *patience* (epochs without a better validation loss before stopping; None: never stop early), *seed*
    (split, shuffles, initial weights), *threshold_percentile* (the anomaly threshold's percentile of the
    validation signals' scores), *mixed_precision* (float16 compute with float32 weights and loss, for GPUs),
    *keep_checkpoints* (keep ``checkpoints/`` in a complete run folder). Raises ConfigError for a value out of
    range, naming the option.
    """

    epochs: int = 100
    batch_size: int = 100
    validation_split: float = 0.2
    patience: int | None = None
    seed: int | None = None
    threshold_percentile: float = 99.0
    mixed_precision: bool = False
    keep_checkpoints: bool = False

    def __post_init__(self):
        e, b, v, p, t = self.epochs, self.batch_size, self.validation_split, self.patience, self.threshold_percentile
        if not isinstance(e, (int, np.integer)) or e < 1:
            raise ConfigError(f"{option('--epochs', 'epochs')}: must be a whole number >= 1, got {e!r}")
        if not isinstance(b, (int, np.integer)) or b < 1:
            raise ConfigError(f"{option('--batch-size', 'batch_size')}: must be a whole number >= 1, got {b!r}")
        if not 0 <= v < 1:
            raise ConfigError(f"{option('--validation-split', 'validation_split')}: must be in [0, 1), got {v!r}")
        if p is not None and (not isinstance(p, (int, np.integer)) or p < 1):
            raise ConfigError(f"{option('--patience', 'patience')}: must be a whole number >= 1, got {p!r}")
        if not 0 < t <= 100:
            raise ConfigError(f"threshold percentile: must be in (0, 100], got {t!r}")

    @classmethod
    def from_keywords(cls, options: "FitOptions | None" = None, **keywords) -> "FitOptions":
        """*options* (or the defaults) with *keywords* replaced; TypeError for an unknown keyword, as Python
        raises for a function's."""
        unknown = sorted(set(keywords) - {f.name for f in fields(cls)})
        if unknown:
            raise TypeError(f"fit() got an unexpected keyword argument {unknown[0]!r}")
        return cls(**{**(asdict(options) if options is not None else {}), **keywords})
