"""Chapter 10: two token-level tasks cut from the shipped Shakespeare corpus, split by play.

Both use chapter 09's split (``kaibert.data.split_files``), like the sentence tasks of
``kaibert.finetune.tasks``, and are registered with ``kaibert-finetune`` as ``names`` and ``reply``.

1. **names** (token tagging, BERT paper figure 4d). The corpus keeps Shakespeare's capitals, the
   uncased tokenizer throws them away. A word written with a capital in the middle of a sentence
   is a name or a title ("Horatio", "Denmark", "Lord"); the model sees only lower-case word pieces
   and must tell which words those are from their context. Labels per word: ``NAME`` or ``O``.
   Words whose capital says nothing (the first word of a line or a sentence, "I", "O") get no
   label (-100) and are not scored.
2. **reply** (span extraction, figure 4c, in SQuAD's schema). A passage of consecutive lines is
   the context, written as verse is quoted in prose, lines joined by " / "; one of its lines (not
   the last) is the question, and the answer is the span of the line that follows it: "find this
   line in the passage and give the next one". The rows have
   SQuAD's columns (``id``, ``title``, ``context``, ``question``, ``answers`` with ``text`` and
   ``answer_start``), so the same encoding code reads SQuAD itself.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import torch

from kaibert.data import SPLITS, split_files
from kaibert.finetune import tasks

TAGS = ("O", "NAME")
IGNORE = -100
WORD = re.compile(r"[A-Za-z]+|[^A-Za-z\s]")  # words and single punctuation marks, as BERT splits them
SENTENCE_END = {".", "!", "?", ":", ";"}
ALWAYS_CAPITAL = {"I", "O"}  # capitalised wherever they stand: the capital says nothing
NAMES_WORDS = 48  # words per tagging passage (whole lines)
LINE_BREAK = " / "  # how prose quotes verse: the line ends stay visible to an uncased tokenizer
REPLY_TOKENS = 96  # word pieces of shakespeare-mini per reply context (whole lines)


# --- names: tagging ------------------------------------------------------------------------------


def tag_words(line_words: list[list[str]]) -> tuple[list[str], list[int]]:
    """The words of consecutive lines and their labels: 1 NAME, 0 O, -100 where a capital says nothing."""
    words, labels = [], []
    previous = "."
    for line in line_words:
        for i, word in enumerate(line):
            if not word[0].isalpha():
                label = IGNORE  # punctuation
            elif i == 0 or previous in SENTENCE_END or word in ALWAYS_CAPITAL:
                label = IGNORE  # capitalised by position or always: no evidence either way
            else:
                label = int(word[0].isupper())
            words.append(word)
            labels.append(label)
            previous = word
    return words, labels


def names_dataset(corpus_dir: str | Path | None = None, budget: int = NAMES_WORDS):
    """Passages of whole lines, split into words, with a NAME / O label per word (``words``, ``tags``)."""
    from datasets import Dataset, DatasetDict, Features, Sequence, Value

    features = Features({"words": Sequence(Value("string")), "tags": Sequence(Value("int32")),
                         "work": Value("string")})
    splits = {}
    for split in SPLITS:
        rows = {"words": [], "tags": [], "work": []}
        for path in split_files(split, corpus_dir):
            lines = [WORD.findall(line) for line in Path(path).read_text().splitlines() if line.strip()]
            start = 0
            while start < len(lines):  # whole lines, at most `budget` words (a longer line alone)
                end, used = start, 0
                while end < len(lines) and (end == start or used + len(lines[end]) <= budget):
                    used += len(lines[end])
                    end += 1
                words, labels = tag_words(lines[start:end])
                rows["words"].append(words)
                rows["tags"].append(labels)
                rows["work"].append(Path(path).stem)
                start = end
        splits[split] = Dataset.from_dict(rows, features=features)
    return DatasetDict(splits)


def tag_names(splits) -> list[str]:
    return list(TAGS)


def encode_and_align(splits, tokenizer):
    """Word pieces of every passage; each word's label goes on its first piece, -100 elsewhere."""
    def batch(rows):
        encodings = tokenizer.encode_batch(rows["words"], is_pretokenized=True)
        out = {"input_ids": [], "token_type_ids": [], "attention_mask": [], "labels": []}
        for e, tags in zip(encodings, rows["tags"]):
            labels, seen = [], set()
            for word in e.word_ids:  # None for [CLS] and [SEP]
                labels.append(IGNORE if word is None or word in seen else tags[word])
                if word is not None:
                    seen.add(word)
            out["input_ids"].append(e.ids)
            out["token_type_ids"].append(e.type_ids)
            out["attention_mask"].append(e.attention_mask)
            out["labels"].append(labels)
        return out

    return splits.map(batch, batched=True, batch_size=1000, load_from_cache_file=False,
                      keep_in_memory=True, desc="tokenizing")


