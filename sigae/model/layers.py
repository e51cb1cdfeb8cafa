"""Serializable layers whose kernel is tied to an encoder layer's kernel.

The decoder layer owns only its bias. Its kernel is read from the encoder
twin *at call time* (seed 001: transposing once in ``build()`` copies the
value, and the tie silently breaks as soon as the encoder trains). The twin is
named in the layer config and linked by :func:`sigae.model.network.link_ties` after
building or loading, so a saved model holds the shared kernel once.
"""

from __future__ import annotations

import keras
from keras import ops

from sigae.errors import RunFolderError


class _Link:
    """Plain holder for the twin layer, invisible to Keras' tracking (so the
    twin's kernel is neither saved nor counted a second time)."""

    layer = None


class _TiedLayer(keras.layers.Layer):
    def __init__(self, tied_to: str, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.tied_to = tied_to
        self.activation = keras.activations.get(activation)
        self._link = _Link()

    def tie(self, twin) -> None:
        """Use *twin*'s kernel from now on."""
        self._link.layer = twin

    @property
    def twin(self):
        if self._link.layer is None:
            raise RunFolderError(
                f"layer {self.name!r} is tied to {self.tied_to!r} but not linked; "
                "load run folders with sigae.load() (model files of tied runs saved before sigae 0.1.0's "
                "TiedAutoencoder do not link themselves in plain Keras)")
        return self._link.layer

    @property
    def tied_kernel(self):
        """The kernel this layer applies (a view of the twin's variable)."""
        raise NotImplementedError

    def get_config(self):
        config = super().get_config()
        config.update(tied_to=self.tied_to, activation=keras.activations.serialize(self.activation))
        return config


@keras.saving.register_keras_serializable(package="sigae")
class TiedDense(_TiedLayer):
    """Dense layer computing ``x @ twin.kernel.T + bias``."""

    def __init__(self, units: int, tied_to: str, activation=None, **kwargs):
        super().__init__(tied_to, activation, **kwargs)
        self.units = int(units)

    def build(self, input_shape):
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    @property
    def tied_kernel(self):
        return ops.transpose(self.twin.kernel)

    def call(self, inputs):
        return self.activation(ops.matmul(inputs, self.tied_kernel) + self.bias)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="sigae")
class TiedConv1DTranspose(_TiedLayer):
    """Transposed 1-D convolution (the adjoint of the twin Conv1D, valid padding,
    stride 1) using the twin's kernel ``(k, in_channels, filters)`` as is."""

    def __init__(self, filters: int, kernel_size: int, tied_to: str, activation=None, **kwargs):
        super().__init__(tied_to, activation, **kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)

    def build(self, input_shape):
        self.bias = self.add_weight(shape=(self.filters,), initializer="zeros", name="bias")

    @property
    def tied_kernel(self):
        return self.twin.kernel

    def call(self, inputs):
        out = ops.conv_transpose(inputs, self.tied_kernel, strides=1, padding="valid")
        return self.activation(out + self.bias)

    def compute_output_shape(self, input_shape):
        length = None if input_shape[1] is None else input_shape[1] + self.kernel_size - 1
        return (input_shape[0], length, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size}


TIED_LAYERS = (TiedDense, TiedConv1DTranspose)


def link_tied_layers(encoder, decoder) -> None:
    """Point every tied layer of *decoder* at its twin in *encoder* (after building or loading)."""
    for layer in decoder.layers:
        if isinstance(layer, TIED_LAYERS):
            try:
                layer.tie(encoder.get_layer(layer.tied_to))
            except ValueError:
                raise RunFolderError(f"tied layer {layer.name!r} names {layer.tied_to!r}, which the encoder lacks") from None


@keras.saving.register_keras_serializable(package="sigae")
class TiedAutoencoder(keras.Model):
    """``Model(x, decoder(encoder(x)))`` for a decoder with tied layers: the functional model, which links
    the tied layers to their encoder twins whenever it is constructed.

    Keras rebuilds a saved functional model by calling its class with the inputs and outputs, so the
    tie is made both when sigae builds the model and when ``keras.models.load_model`` reads it (after
    ``import sigae``, which registers this class); the loaded model computes what ``sigae.load`` gives.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        try:
            encoder, decoder = self.get_layer("encoder"), self.get_layer("decoder")
        except ValueError:
            raise RunFolderError(f"model {self.name!r}: a tied autoencoder needs 'encoder' and 'decoder' "
                                 "sub-models") from None
        link_tied_layers(encoder, decoder)


from sigae.model import kernels  # noqa: E402,F401  (registers KernelFeatures with Keras alongside the tied layers)
