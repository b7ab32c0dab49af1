"""``ProjectorCallback``: Projector-ready embeddings during ``model.fit``.

Keras 3's own ``keras.callbacks.TensorBoard(embeddings_freq=...)`` writes
``.weights.h5`` files the Projector cannot read. This callback exports the
model's ``Embedding`` layers with :func:`~projector_tools.export_embeddings`'
machinery instead::

    import keras
    from projector_tools import ProjectorCallback, subword_metadata

    model = keras.Sequential([
        keras.layers.Embedding(encoder.vocab_size, 16),
        keras.layers.GlobalAveragePooling1D(),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(1),
    ])
    model.compile("adam", keras.losses.BinaryCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(train_batches, epochs=10, validation_data=test_batches,
              callbacks=[ProjectorCallback("runs/imdb", metadata=subword_metadata(encoder))])
    # then: tensorboard --logdir runs

Where the run goes: into ``logdir`` itself, unless ``logdir`` already holds
child runs, as ``keras.callbacks.TensorBoard(log_dir=logdir)`` makes
(``train/``, ``validation/``). A checkpoint in ``logdir`` would then show up,
unlabelled, in every child run, so the export goes into ``logdir/train``,
beside the training scalars, where Keras itself puts embeddings (or into
``logdir/projector`` when there is no ``train/``). :attr:`run_dir` tells
where it went.

Activations: ``activations=[ActivationSpec(inputs, layer=..., name=...)]``
(see :mod:`projector_tools.export.activations`) adds, at every export, the output
of a layer for a fixed example set as another tensor of the same
checkpoint (for the trainer: the pooled review vectors, ``reviews``).

History: by default only the latest export stays on disk (older checkpoint
files are removed). With ``keep_history=True`` every exported epoch stays
selectable in the Projector's tensor drop-down, as ``<layer>@epoch<N>``
tensors of one checkpoint sharing one metadata file.

A TensorBoard already running re-reads the run when its checkpoint changes,
but TensorBoard 2.21 keeps serving the last tensor it served per (run,
tensor name) from a cache that a new checkpoint does not clear. New
``@epoch<N>`` names (``keep_history=True``) show up on refresh; in the
default mode, restart TensorBoard or open another tensor to see new values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import keras

from projector_tools import fsio
from projector_tools.errors import InputError, ShapeMismatchError
from projector_tools.export.embeddings import model_vocabulary_labels, normalize_metadata, prepare
from projector_tools.run.cleanup import prune_exports
from projector_tools.run.writer import ExportResult, read_current_tensors, write_run
from projector_tools.sources.keras_layers import layer_weights, select_embedding_layers
from projector_tools.run.metadata import Metadata
from projector_tools.run.files import HISTORY_NAME_RE as _HISTORY_RE
from projector_tools.run.files import KERAS_TRAIN_RUN, OWN_RUN, child_runs, history_name
from projector_tools.run.lock import run_lock
from projector_tools.run.sprite import Sprite

__all__ = ["ProjectorCallback"]



def projector_run_dir(logdir: str) -> str:
    """Where the callback's Projector run goes for ``logdir`` (see module doc)."""
    kids = child_runs(logdir) if fsio.isdir(logdir) else []
    if not kids:
        return logdir
    if KERAS_TRAIN_RUN in kids:
        return fsio.join(logdir, KERAS_TRAIN_RUN)
    return fsio.join(logdir, OWN_RUN)