def _pad(rows: list[dict], key: str, value: int) -> torch.Tensor:
    T = max(len(r["input_ids"]) for r in rows)
    return torch.tensor([list(r[key]) + [value] * (T - len(r[key])) for r in rows], dtype=torch.long)


def pad_tagged(rows: list[dict], pad_token_id: int = 0) -> dict[str, torch.Tensor]:
    """Tagged examples -> (B, T) inputs and (B, T) labels, padding labelled -100."""
    if not rows:
        raise ValueError("pad_tagged got an empty batch.")
    return {"input_ids": _pad(rows, "input_ids", pad_token_id), "token_type_ids": _pad(rows, "token_type_ids", 0),
            "attention_mask": _pad(rows, "attention_mask", 0), "labels": _pad(rows, "labels", IGNORE)}


def f1_scores(true_pos: int, predicted: int, actual: int) -> dict[str, float]:
    precision = true_pos / predicted if predicted else 0.0
    recall = true_pos / actual if actual else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


@torch.no_grad()
def evaluate_tags(model, batches, num_labels: int = 2) -> dict:
    """Loss, accuracy over labelled words, and precision / recall / F1 of NAME."""
    was_training = model.training
    model.eval()
    total_loss, words, correct, true_pos, predicted, actual = 0.0, 0, 0, 0, 0, 0
    for batch in batches:
        out = model(**batch)
        labels = batch["labels"].cpu()
        kept = labels != IGNORE
        guess = out.logits.argmax(-1).cpu()
        n = int(kept.sum())
        total_loss += out.loss.item() * n
        words += n
        correct += int((guess == labels)[kept].sum())
        true_pos += int(((guess == 1) & (labels == 1))[kept].sum())
        predicted += int((guess == 1)[kept].sum())
        actual += int((labels == 1).sum())
    model.train(was_training)
    return {"loss": total_loss / max(words, 1), "accuracy": correct / max(words, 1),
            **f1_scores(true_pos, predicted, actual), "words": words}


def tag_baselines(splits) -> dict:
    """Two models without BERT: never say NAME, and a word list learned from the training split.

    The word list tags a word NAME when the training split wrote it capitalised mid-sentence more
    often than not: a fine-tuned model has learned from context only if it beats that.
    """
    counts: dict[str, list[int]] = {}
    for words, tags in zip(splits["train"]["words"], splits["train"]["tags"]):
        for word, tag in zip(words, tags):
            if tag != IGNORE:
                counts.setdefault(word.lower(), [0, 0])[tag] += 1
    names = {w for w, (o, name) in counts.items() if name > o}
    out = {"majority_baseline": {}, "word_list_baseline": {}}
    for split in ("validation", "test"):
        labelled = [(w, t) for ws, ts in zip(splits[split]["words"], splits[split]["tags"])
                    for w, t in zip(ws, ts) if t != IGNORE]
        out["majority_baseline"][split] = sum(t == 0 for _, t in labelled) / max(len(labelled), 1)
        guesses = [(w.lower() in names, t) for w, t in labelled]
        tp = sum(g and t == 1 for g, t in guesses)
        out["word_list_baseline"][split] = f1_scores(tp, sum(g for g, _ in guesses), sum(t == 1 for _, t in guesses))["f1"]
    return out


