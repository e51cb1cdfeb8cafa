"""Build the Keras models from an AutoencoderConfig, each exactly once.

``build_models`` returns ``(encoder, decoder, autoencoder)`` where
``autoencoder = Model(x, decoder(encoder(x)))``: the sub-models *are* the
autoencoder's layers, so ``decoder(encoder(x))`` and ``autoencoder(x)`` run the
same weights. Building a sub-model a second time (the bug of seed 003) gives
fresh untrained weights; :func:`check_submodels` detects it.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from sigae.model.config import AutoencoderConfig
from sigae.errors import RunFolderError, SigaeError
from sigae.model.layers import TIED_LAYERS, TiedAutoencoder, TiedConv1DTranspose, TiedDense


def _path_end(config: AutoencoderConfig):
    """Initializer of the layer that ends a convolutional path: zeros beside a linear path, so that the
    untrained model is exactly its linear (PCA-initialized) path."""
    return "zeros" if config.linear_path else "glorot_uniform"


LINEAR_CODE_SCALE = 0.1
"""In the kernels encoder's code, the linear (PCA) block's spread relative to the kernel block's: the block
that tells signals apart dominates distances (SVM, 1-NN, k-means), and the decoder undoes the factor."""


def build_kernel_encoder(config: AutoencoderConfig) -> keras.Model:
    """MiniRocket's fixed dilated convolutions and PPV pooling (:class:`~sigae.model.kernels.KernelFeatures`), a
    Dense bottleneck of ``kernel_code_dims`` units (``encoder_features_dense``) and, for the other
    ``latent_dim - kernel_code_dims`` units, a linear map of the flattened signal (``encoder_linear``),
    joined into the code (``encoder_latent``). Both maps are set at ``fit`` from the training signals (PCA of
    the standardized features; PCA of the signals) and not trained afterwards: the encoder is frozen."""
    from sigae.model.kernels import KernelFeatures

    signal = keras.Input(shape=(config.input_length, config.channels), name="signal")
    features = KernelFeatures(config.input_length, config.channels, config.kernel_features,
                              name="encoder_kernels")(signal)
    latent = layers.Dense(config.kernel_code_dims, name="encoder_features_dense")(features)
    linear_dims = config.latent_dim - config.kernel_code_dims
    if linear_dims:
        flat = layers.Flatten(name="encoder_linear_flatten")(signal)
        linear = layers.Dense(linear_dims, name="encoder_linear")(flat)
        latent = layers.Concatenate(name="encoder_latent")([latent, linear])
    encoder = keras.Model(signal, latent, name="encoder")
    encoder.trainable = False
    return encoder


def build_encoder(config: AutoencoderConfig) -> keras.Model:
    """Conv1D(valid)/MaxPool stages, Flatten, Dense bottleneck; with ``linear_path``, plus a linear map of
    the flattened signal (``encoder_linear``), the two added (``encoder_latent``). With
    ``encoder="kernels"``: :func:`build_kernel_encoder`."""
    if config.encoder == "kernels":
        return build_kernel_encoder(config)
    signal = keras.Input(shape=(config.input_length, config.channels), name="signal")
    h = signal
    stages = zip(config.filters, config.kernel_sizes, config.pool_sizes)
    for i, (filters, kernel, pool) in enumerate(stages, start=1):
        h = layers.Conv1D(filters, kernel, padding="valid", activation=config.activation, name=f"encoder_conv{i}")(h)
        h = layers.MaxPooling1D(pool, name=f"encoder_pool{i}")(h)
    h = layers.Flatten(name="encoder_flatten")(h)
    latent = layers.Dense(config.latent_dim, activation=config.latent_activation, kernel_initializer=_path_end(config),
                          name="encoder_dense")(h)
    if config.linear_path:
        flat = layers.Flatten(name="encoder_linear_flatten")(signal)
        linear = layers.Dense(config.latent_dim, name="encoder_linear")(flat)
        latent = layers.Add(name="encoder_latent")([linear, latent])
    return keras.Model(signal, latent, name="encoder")


def _add_linear_decoder(config: AutoencoderConfig, latent, conv_output):
    """With ``linear_path``: the decoder's output plus a linear map of the code (``decoder_linear``, tied to
    ``encoder_linear`` when ``tied``)."""
    if not config.linear_path:
        return conv_output
    size = config.input_length * config.channels
    if config.tied:
        flat = TiedDense(size, tied_to="encoder_linear", name="decoder_linear")(latent)
    else:
        flat = layers.Dense(size, name="decoder_linear")(latent)
    linear = layers.Reshape((config.input_length, config.channels), name="decoder_linear_reshape")(flat)
    return layers.Add(name="decoder_output")([linear, conv_output])


def build_seed_decoder(config: AutoencoderConfig) -> keras.Model:
    """Seed 003's decoder: Reshape((latent, 1)), Conv1D/UpSampling stages in
    reverse order, Flatten, Dense to the full length, Reshape((L, C))."""
    latent = keras.Input(shape=(config.latent_dim,), name="latent")
    h = layers.Reshape((config.latent_dim, 1), name="decoder_reshape_in")(latent)
    stages = list(zip(config.filters, config.kernel_sizes, config.pool_sizes))[::-1]
    for i, (filters, kernel, pool) in enumerate(stages, start=1):
        h = layers.Conv1D(filters, kernel, padding="valid", activation=config.activation, name=f"decoder_conv{i}")(h)
        h = layers.UpSampling1D(pool, name=f"decoder_upsample{i}")(h)
    h = layers.Flatten(name="decoder_flatten")(h)
    h = layers.Dense(config.input_length * config.channels, kernel_initializer=_path_end(config),
                     name="decoder_dense")(h)
    signal = layers.Reshape((config.input_length, config.channels), name="decoder_reshape_out")(h)
    return keras.Model(latent, _add_linear_decoder(config, latent, signal), name="decoder")


def build_mirror_decoder(config: AutoencoderConfig) -> keras.Model:
    """The encoder mirrored layer by layer: Dense, Reshape, then per stage in
    reverse UpSampling, zero-padding of what pooling dropped, and a transposed
    convolution back to the stage's input channels. Tied layers reuse the
    encoder twin's kernel."""
    lengths = config.stage_lengths()
    n_stages = len(config.filters)
    latent = keras.Input(shape=(config.latent_dim,), name="latent")
    flat_size = lengths[-1] * config.filters[-1]
    if config.tied:
        h = TiedDense(flat_size, tied_to="encoder_dense", activation=config.activation, name="decoder_dense")(latent)
    else:
        h = layers.Dense(flat_size, activation=config.activation, name="decoder_dense")(latent)
    h = layers.Reshape((lengths[-1], config.filters[-1]), name="decoder_reshape")(h)
    for stage in range(n_stages, 0, -1):
        i = n_stages - stage + 1
        kernel, pool = config.kernel_sizes[stage - 1], config.pool_sizes[stage - 1]
        after_conv, after_pool = lengths[2 * stage - 1], lengths[2 * stage]
        out_channels = config.channels if stage == 1 else config.filters[stage - 2]
        activation = None if stage == 1 else config.activation
        h = layers.UpSampling1D(pool, name=f"decoder_upsample{i}")(h)
        h = layers.ZeroPadding1D((0, after_conv - after_pool * pool), name=f"decoder_pad{i}")(h)
        name = f"decoder_deconv{i}"
        if config.tied:
            h = TiedConv1DTranspose(out_channels, kernel, tied_to=f"encoder_conv{stage}", activation=activation, name=name)(h)
        else:
            initializer = _path_end(config) if stage == 1 else "glorot_uniform"
            h = layers.Conv1DTranspose(out_channels, kernel, padding="valid", activation=activation,
                                       kernel_initializer=initializer, name=name)(h)
    return keras.Model(latent, _add_linear_decoder(config, latent, h), name="decoder")


