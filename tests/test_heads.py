"""Chapter 10's heads are transformers' heads: same weights, same logits and losses (1e-5), both ways."""

from __future__ import annotations

import copy
import json

import pytest
import torch
import transformers

from kaibert import (BertConfig, BertForNextSentencePrediction, BertForPreTraining,
                     BertForSequenceClassification, BertModel)
from bert_twins import batch, hf_config, max_diff

TOL = 1e-5

# Odd sizes on purpose: nothing may depend on powers of two or on BERT-base's shape.
CONFIGS = {
    "odd-3-labels": BertConfig(vocab_size=101, hidden_size=36, num_hidden_layers=2, num_attention_heads=3,
                               intermediate_size=52, max_position_embeddings=24, num_labels=3),
    "relu-7-labels": BertConfig(vocab_size=77, hidden_size=20, num_hidden_layers=3, num_attention_heads=5,
                                intermediate_size=44, hidden_act="relu", type_vocab_size=3, num_labels=7,
                                max_position_embeddings=20, pad_token_id=2, classifier_dropout=0.3),
    "one-layer-2-labels": BertConfig(vocab_size=53, hidden_size=12, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=12, hidden_act="gelu_new", max_position_embeddings=16),
    "regression": BertConfig(vocab_size=64, hidden_size=28, num_hidden_layers=2, num_attention_heads=4,
                             intermediate_size=30, max_position_embeddings=16, num_labels=1),
}

HEAD_PAIRS = [
    (BertForSequenceClassification, transformers.BertForSequenceClassification),
    (BertForNextSentencePrediction, transformers.BertForNextSentencePrediction),
    (BertForPreTraining, transformers.BertForPreTraining),
]


def labels_for(config: BertConfig, problem_type: str, B: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    n = config.num_labels
    if problem_type == "single_label_classification":
        return torch.randint(n, (B,), generator=g)
    if problem_type == "multi_label_classification":
        return (torch.rand(B, n, generator=g) < 0.5).float()
    return torch.randn(B, n, generator=g).squeeze(-1) if n == 1 else torch.randn(B, n, generator=g)


def twins(ours_cls, theirs_cls, config: BertConfig, tmp_path, direction: str):
    """A random model of each library holding the same weights, loaded through a saved checkpoint."""
    config = copy.deepcopy(config)  # the models remember the problem type in their config
    folder = tmp_path / direction
    if direction == "transformers->kaibert":
        theirs = theirs_cls(hf_config(config)).eval()
        with torch.no_grad():  # non-zero biases in the heads, so a dropped bias shows
            for name, p in theirs.named_parameters():
                if not name.startswith("bert.") and name.endswith("bias"):
                    p.normal_()
        theirs.save_pretrained(folder)
        ours = ours_cls.from_pretrained(folder)
    else:
        ours = ours_cls(config).eval()
        with torch.no_grad():
            for name, p in ours.named_parameters():
                if not name.startswith("bert.") and name.endswith("bias"):
                    p.normal_()
        ours.save_pretrained(folder)
        theirs = theirs_cls.from_pretrained(folder, attn_implementation="eager").eval()
    return ours, theirs


def outputs(model, inputs, **labels):
    ids, mask, types = inputs
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=mask, token_type_ids=types, **labels)


@pytest.mark.parametrize("direction", ["transformers->kaibert", "kaibert->transformers"])
@pytest.mark.parametrize("name,problem_type", [
    ("odd-3-labels", "single_label_classification"),
    ("relu-7-labels", "single_label_classification"),
    ("relu-7-labels", "multi_label_classification"),
    ("one-layer-2-labels", "single_label_classification"),
    ("odd-3-labels", "regression"),
    ("regression", "regression"),
])
def test_sequence_classification_matches_transformers(name, problem_type, direction, tmp_path):
    config = CONFIGS[name]
    ours, theirs = twins(BertForSequenceClassification, transformers.BertForSequenceClassification,
                         config, tmp_path, direction)
    inputs = batch(config, B=4, T=9)
    labels = labels_for(config, problem_type, B=4)
    if problem_type == "regression" and config.num_labels > 1:
        ours.config.problem_type = theirs.config.problem_type = "regression"  # float labels, 3 targets
    a, b = outputs(ours, inputs, labels=labels), outputs(theirs, inputs, labels=labels)
    assert a.logits.shape == (4, config.num_labels)
    assert max_diff(a.logits, b.logits) <= TOL
    assert abs(a.loss.item() - b.loss.item()) <= TOL
    assert ours.config.problem_type == theirs.config.problem_type == problem_type