def tagging_report(results: dict) -> str:
    v, t = results["validation"], results["test"]
    return (f"steps {results['steps']}  validation: NAME F1 {v['f1']:.4f}  test: NAME F1 {t['f1']:.4f} "
            f"precision {t['precision']:.4f} recall {t['recall']:.4f} accuracy {t['accuracy']:.4f} "
            f"(word list F1 {results['word_list_baseline']['test']:.4f}, "
            f"never NAME accuracy {results['majority_baseline']['test']:.4f})")


# --- reply: span extraction in SQuAD's schema -----------------------------------------------------


def squad_features():
    from datasets import Features, Sequence, Value

    return Features({"id": Value("string"), "title": Value("string"), "context": Value("string"),
                     "question": Value("string"),
                     "answers": Sequence({"text": Value("string"), "answer_start": Value("int32")})})


def reply_dataset(corpus_dir: str | Path | None = None, seed: int = 0, budget: int = REPLY_TOKENS):
    """Passages of at least 3 lines; the question is one line, the answer the line after it."""
    from datasets import Dataset, DatasetDict

    count = tasks._word_piece_counter()
    splits = {}
    for k, split in enumerate(SPLITS):
        rng = random.Random(seed * 1000 + k)
        rows = {name: [] for name in squad_features()}
        for path in split_files(split, corpus_dir):
            all_lines = [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
            lengths = count(all_lines)
            start = 0
            while start < len(all_lines):
                end, used = start, 0
                while end < len(all_lines) and (end == start or used + lengths[end] <= budget):
                    used += lengths[end]
                    end += 1
                lines, start = all_lines[start:end], end
                if len(lines) < 3:
                    continue
                q = rng.randrange(len(lines) - 1)
                answer_start = len(LINE_BREAK.join(lines[:q + 1])) + len(LINE_BREAK)
                rows["id"].append(f"{Path(path).stem}-{len(rows['id'])}")
                rows["title"].append(Path(path).stem)
                rows["context"].append(LINE_BREAK.join(lines))
                rows["question"].append(lines[q])
                rows["answers"].append({"text": [lines[q + 1]], "answer_start": [answer_start]})
        splits[split] = Dataset.from_dict(rows, features=squad_features())
    return DatasetDict(splits)


def span_names(splits) -> list[str]:
    return ["start", "end"]


def answer_tokens(offsets, sequence_ids, char_start: int, char_end: int, past_end: int) -> tuple[int, int]:
    """The first and last token of the context covering [char_start, char_end); past_end if cut off."""
    start = end = None
    for i, ((a, b), seq) in enumerate(zip(offsets, sequence_ids)):
        if seq != 1:
            continue  # the question and the special tokens
        if start is None and b > char_start:
            start = i
        if a < char_end:
            end = i
    if start is None or end is None or end < start or offsets[end][1] < char_end:
        return past_end, past_end  # the answer was truncated away: the loss ignores the example
    return start, end


def encode_spans(splits, tokenizer):
    """[CLS] question [SEP] context [SEP]; start_positions and end_positions of each answer's tokens."""
    past_end = (tokenizer.truncation or {}).get("max_length", 512)

    def batch(rows):
        encodings = tokenizer.encode_batch(list(zip(rows["question"], rows["context"])))
        out = {"input_ids": [], "token_type_ids": [], "attention_mask": [],
               "start_positions": [], "end_positions": []}
        for e, answers in zip(encodings, rows["answers"]):
            char_start = answers["answer_start"][0]
            char_end = char_start + len(answers["text"][0])
            start, end = answer_tokens(e.offsets, e.sequence_ids, char_start, char_end, past_end)
            out["input_ids"].append(e.ids)
            out["token_type_ids"].append(e.type_ids)
            out["attention_mask"].append(e.attention_mask)
            out["start_positions"].append(start)
            out["end_positions"].append(end)
        return out

    return splits.map(batch, batched=True, batch_size=1000, load_from_cache_file=False,
                      keep_in_memory=True, desc="tokenizing")


def pad_spans(rows: list[dict], pad_token_id: int = 0) -> dict[str, torch.Tensor]:
    """Question-context pairs -> (B, T) inputs and (B,) start and end token positions."""
    if not rows:
        raise ValueError("pad_spans got an empty batch.")
    return {"input_ids": _pad(rows, "input_ids", pad_token_id), "token_type_ids": _pad(rows, "token_type_ids", 0),
            "attention_mask": _pad(rows, "attention_mask", 0),
            "start_positions": torch.tensor([r["start_positions"] for r in rows], dtype=torch.long),
            "end_positions": torch.tensor([r["end_positions"] for r in rows], dtype=torch.long)}


def best_spans(start_logits: torch.Tensor, end_logits: torch.Tensor, allowed: torch.Tensor,
               max_tokens: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """The (start, end) with the highest start + end score, start <= end < start + max_tokens, in `allowed`."""
    T = start_logits.size(1)
    score = start_logits[:, :, None] + end_logits[:, None, :]  # (B, T, T): start i, end j
    i, j = torch.arange(T)[:, None], torch.arange(T)[None, :]
    ok = (j >= i) & (j < i + max_tokens)
    ok = ok[None] & allowed[:, :, None] & allowed[:, None, :]
    best = score.masked_fill(~ok, float("-inf")).flatten(1).argmax(-1)  # (B,)
    return best // T, best % T


@torch.no_grad()
def evaluate_spans(model, batches, num_labels: int = 2) -> dict:
    """Loss, exact match (the whole answer line, token for token) and token-overlap F1, SQuAD's two scores."""
    was_training = model.training
    model.eval()
    total_loss, n, exact, f1 = 0.0, 0, 0, 0.0
    for batch in batches:
        out = model(**batch)
        context = (batch["token_type_ids"] == 1) & (batch["attention_mask"] == 1)  # (B, T): segment B
        start, end = best_spans(out.start_logits.cpu(), out.end_logits.cpu(), context.cpu())
        gold_start, gold_end = batch["start_positions"], batch["end_positions"]
        for s, e, gs, ge in zip(start.tolist(), end.tolist(), gold_start.tolist(), gold_end.tolist()):
            overlap = max(0, min(e, ge) - max(s, gs) + 1)
            precision, recall = overlap / (e - s + 1), overlap / (ge - gs + 1)
            f1 += 2 * precision * recall / (precision + recall) if overlap else 0.0
            exact += int((s, e) == (gs, ge))
        total_loss += out.loss.item() * len(gold_start)
        n += len(gold_start)
    model.train(was_training)
    return {"loss": total_loss / max(n, 1), "exact_match": exact / max(n, 1), "f1": f1 / max(n, 1),
            "examples": n}


def span_baselines(splits) -> dict:
    """Chance of naming the right line by picking one of the passage's other lines at random."""
    out = {"random_line_baseline": {}}
    for split in ("validation", "test"):
        # every line but the question's could be the answer (passages hold 3 or more lines)
        others = [c.count(LINE_BREAK.strip()) for c in splits[split]["context"]]
        out["random_line_baseline"][split] = sum(1 / k for k in others) / max(len(others), 1)
    return out


def span_report(results: dict) -> str:
    v, t = results["validation"], results["test"]
    return (f"steps {results['steps']}  validation: exact match {v['exact_match']:.4f} F1 {v['f1']:.4f}  "
            f"test: exact match {t['exact_match']:.4f} F1 {t['f1']:.4f} "
            f"(a random other line: {results['random_line_baseline']['test']:.4f})")


def _register() -> None:
    from kaibert.finetune.task import Task, register

    def tagger():
        from kaibert import BertForTokenClassification

        return BertForTokenClassification

    def reader():
        from kaibert import BertForQuestionAnswering

        return BertForQuestionAnswering

    register(Task("names", load=names_dataset, head=tagger, labels=tag_names, encode=encode_and_align,
                  collate=pad_tagged, evaluate=evaluate_tags, metric="f1", logged=("loss", "f1", "accuracy"),
                  baselines=tag_baselines, report=tagging_report))
    register(Task("reply", load=lambda corpus_dir: reply_dataset(corpus_dir, seed=0), head=reader,
                  labels=span_names, encode=encode_spans, collate=pad_spans, evaluate=evaluate_spans,
                  metric="f1", logged=("loss", "exact_match", "f1"), baselines=span_baselines,
                  report=span_report))