def build_models(config: AutoencoderConfig) -> tuple[keras.Model, keras.Model, keras.Model]:
    """Build encoder, decoder and ``autoencoder = Model(x, decoder(encoder(x)))`` once."""
    encoder = build_encoder(config)
    decoder = build_mirror_decoder(config) if config.decoder == "mirror" else build_seed_decoder(config)
    link_ties(encoder, decoder)
    signal = keras.Input(shape=(config.input_length, config.channels), name="signal")
    model_class = TiedAutoencoder if config.tied else keras.Model  # a tied model links itself when loaded
    autoencoder = model_class(signal, decoder(encoder(signal)), name="autoencoder")
    return encoder, decoder, autoencoder


def init_kernel_code(encoder: keras.Model, decoder: keras.Model, feature_mean, feature_std, feature_components,
                     mean, components) -> None:
    """Set the kernels encoder's code (see :func:`build_kernel_encoder`) and the decoder's linear path.

    Kernel block: ``((f - feature_mean) / feature_std) @ feature_components.T``, divided by its spread so
    that it has unit spread on the training signals. Linear block: PCA of the flattened normalized signals,
    ``(x - mean) @ components.T`` scaled to :data:`LINEAR_CODE_SCALE` of the kernel block's spread; the
    decoder's linear path is the inverse of that block (``z_lin @ components / scale + mean``), zero on the
    kernel block, so the untrained autoencoder computes PCA's reconstruction with the linear block's size.

    *feature_components* ``(kernel_code_dims, F)``, *components* ``(latent_dim - kernel_code_dims, L * C)``,
    rows orthonormal; the spreads are the root mean square of each block's training codes, given in
    ``feature_components`` / ``components`` units by the caller through their row scaling."""
    feature_mean = np.asarray(feature_mean, dtype=np.float64)
    feature_std = np.asarray(feature_std, dtype=np.float64)
    feature_components = _padded(feature_components, encoder.get_layer("encoder_features_dense").units)
    kernel = feature_components.T / feature_std[:, None]
    encoder.get_layer("encoder_features_dense").set_weights(
        [kernel.astype(np.float32), (-(feature_mean @ kernel)).astype(np.float32)])
    if not np.size(components):
        return
    mean = np.asarray(mean, dtype=np.float64).reshape(-1)
    components = _padded(components, encoder.get_layer("encoder_linear").units)
    encoder.get_layer("encoder_linear").set_weights(
        [components.T.astype(np.float32), (-(mean @ components.T)).astype(np.float32)])
    full = np.zeros((len(feature_components) + len(components), mean.size))
    kept = np.any(components != 0, axis=1)  # components missing for lack of signals stay zero
    full[len(feature_components):][kept] = np.linalg.pinv(components[kept].T)  # the rows' scale undone exactly
    decoder.get_layer("decoder_linear").set_weights([full.astype(np.float32), mean.astype(np.float32)])


