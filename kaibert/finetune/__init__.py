"""Chapter 10: fine-tuning. The Shakespeare tasks (``tasks``) and the configuration-driven
fine-tuning command (``python -m kaibert.finetune --config ...``); the heads it trains live in
``kaibert.heads``."""
