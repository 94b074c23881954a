"""Bad input gets an error that names the problem and the fix, never a silent wrong answer."""

from __future__ import annotations

import json

import pytest
import torch

from kaibert import BertConfig, BertForMaskedLM, BertModel

SMALL = dict(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
             intermediate_size=32, max_position_embeddings=8)


@pytest.fixture
def model():
    return BertModel(BertConfig(**SMALL)).eval()


def test_token_id_outside_the_vocabulary(model):
    with pytest.raises(ValueError, match=r"token id 50, outside the vocabulary \[0, 50\)"):
        model(torch.tensor([[1, 2, 50]]))
    with pytest.raises(ValueError, match="token id -1"):
        model(torch.tensor([[1, -1]]))


def test_sequence_longer_than_the_position_table(model):
    with pytest.raises(ValueError, match=r"Sequence length 9 is longer than max_position_embeddings \(8\).*truncation=True"):
        model(torch.ones(1, 9, dtype=torch.long))


def test_mask_and_segments_of_the_wrong_shape(model):
    ids = torch.ones(2, 5, dtype=torch.long)
    with pytest.raises(ValueError, match=r"attention_mask has shape \(2, 4\) but input_ids has shape \(2, 5\)"):
        model(ids, attention_mask=torch.ones(2, 4))
    with pytest.raises(ValueError, match=r"token_type_ids must be in \[0, 2\)"):
        model(ids, token_type_ids=torch.full((2, 5), 2))


def test_input_ids_of_the_wrong_rank_or_type(model):
    with pytest.raises(ValueError, match=r"shape \(batch, seq_len\).*unsqueeze\(0\)"):
        model(torch.ones(5, dtype=torch.long))
    with pytest.raises(ValueError, match="integer tensor"):
        model(torch.ones(1, 5))


def test_hidden_size_not_divisible_by_heads():
    with pytest.raises(ValueError, match=r"hidden_size \(16\) is not divisible by num_attention_heads \(3\)"):
        BertConfig(**{**SMALL, "num_attention_heads": 3})
    with pytest.raises(ValueError, match="num_key_value_heads"):
        BertConfig(**{**SMALL, "num_key_value_heads": 3, "num_attention_heads": 4})
    with pytest.raises(ValueError, match="hidden_act 'swish2' is not supported"):
        BertConfig(**{**SMALL, "hidden_act": "swish2"})


def test_checkpoint_that_does_not_fit_the_config_names_the_keys(tmp_path):
    BertModel(BertConfig(**SMALL)).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["intermediate_size"] = 24
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"encoder\.layer\.0\.intermediate\.dense\.weight: checkpoint \(32, 16\) vs model \(24, 16\)"):
        BertModel.from_pretrained(tmp_path)


def test_checkpoint_with_foreign_weights_names_them(tmp_path):
    from safetensors.torch import load_file, save_file

    BertModel(BertConfig(**SMALL)).save_pretrained(tmp_path)
    state = load_file(tmp_path / "model.safetensors")
    state["decoder.layers.0.weight"] = torch.zeros(2)
    save_file(state, tmp_path / "model.safetensors")
    with pytest.raises(ValueError, match=r"not part of a BERT model: decoder\.layers\.0\.weight"):
        BertModel.from_pretrained(tmp_path)


def test_mlm_from_an_encoder_only_checkpoint_names_the_missing_head(minilm_path):
    with pytest.raises(ValueError, match=r"lacks: mlm_head\.bias, mlm_head\.dense\.bias.*strict=False"):
        BertForMaskedLM.from_pretrained(minilm_path)


def test_checkpoint_of_another_architecture(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_embd": 16}))
    with pytest.raises(ValueError, match="'gpt2' model, not BERT"):
        BertModel.from_pretrained(tmp_path)


def test_folder_without_a_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="has no config.json"):
        BertModel.from_pretrained(tmp_path)
    BertConfig(**SMALL).save_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="expected one of model.safetensors, pytorch_model.bin"):
        BertModel.from_pretrained(tmp_path)


def test_hub_name_while_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OSError, match="'bert-base-uncased' is not a local folder.*offline, pass a local checkpoint folder"):
        BertModel.from_pretrained("bert-base-uncased")


def test_path_that_does_not_exist():
    with pytest.raises(FileNotFoundError, match="'./no/such/folder' is not a checkpoint folder"):
        BertModel.from_pretrained("./no/such/folder")


def test_labels_of_the_wrong_shape():
    mlm = BertForMaskedLM(BertConfig(**SMALL))
    with pytest.raises(ValueError, match="labels has shape"):
        mlm(torch.ones(1, 4, dtype=torch.long), labels=torch.ones(1, 3, dtype=torch.long))


def test_float_input_ids_name_their_dtype(model):
    with pytest.raises(ValueError, match=r"got dtype torch\.float32.*input_ids\.long\(\)"):
        model(torch.ones(2, 5))


def test_an_empty_sequence_is_a_clear_error(model):
    with pytest.raises(ValueError, match=r"input_ids is empty: shape \(2, 0\)"):
        model(torch.ones(2, 0, dtype=torch.long))
    with pytest.raises(ValueError, match=r"input_ids is empty"):
        BertForMaskedLM(BertConfig(**SMALL))(torch.ones(1, 0, dtype=torch.long))
