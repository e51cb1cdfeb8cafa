"""MkDocs hook: a short stand-in for nav pages that other branches are still writing.

Each page named in ``PENDING`` is written by the branch that changes the code
it describes. Until that branch is merged the page does not exist here, and a
nav entry to a missing file fails ``mkdocs build --strict``; this hook adds a
generated stand-in page instead. Once the real file exists it is used as is
(the stand-in is never generated over a file), so the list can stay.
"""

from __future__ import annotations

import logging

from mkdocs.structure.files import File

PENDING = {
    "reference/data-formats.md": "Data formats",
    "guides/reproducibility.md": "Reproducibility and recovery",
    "background/performance.md": "Performance",
    "guides/sklearn.md": "scikit-learn",
    "guides/export.md": "Exporting a model",
    "guides/callbacks-tensorboard.md": "Callbacks and TensorBoard",
    "guides/recordings.md": "Long recordings",
    "background/quality.md": "Quality: autoencoder vs PCA",
    "guides/features.md": "Latent features for downstream analysis",
}

log = logging.getLogger("mkdocs.plugins.sigae")


def on_files(files, config):
    for src, title in PENDING.items():
        if files.get_file_from_path(src) is None:
            log.info("sigae: %s is not written yet; using a stand-in page", src)
            files.append(File.generated(config, src, content=f"# {title}\n\nThis page is being written.\n"))
    return files