@pytest.mark.parametrize("direction", ["transformers->kaibert", "kaibert->transformers"])
@pytest.mark.parametrize("name", ["odd-3-labels", "relu-7-labels"])
def test_next_sentence_prediction_matches_transformers(name, direction, tmp_path):
    config = CONFIGS[name]
    ours, theirs = twins(BertForNextSentencePrediction, transformers.BertForNextSentencePrediction,
                         config, tmp_path, direction)
    inputs = batch(config, B=5, T=10)
    labels = torch.tensor([0, 1, 1, 0, 1])
    a, b = outputs(ours, inputs, labels=labels), outputs(theirs, inputs, labels=labels)
    assert a.logits.shape == (5, 2)
    assert max_diff(a.logits, b.logits) <= TOL
    assert abs(a.loss.item() - b.loss.item()) <= TOL


@pytest.mark.parametrize("direction", ["transformers->kaibert", "kaibert->transformers"])
@pytest.mark.parametrize("name", ["odd-3-labels", "one-layer-2-labels"])
def test_pre_training_heads_match_transformers(name, direction, tmp_path):
    config = CONFIGS[name]
    ours, theirs = twins(BertForPreTraining, transformers.BertForPreTraining, config, tmp_path, direction)
    ids, mask, types = batch(config, B=3, T=9)
    labels = torch.full_like(ids, -100)
    labels[:, 2:5] = ids[:, 2:5]
    nsp = torch.tensor([1, 0, 1])
    a = outputs(ours, (ids, mask, types), labels=labels, next_sentence_label=nsp)
    b = outputs(theirs, (ids, mask, types), labels=labels, next_sentence_label=nsp)
    assert max_diff(a.prediction_logits, b.prediction_logits) <= TOL
    assert max_diff(a.seq_relationship_logits, b.seq_relationship_logits) <= TOL
    assert abs(a.loss.item() - b.loss.item()) <= TOL
    assert ours.mlm_head.decoder.weight is ours.bert.embeddings.word_embeddings.weight


@pytest.mark.parametrize("num_labels", [2, 5])
def test_minilm_encoder_with_a_seeded_head_matches_transformers(minilm_path, num_labels, tmp_path):
    """The real pretrained encoder, a new head drawn from one seed, saved by each side in turn."""
    with pytest.warns(UserWarning, match=r"start from random values: \['classifier.bias', 'classifier.weight'\]"):
        ours = BertForSequenceClassification.from_pretrained(minilm_path, num_labels=num_labels)
    torch.manual_seed(10)
    with torch.no_grad():
        ours.classifier.weight.normal_(0, 0.02)
        ours.classifier.bias.normal_(0, 0.1)
    ours.save_pretrained(tmp_path / "ours")
    theirs = transformers.BertForSequenceClassification.from_pretrained(
        tmp_path / "ours", attn_implementation="eager").eval()
    tok = transformers.BertTokenizer(vocab_file=f"{minilm_path}/vocab.txt")
    enc = tok(["To be, or not to be", "Now is the winter of our discontent"],
              ["that is the question.", "made glorious summer by this sun of York."],
              padding=True, return_tensors="pt")
    labels = torch.tensor([0, num_labels - 1])
    inputs = (enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])
    a, b = outputs(ours, inputs, labels=labels), outputs(theirs, inputs, labels=labels)
    assert max_diff(a.logits, b.logits) <= TOL
    assert abs(a.loss.item() - b.loss.item()) <= TOL
    # and back: transformers saves, kaibert loads
    theirs.save_pretrained(tmp_path / "theirs")
    again = BertForSequenceClassification.from_pretrained(tmp_path / "theirs")
    assert max_diff(outputs(again, inputs).logits, b.logits) <= TOL


def test_labels_and_problem_type_survive_config_json(tmp_path):
    config = BertConfig(**{**CONFIGS["odd-3-labels"].__dict__, "id2label": {0: "comedy", 1: "history", 2: "tragedy"},
                           "label2id": None, "num_labels": None, "problem_type": "single_label_classification"})
    BertForSequenceClassification(config).save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["id2label"] == {"0": "comedy", "1": "history", "2": "tragedy"}
    assert saved["architectures"] == ["BertForSequenceClassification"]
    theirs = transformers.AutoConfig.from_pretrained(tmp_path)
    assert theirs.num_labels == 3 and theirs.id2label[2] == "tragedy" and theirs.label2id["history"] == 1
    assert theirs.problem_type == "single_label_classification"
    ours = BertForSequenceClassification.from_pretrained(tmp_path)
    assert ours.config.id2label == {0: "comedy", 1: "history", 2: "tragedy"} and ours.config.num_labels == 3


