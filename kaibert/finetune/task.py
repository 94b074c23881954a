"""What fine-tuning needs to know about a task, and the tasks ``kaibert-finetune`` knows by name.

The engine (``kaibert.finetune.engine``) does the same for every task: sample, tokenize, batch,
build the model from a checkpoint, train, validate, keep the best model, test. A ``Task`` says
what differs: where the examples come from, how they become tensors, which head reads them, how
a model is scored. Adding a task (token tagging, span QA, ...) is a module that builds a ``Task``
and ``register``s it; see ``register``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from kaibert.finetune import metrics, tasks
from kaibert.run.config import choose


def majority_baseline(splits) -> dict:
    """The accuracy of always answering the commonest training label, on validation and test."""
    report = tasks.describe(splits)["splits"]
    return {"majority_baseline": {s: report[s]["majority_baseline_accuracy"] for s in ("validation", "test")}}


def classification_report(results: dict) -> str:
    """The line ``kaibert-finetune`` prints at the end of a classification run."""
    v, t = results["validation"], results["test"]
    return (f"steps {results['steps']}  validation: accuracy {v['accuracy']:.4f} macro-F1 {v['macro_f1']:.4f}  "
            f"test: accuracy {t['accuracy']:.4f} macro-F1 {t['macro_f1']:.4f} "
            f"(majority class {results['majority_baseline']['test']:.4f})")


def _sequence_classifier():
    from kaibert import BertForSequenceClassification

    return BertForSequenceClassification


@dataclass(frozen=True)
class Task:
    """One fine-tuning task. Every field but ``name`` and ``load`` has the classification default."""

    name: str
    # corpus_dir -> a datasets.DatasetDict with train / validation / test splits
    load: Callable
    # () -> the head class: from_pretrained(folder, num_labels=, id2label=, label2id=), forward(**batch)
    head: Callable = _sequence_classifier
    # splits -> the label names, in id order
    labels: Callable = lambda splits: tasks.label_names(splits["train"])
    # (splits, tokenizer) -> splits with the model's input columns added
    encode: Callable = tasks.tokenize_task
    # (rows, pad_token_id) -> a batch of (B, ...) tensors, labels included
    collate: Callable = tasks.pad_batch
    # (model, batches, num_labels) -> {"loss": ..., metric: ..., ...}
    evaluate: Callable = metrics.evaluate
    # the score of `evaluate` that picks the model kept (higher is better)
    metric: str = "accuracy"
    # the scores of `evaluate` logged at every validation (as val_<name>)
    logged: tuple[str, ...] = ("loss", "accuracy", "macro_f1")
    # splits (validation and test sampled, train not yet) -> entries for results.json
    baselines: Callable = majority_baseline
    # results -> the line the command prints
    report: Callable = classification_report


TASKS: dict[str, Task] = {}


def register(task: Task) -> Task:
    """Make a task available to ``task:`` in fine-tuning configs.

    For example, a module ``kaibert/finetune/tagging.py`` that defines the data, the collate
    function, the head and the metrics of token tagging ends with::

        register(Task("tagging", load=load_tagging, head=lambda: BertForTokenClassification,
                      labels=tag_names, encode=encode_and_align, collate=pad_tagged,
                      evaluate=evaluate_tags, metric="f1", logged=("loss", "f1"),
                      baselines=tag_baselines, report=tagging_report))

    and the import of that module is added at the end of this one.
    """
    TASKS[task.name] = task
    return task


def get_task(name: str) -> Task:
    return choose(TASKS, name, "task")


register(Task("genre", load=lambda corpus_dir: tasks.genre_dataset(corpus_dir)))
register(Task("next_line", load=lambda corpus_dir: tasks.next_line_dataset(corpus_dir, seed=0)))
# Online: SST-2 from the hub (corpus_dir null), or a folder of train/validation.jsonl in its schema.
register(Task("sst2", load=lambda corpus_dir: tasks.sst2_dataset(corpus_dir)))

# Token-level tasks (tagging names, extracting a reply span): a module of their own.
from kaibert.finetune import token_tasks  # noqa: E402

token_tasks._register()
