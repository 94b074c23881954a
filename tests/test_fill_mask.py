"""fill_mask on the shipped Shakespeare model, on transformers' models, and on bad input."""

import json
import shutil
from pathlib import Path

import pytest
import torch

from kaibert import BertTokenizer
from kaibert.fill_mask import SHAKESPEARE_MINI, fill_mask, load_mlm, main


@pytest.fixture(scope="module")
def shipped():
    return load_mlm(SHAKESPEARE_MINI)


def test_fill_mask_returns_the_top_tokens_with_probabilities(shipped):
    model, tokenizer = shipped
    answers = fill_mask(model, "to be, or not to [MASK]: that is the question", tokenizer=tokenizer)
    assert len(answers) == 5 and len({a["token_id"] for a in answers}) == 5
    scores = [a["score"] for a in answers]
    assert scores == sorted(scores, reverse=True) and 0 < scores[-1] and sum(scores) <= 1
    with torch.no_grad():
        ids = torch.tensor([tokenizer.encode("to be, or not to [MASK]: that is the question")])
        probs = model(ids).logits[0, 7].softmax(-1)
    assert answers[0]["score"] == pytest.approx(probs.max().item(), abs=1e-6)
    first = answers[0]["token"]
    assert answers[0]["sequence"] == tokenizer.decode(
        tokenizer.encode(f"to be, or not to {first}: that is the question"), skip_special_tokens=True)


@pytest.mark.slow
def test_shipped_model_beats_the_baseline_and_reads_word_order(shipped):
    from kaibert import data
    from kaibert.train import eval_batches, evaluate, shuffle_context, special_token_ids

    model, _ = shipped
    fast, blocks = data.prepare_data(folder=None, vocab_from=SHAKESPEARE_MINI, block_size=64)
    ids = special_token_ids(fast)
    batches = eval_batches(blocks["test"], 32, fast.get_vocab_size(), ids, max_batches=8)
    report = evaluate(model, batches, baseline_token_id=fast.token_to_id(","))
    assert report["accuracy"] > 1.5 * report["baseline_accuracy"]
    assert report["perplexity"] < 0.1 * fast.get_vocab_size()
    shuffled = evaluate(model, shuffle_context(batches, ids))
    assert shuffled["loss"] - report["loss"] > 0.5  # a bag-of-words model scores the same on shuffled context


def test_several_masks_give_one_list_each(shipped):
    model, tokenizer = shipped
    answers = fill_mask(model, "[MASK] pray you, my [MASK].", top_k=3, tokenizer=tokenizer)
    assert len(answers) == 2 and all(len(options) == 3 for options in answers)
    probs = [sum(o["score"] for o in options) for options in answers]
    assert all(0 < p <= 1 for p in probs)


def test_path_and_loaded_model_agree(shipped):
    model, tokenizer = shipped
    by_path = fill_mask(SHAKESPEARE_MINI, "good [MASK], my lord", top_k=3)
    by_model = fill_mask(model, "good [MASK], my lord", top_k=3, tokenizer=tokenizer)
    assert by_path == by_model


def test_transformers_model_gives_the_same_answers(shipped):
    transformers = pytest.importorskip("transformers")
    model, tokenizer = shipped
    theirs = transformers.BertForMaskedLM.from_pretrained(SHAKESPEARE_MINI, attn_implementation="eager")
    text = "what's in a [MASK]? that which we call a rose"
    ours = fill_mask(model, text, tokenizer=tokenizer)
    hf = fill_mask(theirs.eval(), text, tokenizer=tokenizer)
    assert [a["token"] for a in ours] == [a["token"] for a in hf]
    for a, b in zip(ours, hf):
        assert a["score"] == pytest.approx(b["score"], abs=1e-5)


def test_text_without_a_mask_is_refused(shipped):
    model, tokenizer = shipped
    with pytest.raises(ValueError, match=r"no \[MASK\] token"):
        fill_mask(model, "to be or not to be", tokenizer=tokenizer)
    with pytest.raises(ValueError, match="top_k"):
        fill_mask(model, "to [MASK]", top_k=0, tokenizer=tokenizer)
    with pytest.raises(ValueError, match="tokenizer"):
        fill_mask(model, "to [MASK]")
    with pytest.raises(ValueError, match="reads at most 128"):
        fill_mask(model, "word " * 200 + "[MASK]", tokenizer=tokenizer)


def test_a_checkpoint_without_an_mlm_head_is_refused():
    from kaibert.course import pretrained_bert_path

    with pytest.raises(ValueError, match="no masked-language-model head"):
        fill_mask(pretrained_bert_path(), "to be or not to [MASK]")


