"""``python -m kaibert.train --config C``: the same as the ``kaibert-train`` command."""

from kaibert.train.command import main

if __name__ == "__main__":
    main()