class ProjectorCallback(keras.callbacks.Callback):
    """Export ``Embedding`` layers for the Projector every ``every_n_epochs``.

    Args:
      logdir: the run directory (see the module doc for the Keras
        TensorBoard-callback case).
      metadata: labels as in :func:`~projector_tools.export_embeddings`: for
        one layer the labels or a :class:`~projector_tools.Metadata`, for
        several a mapping ``{layer name: labels}``.
      layers: names of the ``Embedding`` layers to export (default: all).
      every_n_epochs: export after every N-th epoch (and at the end).
      keep_history: keep every exported epoch as ``<layer>@epoch<N>``.
      activations: :class:`~projector_tools.export.activations.ActivationSpec`
        items; each adds a layer's output for fixed inputs as a tensor of
        every export (the latest values only, also with ``keep_history``).
      layouts: full-data layouts to add (``"umap"``, ``"tsne"``, ``"pca"``; see
        :mod:`projector_tools.analysis.layouts`), computed at the end of training, or
        after every export with ``layouts_every_epoch=True`` (they cost time).
      layout_max_rows: fit layouts on a sample of this many rows above it.
      views: :class:`~projector_tools.View` items, named views of the
        exported tensors in the Projector's Bookmarks panel (with
        ``keep_history``, a view of a layer shows its latest epoch); each
        layout adds a view by ``cluster``.

    Under a ``tf.distribute`` strategy only the chief writes.

        >>> import os, tempfile, numpy as np
        >>> model = keras.Sequential([keras.Input((4,), dtype="int32"),
        ...                           keras.layers.Embedding(20, 3, name="words"),
        ...                           keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1)])
        >>> model.compile("adam", "mse")
        >>> x, y = np.arange(40).reshape(10, 4) % 20, np.ones((10, 1))
        >>> callback = ProjectorCallback(os.path.join(tempfile.mkdtemp(), "demo"))
        >>> _ = model.fit(x, y, epochs=3, verbose=0, callbacks=[callback])
        >>> sorted(os.listdir(callback.run_dir))  # doctest: +ELLIPSIS
        ['checkpoint', 'embeddings-3.data-00000-of-00001', 'embeddings-3.index', 'events.out.tfevents...', 'metadata-words-....tsv', 'projector_config.pbtxt']
    """

    def __init__(
        self,
        logdir: str,
        *,
        metadata: Any = None,
        layers: Sequence[str] | None = None,
        every_n_epochs: int = 1,
        keep_history: bool = False,
        activations: Sequence[Any] = (),
        layouts: Sequence[str] = (),
        layouts_every_epoch: bool = False,
        layout_max_rows: int | None = None,
        views: Sequence[Any] = (),
    ):
        super().__init__()
        if int(every_n_epochs) < 1:
            raise InputError(f"every_n_epochs must be >= 1, got {every_n_epochs}")
        self.logdir = str(logdir)
        self.metadata = metadata
        self.layers = [layers] if isinstance(layers, str) else layers
        self.every_n_epochs = int(every_n_epochs)
        self.keep_history = bool(keep_history)
        self.activations = list(activations or ())
        self._sprites: dict[int, dict[str, Sprite]] = {}
        from projector_tools.analysis.layouts import DEFAULT_MAX_ROWS, check_methods

        self.layouts = check_methods(layouts)
        self.layouts_every_epoch = bool(layouts_every_epoch)
        self.layout_max_rows = DEFAULT_MAX_ROWS if layout_max_rows is None else layout_max_rows
        self.views = list(views or ())
        self.run_dir: str | None = None
        self.last_result: ExportResult | None = None
        self._chosen: dict[str, Any] = {}
        self._metas: dict[str, Metadata] = {}
        self._last_epoch: int | None = None
        self._exported_epoch: int | None = None

    # -- Keras hooks -------------------------------------------------------
    def on_train_begin(self, logs: dict | None = None) -> None:
        self._chosen = select_embedding_layers(self.model, self.layers)
        self._metas = normalize_metadata(self.metadata, list(self._chosen))
        unlabelled = [n for n in self._chosen if n not in self._metas]
        self._metas = {**model_vocabulary_labels(self.model, unlabelled), **self._metas}
        for name, meta in self._metas.items():
            rows = getattr(self._chosen[name], "input_dim", None)
            if rows is not None and rows != len(meta):
                raise ShapeMismatchError(
                    f"Embedding layer {name!r} has {rows} rows (input_dim) but its metadata "
                    f"has {len(meta)} labels; pass one label per id"
                )
        self._check_views(self._check_activations())
        self.run_dir = None
        self._last_epoch = None
        self._exported_epoch = None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._last_epoch = epoch + 1
        if (epoch + 1) % self.every_n_epochs == 0:
            self._export(epoch + 1, final=False)

    def on_train_end(self, logs: dict | None = None) -> None:
        if self._last_epoch is None:
            return
        # Export the last epoch if it was not (every_n_epochs), and remove the
        # one older export kept while training for a TensorBoard reading it.
        self._export(self._last_epoch, final=True)

    # -- export ------------------------------------------------------------
    def _is_chief(self) -> bool:
        strategy = getattr(self.model, "distribute_strategy", None)
        extended = getattr(strategy, "extended", None)
        return bool(getattr(extended, "should_checkpoint", True))

    def _export(self, epoch: int, *, final: bool) -> None:
        if not self._is_chief():
            return
        if self.run_dir is None:
            self.run_dir = projector_run_dir(self.logdir)
        with run_lock(self.run_dir):  # one writer per run; held across read + write
            self._export_locked(epoch, final=final)

    def _export_locked(self, epoch: int, *, final: bool) -> None:
        with_layouts = bool(self.layouts) and (final or self.layouts_every_epoch)
        if final and self._exported_epoch == epoch and not with_layouts:
            prune_exports(self.run_dir)  # this epoch is on disk already
            return
        current = {name: layer_weights(layer) for name, layer in self._chosen.items()}
        metas = dict(self._metas)
        if self.keep_history:
            tensors: dict[str, Any] = {}
            for name, value in read_current_tensors(self.run_dir).items():
                m = _HISTORY_RE.match(name)
                if m and m.group("base") in current and int(m.group("epoch")) != epoch:
                    tensors[name] = value
            for name, value in current.items():
                tensors[history_name(name, epoch)] = value
            tensors = dict(sorted(tensors.items(), key=_history_order))
            metas = {
                name: self._metas[_HISTORY_RE.match(name).group("base")]
                for name in tensors
                if _HISTORY_RE.match(name).group("base") in self._metas
            }
        else:
            tensors = current
        sprites = self._add_activations(tensors, metas)
        # the row-limit note once per training, not once per epoch
        matrices, metas = prepare(tensors, metas, say_row_limit=self._exported_epoch is None)
        views = [replace(v, tensor=history_name(v.tensor, epoch)) if self.keep_history and v.tensor in current
                 else v for v in self.views]
        if with_layouts:
            from projector_tools.analysis.layouts import add_layouts, layout_views

            names = [f"{n}@epoch{epoch}" if self.keep_history else n for n in current]
            laid, metas = add_layouts(matrices, metas, self.layouts, names=names,
                                      max_rows=self.layout_max_rows)
            views += layout_views(n for n in laid if n not in matrices)
            matrices = laid
        self.last_result = write_run(
            self.run_dir, matrices, metas, step=epoch, keep_previous=0 if final else 1,
            sprites=sprites, views=views,
        )
        self._exported_epoch = epoch


    def _check_views(self, names: set[str]) -> None:
        """Fail at the start of training, not at the first export: a view of no
        tensor, or of a labelled layer without its column (an activation's
        columns are known only once computed, at each export's own check)."""
        from projector_tools.analysis.layouts import layout_name
        from projector_tools.run.views import View, check_views

        names = names | {layout_name(n, m) for n in self._chosen for m in self.layouts}
        early = [v for v in self.views
                 if not isinstance(v, View) or v.tensor in self._metas or v.tensor not in names]
        check_views(early, sorted(names), {n: {c: m.column(c) for c in m.names} for n, m in self._metas.items()})

    def _check_activations(self) -> set[str]:
        """Fail at the start of training, not at the first export; the tensor names of an export."""
        if not self.activations:
            return set(self._chosen)
        from projector_tools.export.activation_model import activation_model
        from projector_tools.export.activations import ActivationSpec

        names = set(self._chosen)
        for spec in self.activations:
            if not isinstance(spec, ActivationSpec):
                raise InputError(
                    f"activations= takes ActivationSpec items, got {type(spec).__name__}"
                )
            _sub, layer = activation_model(self.model, spec.layer)
            name = spec.name or layer.name
            if name in names or any(n.startswith(f"{name}@epoch") for n in names):
                raise InputError(
                    f"activation tensor name {name!r} is taken (embedding layers: "
                    f"{sorted(self._chosen)}); give the ActivationSpec another name="
                )
            names.add(name)
        self._sprites = {}
        return names

    def _add_activations(self, tensors: dict[str, Any], metas: dict[str, Metadata]) -> dict[str, Sprite]:
        """Add each ActivationSpec's tensor (and labels); return their sprites."""
        from projector_tools.export.activations import activation_tensor, cut_images
        from projector_tools.run.sprite import build_sprites

        sprites: dict[str, Sprite] = {}
        for k, spec in enumerate(self.activations):
            name, matrix, meta = activation_tensor(self.model, spec)
            tensors[name] = matrix
            if meta is not None:
                metas[name] = meta
            if spec.images is not None:
                if k not in self._sprites:  # the same images every export
                    self._sprites[k] = build_sprites(cut_images(spec.images, matrix.shape[0]),
                                                     {name: matrix.shape[0]})
                sprites.update(self._sprites[k])
        return sprites


def _history_order(item: tuple[str, Any]) -> tuple[str, int]:
    m = _HISTORY_RE.match(item[0])
    return (m.group("base"), int(m.group("epoch"))) if m else (item[0], -1)
