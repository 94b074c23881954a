"""``python -m kaibert.finetune --config C``: the same as the ``kaibert-finetune`` command."""

from kaibert.finetune.engine import main

if __name__ == "__main__":
    main()
