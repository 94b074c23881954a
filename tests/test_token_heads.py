"""The token heads are transformers' heads: same weights, same logits and losses (1e-5), both ways."""

from __future__ import annotations

import pytest
import torch
import transformers

from kaibert import BertConfig, BertForQuestionAnswering, BertForSequenceClassification, BertForTokenClassification
from bert_twins import batch, max_diff
from test_heads import CONFIGS, TOL, outputs, twins


def token_labels(config: BertConfig, inputs, seed: int = 2) -> torch.Tensor:
    """A label per real token, -100 on padding and on a few tokens (later word pieces)."""
    ids, mask, _ = inputs
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(config.num_labels, ids.shape, generator=g)
    labels[mask == 0] = -100
    labels[:, 0] = -100  # [CLS]
    labels[:, 3] = -100
    return labels


@pytest.mark.parametrize("direction", ["transformers->kaibert", "kaibert->transformers"])
@pytest.mark.parametrize("name", ["odd-3-labels", "relu-7-labels", "one-layer-2-labels"])
def test_token_classification_matches_transformers(name, direction, tmp_path):
    config = CONFIGS[name]
    ours, theirs = twins(BertForTokenClassification, transformers.BertForTokenClassification,
                         config, tmp_path, direction)
    inputs = batch(config, B=4, T=9)
    labels = token_labels(config, inputs)
    a, b = outputs(ours, inputs, labels=labels), outputs(theirs, inputs, labels=labels)
    assert a.logits.shape == (4, 9, config.num_labels)
    assert max_diff(a.logits, b.logits) <= TOL
    assert abs(a.loss.item() - b.loss.item()) <= TOL
    assert ours.bert.pooler is None and "bert.pooler.dense.weight" not in theirs.state_dict()


@pytest.mark.parametrize("direction", ["transformers->kaibert", "kaibert->transformers"])
@pytest.mark.parametrize("name", ["odd-3-labels", "relu-7-labels", "one-layer-2-labels"])
def test_question_answering_matches_transformers(name, direction, tmp_path):
    data = {k: v for k, v in CONFIGS[name].to_dict().items() if k not in ("id2label", "label2id")}
    config = BertConfig.from_dict({**data, "num_labels": 2})  # a start and an end score
    ours, theirs = twins(BertForQuestionAnswering, transformers.BertForQuestionAnswering,
                         config, tmp_path, direction)
    inputs = batch(config, B=4, T=9)
    # the last pair points past the input (an answer lost to truncation): both ignore it
    start, end = torch.tensor([1, 4, 2, 30]), torch.tensor([3, 4, 6, 40])
    a = outputs(ours, inputs, start_positions=start, end_positions=end)
    b = outputs(theirs, inputs, start_positions=start, end_positions=end)
    assert a.start_logits.shape == a.end_logits.shape == (4, 9)
    assert max_diff(a.start_logits, b.start_logits) <= TOL
    assert max_diff(a.end_logits, b.end_logits) <= TOL
    assert abs(a.loss.item() - b.loss.item()) <= TOL
    assert torch.isfinite(a.loss)


def test_minilm_encoder_under_both_token_heads_matches_transformers(minilm_path, tmp_path):
    """The real pretrained encoder with new heads, saved by kaibert, read by transformers."""
    tok = transformers.BertTokenizer(vocab_file=f"{minilm_path}/vocab.txt")
    enc = tok(["Who is there?", "Welcome, Horatio"], ["Nay, answer me", "welcome, good Marcellus."],
              padding=True, return_tensors="pt")
    inputs = (enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])
    for ours_cls, theirs_cls, n in ((BertForTokenClassification, transformers.BertForTokenClassification, 3),
                                    (BertForQuestionAnswering, transformers.BertForQuestionAnswering, 2)):
        head = "classifier" if n == 3 else "qa_outputs"
        with pytest.warns(UserWarning, match=f"start from random values: \\['{head}.bias', '{head}.weight'\\]"):
            ours = ours_cls.from_pretrained(minilm_path, num_labels=n)
        ours.save_pretrained(tmp_path / head)
        theirs = theirs_cls.from_pretrained(tmp_path / head, attn_implementation="eager").eval()
        a, b = outputs(ours, inputs), outputs(theirs, inputs)
        first = a.logits if n == 3 else a.start_logits
        assert max_diff(first, b.logits if n == 3 else b.start_logits) <= TOL


def test_a_token_classifier_reads_a_sequence_classifiers_encoder(tmp_path):
    """A fine-tuned sentence classifier's checkpoint starts a tagger: its pooler is left out."""
    config = CONFIGS["odd-3-labels"]
    BertForSequenceClassification(config).save_pretrained(tmp_path)
    tagger = BertForTokenClassification.from_pretrained(tmp_path)
    assert tagger.bert.pooler is None


def test_bad_token_labels_and_positions_get_clear_errors():
    config = CONFIGS["odd-3-labels"]
    ids, mask, types = batch(config, B=2, T=6)
    tagger = BertForTokenClassification(config)
    with pytest.raises(ValueError, match=r"one label per token, labels of shape \(2, 6\)"):
        tagger(ids, mask, types, labels=torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"Token label 3 is outside \[0, 3\)"):
        tagger(ids, mask, types, labels=torch.full((2, 6), 3))
    reader = BertForQuestionAnswering(config)
    with pytest.raises(ValueError, match="both start_positions and end_positions"):
        reader(ids, mask, types, start_positions=torch.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"start_positions needs one integer token index per example \(2\)"):
        reader(ids, mask, types, start_positions=torch.tensor([1.0, 2.0]), end_positions=torch.tensor([1, 2]))