def _padded(rows, count: int) -> np.ndarray:
    """*rows* ``(k, D)`` as ``(count, D)``, zero rows added (fewer training signals than components)."""
    rows = np.asarray(rows, dtype=np.float64)
    return np.concatenate([rows, np.zeros((count - len(rows), rows.shape[1]))]) if len(rows) < count else rows


def init_linear_path(encoder: keras.Model, decoder: keras.Model, mean, components) -> None:
    """Set the linear path to PCA: ``encoder_linear(x) = (x - mean) @ components.T`` and
    ``decoder_linear(z) = z @ components + mean``, on flattened normalized signals.

    *mean* ``(L * C,)`` and *components* ``(k, L * C)`` with orthonormal rows, k <= latent_dim (missing
    components are zero). With the convolutional paths at their zero start the autoencoder then computes
    PCA's reconstruction exactly (up to float32 rounding)."""
    mean = np.asarray(mean, dtype=np.float64).reshape(-1)
    components = np.asarray(components, dtype=np.float64)
    latent_dim = encoder.get_layer("encoder_linear").units
    full = np.zeros((latent_dim, mean.size))
    full[: len(components)] = components[:latent_dim]
    encoder.get_layer("encoder_linear").set_weights([full.T.astype(np.float32), (-(mean @ full.T)).astype(np.float32)])
    linear = decoder.get_layer("decoder_linear")
    if isinstance(linear, TIED_LAYERS):
        linear.bias.assign(mean.astype(np.float32))
    else:
        linear.set_weights([full.astype(np.float32), mean.astype(np.float32)])


def submodels(autoencoder: keras.Model) -> tuple[keras.Model, keras.Model]:
    """The encoder and decoder *inside* an autoencoder (by name, never by index)."""
    try:
        return autoencoder.get_layer("encoder"), autoencoder.get_layer("decoder")
    except ValueError:
        raise RunFolderError(f"model {autoencoder.name!r} has no 'encoder' and 'decoder' sub-models") from None


def link_ties(encoder: keras.Model, decoder: keras.Model) -> None:
    """Point every tied decoder layer at its encoder twin (after build or load)."""
    from sigae.model.layers import link_tied_layers

    link_tied_layers(encoder, decoder)


def tied_pairs(decoder: keras.Model) -> dict[str, str]:
    """Decoder layer name -> encoder layer name, for every tied layer."""
    return {layer.name: layer.tied_to for layer in decoder.layers if isinstance(layer, TIED_LAYERS)}


class SubmodelMismatchError(SigaeError):
    """The encoder/decoder are not the autoencoder's own sub-models."""


def check_submodels(encoder: keras.Model, decoder: keras.Model, autoencoder: keras.Model) -> None:
    """Raise SubmodelMismatchError unless *encoder* and *decoder* are the very
    sub-models of *autoencoder* (same objects, hence same weights)."""
    inner_encoder, inner_decoder = submodels(autoencoder)
    for name, given, inner in (("encoder", encoder, inner_encoder), ("decoder", decoder, inner_decoder)):
        if given is not inner:
            raise SubmodelMismatchError(
                f"the {name} is not the autoencoder's own {name}: it was built a second time and has "
                "its own (untrained) weights; take it from the autoencoder instead of rebuilding it")


def parameter_table(autoencoder: keras.Model) -> list[dict]:
    """One row per layer of the encoder then the decoder: part, name, type,
    output shape, weights (kernel entries), biases, total and, for a tied
    layer, the encoder layer whose kernel it shares (its kernel is counted
    there, once)."""
    rows = []
    for part, model in zip(("encoder", "decoder"), submodels(autoencoder)):
        for layer in model.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            kernel = getattr(layer, "kernel", None) if not isinstance(layer, TIED_LAYERS) else None
            bias = getattr(layer, "bias", None)
            if bias is None:  # KernelFeatures: its fixed (non-trained) biases, one per feature
                bias = getattr(layer, "biases", None)
            weights = int(np.prod(kernel.shape)) if kernel is not None else 0
            biases = int(np.prod(bias.shape)) if bias is not None else 0
            rows.append({"part": part, "layer": layer.name, "type": type(layer).__name__,
                         "output_shape": tuple(layer.output.shape[1:]), "weights": weights, "biases": biases,
                         "total": layer.count_params(),
                         "tied_to": layer.tied_to if isinstance(layer, TIED_LAYERS) else None})
    return rows