def test_another_architecture_is_refused(tmp_path):
    folder = tmp_path / "gpt2"
    shutil.copytree(SHAKESPEARE_MINI, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "gpt2",
                                                    "architectures": ["GPT2LMHeadModel"]}))
    with pytest.raises(ValueError, match="'gpt2' model"):
        fill_mask(folder, "to be or not to [MASK]")


def test_cli_prints_the_top_tokens(capsys):
    main([SHAKESPEARE_MINI, "to be, or not to [MASK]", "--top-k", "2"])
    lines = capsys.readouterr().out.strip().splitlines()
    expected = fill_mask(SHAKESPEARE_MINI, "to be, or not to [MASK]", top_k=2)
    assert len(lines) == 2 and [line.split()[1] for line in lines] == [a["token"] for a in expected]
    with pytest.raises(SystemExit) as exit_info:
        main([SHAKESPEARE_MINI, "no mask here"])
    assert exit_info.value.code == 2
    assert "no [MASK] token" in capsys.readouterr().err


def test_shipped_folder_is_complete():
    tokenizer = BertTokenizer.from_pretrained(SHAKESPEARE_MINI)
    config = json.loads(open(f"{SHAKESPEARE_MINI}/config.json").read())
    assert config["architectures"] == ["BertForMaskedLM"]
    assert config["vocab_size"] == tokenizer.vocab_size
    assert tokenizer.tokenize("To be, or not to be") == ["to", "be", ",", "or", "not", "to", "be"]
    for name in ("TRAINING.md", "training_log.csv", "results.json"):
        assert (Path(SHAKESPEARE_MINI) / name).is_file(), name


@pytest.mark.slow
def test_shipped_model_puts_common_words_back_in_lines_it_never_saw(shipped):
    import random

    from kaibert.fill_mask import fill_in_common_words, held_out_lines

    model, tokenizer = shipped
    report = fill_in_common_words(model, tokenizer, random.Random(0).sample(held_out_lines(), 300))
    assert report["top1"] > 1.5 * report["baseline"], report


def test_fill_in_common_words_counts_what_a_model_puts_back(shipped):
    import copy

    from kaibert.fill_mask import fill_in_common_words

    model, tokenizer = shipped
    always_and = copy.deepcopy(model)                  # a model that answers "and" everywhere
    with torch.no_grad():
        always_and.mlm_head.bias[tokenizer.convert_tokens_to_ids("and")] = 1e4
    lines = ["and so to bed, my lord",                 # masks "and": right
             "then the king is dead",                  # masks "the": wrong
             "I'll see the queen",                     # "I'll" is not the word "i": masks "the"
             "we will go, and you stay",               # masks "and": right
             "no words here at all"]                   # none of the common words: skipped
    report = fill_in_common_words(always_and, tokenizer, lines)
    assert report["lines"] == 4
    assert report["top1"] == pytest.approx(2 / 4)
    assert report["baseline_word"] in ("and", "the") and report["baseline"] == pytest.approx(2 / 4)
    assert report["top5"] >= report["top1"]
    masked = [example[0] for example in report["examples"]]
    assert masked[1] == "then [MASK] king is dead" and masked[2] == "I'll see [MASK] queen"
    assert [example[2] for example in report["examples"]] == ["and"] * 4
    with pytest.raises(ValueError, match="none of the 1 lines"):
        fill_in_common_words(model, tokenizer, ["no words here at all"])


def test_each_mask_is_filled_with_the_other_mask_left_visible(shipped, capsys):
    model, tokenizer = shipped
    text = "to [MASK] or not to be, [MASK] is the question"
    first, second = fill_mask(model, text, top_k=2, tokenizer=tokenizer)

    def shown_as(filled):  # the text as the tokenizer writes it back, [MASK] kept
        return tokenizer.decode(tokenizer.encode(filled)[1:-1])

    for option in first:
        assert option["sequence"] == shown_as(f"to {option['token']} or not to be, [MASK] is the question")
    for option in second:
        assert option["sequence"] == shown_as(f"to [MASK] or not to be, {option['token']} is the question")
    assert all(option["sequence"].count("[MASK]") == 1 for option in first + second)
    main([SHAKESPEARE_MINI, text, "--top-k", "2"])
    shown = capsys.readouterr().out
    assert "[MASK] 1 of 2:" in shown and "[MASK] 2 of 2:" in shown
    assert shown.count("[MASK] is the question") == 2 and shown.count("to [MASK] or not") == 2
