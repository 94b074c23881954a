"""Fill in the blanks: the most likely tokens for each [MASK] in a text, with their probabilities.

    >>> from kaibert.fill_mask import fill_mask, SHAKESPEARE_MINI
    >>> fill_mask(SHAKESPEARE_MINI, "to be or not to [MASK]", top_k=3)
    [{'token': 'be', 'token_id': ..., 'score': 0.9..., 'sequence': 'to be or not to be'}, ...]

From the command line: ``python -m kaibert.fill_mask PATH "to be or not to [MASK]"``.

``PATH`` is any BERT masked-language-model checkpoint folder: one that kaibert saved, or a
Hugging Face ``BertForMaskedLM`` / ``BertForPreTraining`` one (or its hub name, when online).
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

import torch

SHAKESPEARE_MINI = str(Path(__file__).parent / "pretrained_models" / "shakespeare-mini")
MLM_ARCHITECTURES = ("BertForMaskedLM", "BertForPreTraining")
# The most frequent words of the plays: a test of fill-ins masks the first of them in a line.
COMMON_WORDS = ("the", "and", "i", "to", "of", "a", "you", "my", "that", "in", "is", "not", "me",
                "it", "with", "be", "your", "his", "this", "for", "he", "but", "have", "thou")


def load_mlm(path: str | Path):
    """A kaibert ``BertForMaskedLM`` and its tokenizer from a checkpoint folder (or hub name).

    Refuses, with the reason, a checkpoint that is not BERT or that has no MLM head (a plain
    ``BertModel``, or a classifier): predicting masked words needs the head's trained weights.
    """
    from kaibert import BertForMaskedLM, BertTokenizer
    from kaibert.pretrained import resolve_file

    config = json.loads(resolve_file(path, "config.json").read_text())
    model_type = config.get("model_type", "bert")
    architectures = config.get("architectures") or []
    if model_type != "bert":
        raise ValueError(f"{path} holds a {model_type!r} model; fill_mask needs a BERT masked "
                         f"language model ({' or '.join(MLM_ARCHITECTURES)})")
    if architectures and not set(architectures) & set(MLM_ARCHITECTURES):
        raise ValueError(
            f"{path} is a {architectures[0]} checkpoint, which has no masked-language-model head; "
            f"fill_mask needs a {' or '.join(MLM_ARCHITECTURES)} checkpoint (for example "
            f"{SHAKESPEARE_MINI})"
        )
    try:
        model = BertForMaskedLM.from_pretrained(path)
    except ValueError as err:
        raise ValueError(f"{path} does not hold a BERT masked language model: {err}") from err
    return model.eval(), BertTokenizer.from_pretrained(path)


def fill_mask(model_or_path, text: str, top_k: int = 5, tokenizer=None):
    """The ``top_k`` most likely tokens at each ``[MASK]`` of ``text``.

    ``model_or_path``: a checkpoint folder (or hub name), or a loaded model (kaibert's or
    ``transformers``' BertForMaskedLM) together with its ``tokenizer``. Returns, for one mask, a
    list of ``{"token", "token_id", "score", "sequence"}`` dicts, best first (``score`` is the
    probability, ``sequence`` the text with that token filled in); for several masks, one such
    list per mask, in order, each ``sequence`` filling in its own mask and keeping the others.
    """
    if isinstance(model_or_path, (str, Path)):
        model, loaded_tokenizer = load_mlm(model_or_path)
        tokenizer = tokenizer or loaded_tokenizer
    else:
        model = model_or_path
        if tokenizer is None:
            raise ValueError("pass the model's tokenizer: fill_mask(model, text, tokenizer=...)")
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    if not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"top_k must be a positive integer, got {top_k!r}")
    mask_token = tokenizer.mask_token
    if mask_token not in text:
        raise ValueError(f"the text has no {mask_token} token; write {mask_token} where a word "
                         f"should be predicted, e.g. 'to be or not to {mask_token}'")

    ids = tokenizer.encode(text)
    limit = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    if limit is not None and len(ids) > limit:
        raise ValueError(f"the text is {len(ids)} tokens long; this model reads at most {limit}")
    input_ids = torch.tensor([ids])                                   # (1, T)
    device = next(model.parameters()).device
    with torch.no_grad():
        logits = model(input_ids=input_ids.to(device),
                       attention_mask=torch.ones_like(input_ids).to(device),
                       token_type_ids=torch.zeros_like(input_ids).to(device)).logits  # (1, T, V)
    positions = (input_ids[0] == tokenizer.mask_token_id).nonzero().flatten().tolist()
    top_k = min(top_k, logits.size(-1))
    # [CLS], [SEP] and padding are left out of the shown text, but not the other [MASK]s: with
    # several masks, each mask's answers are shown with the others still blank.
    hidden = {getattr(tokenizer, f"{name}_token_id", None) for name in ("cls", "sep", "pad")} - {None}
    answers = []
    for position in positions:
        probs = logits[0, position].float().softmax(-1)                # (V,)
        scores, token_ids = probs.topk(top_k)
        options = []
        for score, token_id in zip(scores.tolist(), token_ids.tolist()):
            filled = list(ids)
            filled[position] = token_id
            options.append({
                "token": tokenizer.convert_ids_to_tokens(token_id),
                "token_id": token_id,
                "score": score,
                "sequence": tokenizer.decode([i for i in filled if i not in hidden]),
            })
        answers.append(options)
    return answers[0] if len(answers) == 1 else answers


def held_out_lines(min_words: int = 6) -> list[str]:
    """The lines of the test plays with at least ``min_words`` words: the held-out lines that chapter
    09 and the fill-in measurements (``benchmarks/fill_in_report.py``, ``benchmarks/minilm_head.py``)
    sample from."""
    from kaibert import data

    return [line for path in data.split_files("test") for line in Path(path).read_text().splitlines()
            if len(line.split()) >= min_words]


def fill_in_common_words(model, tokenizer, lines, top_k: int = 5, words=COMMON_WORDS) -> dict:
    """Mask the first common word of each line and count how often the model puts it back.

    A plain test of whether a masked language model has learned to read: in "to be, or not to
    [MASK]: that is the question" the answer is a word everybody knows. Lines without a common word
    are skipped. The baseline is the best answer that ignores the line: always the word that was
    masked most often. Returns counts and a few ``(masked line, answer, first guess)`` examples.
    """
    pattern = re.compile(r"(?<![\w'])(" + "|".join(words) + r")(?![\w'])", re.IGNORECASE)
    answers, top1, topk, examples = Counter(), 0, 0, []
    for line in lines:
        found = pattern.search(line)
        if found is None:
            continue
        masked = line[:found.start()] + tokenizer.mask_token + line[found.end():]
        answer = found.group(1).lower()
        guesses = [option["token"] for option in fill_mask(model, masked, top_k, tokenizer)]
        answers[answer] += 1
        top1 += guesses[0] == answer
        topk += answer in guesses
        if len(examples) < 10:
            examples.append((masked, answer, guesses[0]))
    n = sum(answers.values())
    if n == 0:
        raise ValueError(f"none of the {len(lines)} lines holds one of the words {list(words)}")
    best_word, best_count = answers.most_common(1)[0]
    return {"lines": n, "top1": top1 / n, f"top{top_k}": topk / n,
            "baseline_word": best_word, "baseline": best_count / n, "examples": examples}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="kaibert-fill-mask",
        description="Print the most likely tokens for each [MASK] in a text.")
    parser.add_argument("path", help="a BERT masked-LM checkpoint folder (or hub name), e.g. "
                                     f"{SHAKESPEARE_MINI}")
    parser.add_argument("text", help='text with [MASK] in it, e.g. "to be or not to [MASK]"')
    parser.add_argument("--top-k", type=int, default=5)
    args = parser.parse_args(argv)
    try:
        answers = fill_mask(args.path, args.text, top_k=args.top_k)
    except (ValueError, FileNotFoundError, OSError) as err:
        parser.exit(2, f"kaibert-fill-mask: error: {err}\n")
    if answers and isinstance(answers[0], dict):
        answers = [answers]
    for number, options in enumerate(answers, start=1):
        if len(answers) > 1:
            print(f"[MASK] {number} of {len(answers)}:")
        for option in options:
            print(f"  {option['score']:7.2%}  {option['token']:<15s} {option['sequence']}")


if __name__ == "__main__":
    main()