def test_a_classifier_with_other_labels_is_refused_by_number(tmp_path):
    BertForSequenceClassification(CONFIGS["odd-3-labels"]).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=r"classifier has 3 labels.*num_labels=5"):
        BertForSequenceClassification.from_pretrained(tmp_path, num_labels=5)
    fresh = BertForSequenceClassification.from_pretrained(tmp_path, num_labels=5, ignore_mismatched_sizes=True)
    assert fresh.classifier.weight.shape == (5, 36) and fresh.config.id2label[4] == "LABEL_4"


def test_encoder_checkpoint_in_a_classifier_names_the_new_weights(tmp_path):
    BertModel(CONFIGS["odd-3-labels"]).save_pretrained(tmp_path / "encoder")
    with pytest.warns(UserWarning, match=r"BertForSequenceClassification.*\['classifier.bias', 'classifier.weight'\]"):
        BertForSequenceClassification.from_pretrained(tmp_path / "encoder")
    # an MLM checkpoint has no pooler either: both are new, and said to be
    transformers.BertForMaskedLM(hf_config(CONFIGS["odd-3-labels"])).save_pretrained(tmp_path / "mlm")
    with pytest.warns(UserWarning, match=r"bert.pooler.dense.bias.*classifier"):
        BertForSequenceClassification.from_pretrained(tmp_path / "mlm")
    # the reverse: a fine-tuned classifier's encoder loads into a BertModel, head left behind
    BertForSequenceClassification(CONFIGS["odd-3-labels"]).save_pretrained(tmp_path / "classifier")
    BertModel.from_pretrained(tmp_path / "classifier")


def test_bad_labels_get_clear_errors():
    model = BertForSequenceClassification(copy.deepcopy(CONFIGS["odd-3-labels"])).eval()
    ids, mask, types = batch(model.config, B=2, T=6)
    with pytest.raises(ValueError, match=r"Label 3 is outside \[0, 3\).*num_labels=3"):
        model(ids, mask, types, labels=torch.tensor([0, 3]))
    with pytest.raises(ValueError, match=r"Label -1 is outside \[0, 3\)"):
        model(ids, mask, types, labels=torch.tensor([-1, 2]))
    int32 = model(ids, mask, types, labels=torch.tensor([0, 2], dtype=torch.int32)).loss  # as long ids
    assert torch.equal(int32, model(ids, mask, types, labels=torch.tensor([0, 2])).loss)
    model.config.problem_type = "single_label_classification"
    with pytest.raises(ValueError, match="must be integer class ids, got torch.float32"):
        model(ids, mask, types, labels=torch.tensor([0.0, 1.0]))
    model.config.problem_type = "multi_label_classification"
    with pytest.raises(ValueError, match=r"shape \(batch, num_labels\) = \(2, 3\)"):
        model(ids, mask, types, labels=torch.tensor([0.0, 1.0]))
    nsp = BertForNextSentencePrediction(CONFIGS["odd-3-labels"])
    with pytest.raises(ValueError, match=r"Label 2 is outside \[0, 2\)"):
        nsp(ids, mask, types, labels=torch.tensor([0, 2]))
    with pytest.raises(ValueError, match="needs both labels"):
        BertForPreTraining(CONFIGS["odd-3-labels"])(ids, labels=ids)
    with pytest.raises(ValueError, match="num_labels=4 but id2label names 2 labels"):
        BertConfig(num_labels=4, id2label={0: "a", 1: "b"})
    with pytest.raises(ValueError, match="problem_type 'ranking' is not supported"):
        BertConfig(problem_type="ranking")


def test_a_pair_batch_of_two_lengths_is_refused(minilm_path):
    from kaibert import BertTokenizer

    tokenizer = BertTokenizer.from_pretrained(minilm_path)
    with pytest.raises(ValueError, match="text_pair must match texts: got 2 text"):
        tokenizer(["first line", "second line"], ["only one follower"])


def kaibert_imports(module) -> set[str]:
    """Every kaibert module a source file imports, at the top or inside a function."""
    import ast

    tree = ast.parse(open(module.__file__).read())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {n for n in names if n.startswith("kaibert")}


def test_config_and_weight_loader_do_not_import_each_other():
    """config.py needs only the file finder; pretrained.py needs the config: one direction, no circle."""
    import kaibert.config
    import kaibert.hub
    import kaibert.pretrained

    assert kaibert_imports(kaibert.config) == {"kaibert.hub"}
    assert "kaibert.config" in kaibert_imports(kaibert.pretrained)
    assert kaibert_imports(kaibert.hub) == set()
