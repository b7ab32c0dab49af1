#!/usr/bin/env python3
"""Post-training export: the same code as `projector-tools export`.

    python scripts/export_embeddings.py model.keras --logdir runs/imdb --vocab vocab.subwords
    tensorboard --logdir runs
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from projector_tools.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["export", *sys.argv[1:]]))
