"""The attention views are self-contained: no CDN, the JavaScript inlined, the tokens inside."""

import hashlib
import json
import re
from importlib import resources

import pytest
import torch

from kaibert.course.viz import ASSETS, AttentionView, head_view, model_view

TOKENS = ["[CLS]", "the", "cat", "sat", "[SEP]", "it", "purred", "[SEP]"]
SHA256 = {  # the vendored files, as npm ships them (see kaibert/course/assets/README.md)
    "d3": "bdad5585ef9a965ff25458738309b006058c55f2c78d794d25fbecae35014609",
    "jquery": "9261efb3407e3a9096e4654750d8eff6b3a663422f48845c7fbcc65034c340cf",
}


def attentions(layers=2, heads=3, length=len(TOKENS), seed=0):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.softmax(torch.randn(1, heads, length, length, generator=g), dim=-1) for _ in range(layers))


def fetched_urls(html: str) -> list[str]:
    """URLs the HTML could fetch: src/href attributes, CSS url(), import(), any quoted URL."""
    found = re.findall(r"""(?:src|href)\s*=\s*["']?\s*((?:https?:)?//[^"'\s>]+)""", html, re.I)
    found += re.findall(r"""url\(\s*["']?((?:https?:)?//[^)"']+)""", html, re.I)
    found += re.findall(r"""import\(\s*["']((?:https?:)?//[^"']+)""", html)
    quoted = re.findall(r"""["'`](https?://[^"'`\s]+)["'`]""", html)  # e.g. require.config paths
    found += [u for u in quoted if not u.startswith("http://www.w3.org/")]  # XML namespaces, never fetched
    return found


@pytest.mark.parametrize("view", [head_view, model_view])
def test_view_needs_no_network(view):
    html = view(attentions(), TOKENS).data
    assert fetched_urls(html) == []
    assert "cdnjs" not in html and "require.config" not in html and "requirejs(" not in html
    for name in ASSETS:  # each library inlined whole
        source = resources.files("kaibert.course").joinpath("assets", ASSETS[name]).read_text()
        assert source.strip().splitlines()[-1][:200] in html
    assert "https://d3js.org v5.7.0" in html and "jQuery v3.7.1" in html
    assert "})(window.kaibertViz.jquery, window.kaibertViz.d3);" in html


def test_the_detector_catches_what_bertviz_emits():
    """fetched_urls must not be blind: bertviz's own HTML fetches from a CDN."""
    from bertviz import head_view as bertviz_head_view

    raw = bertviz_head_view(attentions(), TOKENS, html_action="return").data
    urls = fetched_urls(raw)
    assert any("require" in u for u in urls) and any("d3" in u for u in urls)


@pytest.mark.parametrize("view", [head_view, model_view])
def test_tokens_and_weights_are_in_the_view(view):
    att = attentions()
    html = view(att, TOKENS, sentence_b_start=5).data
    params = json.loads(re.search(r"const params = (\{.*?\});", html, re.S).group(1))
    everything = params["attention"][0]
    assert everything["left_text"] == TOKENS and everything["right_text"] == TOKENS
    weights = torch.tensor(everything["attn"], dtype=torch.float64)  # (layers, heads, T, T)
    assert weights.shape == (2, 3, len(TOKENS), len(TOKENS))
    assert torch.allclose(weights, torch.cat(att).double(), atol=1e-3)  # rounded to 3 decimals
    names = [d["name"] for d in params["attention"]]
    assert "Sentence A -> Sentence B" in names
    b_to_b = params["attention"][names.index("Sentence B -> Sentence B")]
    assert b_to_b["left_text"] == TOKENS[5:]
    # each block is stored as where it sits in the whole matrix, not as a second copy of it
    assert b_to_b["attn"] == {"kaibert_slice": [5, len(TOKENS), 5, len(TOKENS)]}
    a_to_b = params["attention"][names.index("Sentence A -> Sentence B")]
    assert a_to_b["attn"] == {"kaibert_slice": [0, 5, 5, len(TOKENS)]}


def test_vendored_files_are_the_npm_ones():
    for name, expected in SHA256.items():
        data = resources.files("kaibert.course").joinpath("assets", ASSETS[name]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == expected, ASSETS[name]
    for licence in ("LICENSE-d3.txt", "LICENSE-jquery.txt", "README.md"):
        assert resources.files("kaibert.course").joinpath("assets", licence).is_file()


def test_a_token_cannot_close_the_script():
    html = head_view(attentions(layers=1, length=3), ["[CLS]", "</script><b>x", "[SEP]"]).data
    assert "</script><b>x" not in html and "<\\/script><b>x" in html


def test_accepts_a_model_output_and_three_dim_layers():
    class Output:
        attentions = attentions()

    a = head_view(Output(), TOKENS)
    b = head_view([x[0] for x in attentions()], TOKENS)  # (heads, T, T) per layer
    strip = lambda html: re.sub(r"bertviz-[0-9a-f]+", "", html)  # noqa: E731 (the view's random id)
    assert isinstance(a, AttentionView) and strip(a.data) == strip(b.data)
    assert a._repr_html_() == a.data  # what Jupyter and Colab display


def test_standalone_page(tmp_path):
    page = head_view(attentions(), TOKENS).save(tmp_path / "view.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and fetched_urls(page) == []


@pytest.mark.parametrize(
    "attention, tokens, message",
    [
        (None, TOKENS, "output_attentions=True"),
        ((None, None), TOKENS, "output_attentions=True"),
        (tuple(torch.rand(2, 3, 8, 8) for _ in range(2)), TOKENS, "batch holds 2"),
        (attentions(), TOKENS[:-1], "8 positions but 7 tokens"),
        (attentions(), "the cat", "list of strings"),
        (attentions(), torch.arange(8), "list of strings"),
        ((torch.rand(1, 3, 8, 8), torch.rand(1, 3, 7, 7)), TOKENS, "same attention shape"),
        ((torch.rand(1, 3, 8),), TOKENS, "(1, heads, T, T)"),
    ],
)
def test_bad_input_says_what_to_do(attention, tokens, message):
    with pytest.raises((ValueError, TypeError), match=re.escape(message)):
        head_view(attention, tokens)


def test_bad_sentence_b_start():
    with pytest.raises(ValueError, match="between 1 and 7"):
        model_view(attentions(), TOKENS, sentence_b_start=8)


# --- the computational-graph diagram -------------------------------------------------------

SMALL = dict(vocab_size=99, hidden_size=48, num_hidden_layers=3, num_attention_heads=4, intermediate_size=80,
             max_position_embeddings=40, type_vocab_size=3)


@pytest.mark.parametrize("kv_heads", [None, 2, 1])
def test_diagram_parameter_counts_match_the_model(kv_heads):
    from kaibert import BertConfig, BertForMaskedLM, BertModel
    from kaibert.course.diagrams import parameter_counts

    config = BertConfig(**SMALL, num_key_value_heads=kv_heads)
    counts = parameter_counts(config)
    n_model = sum(p.numel() for p in BertModel(config).parameters())
    mlm = BertForMaskedLM(config)
    own = {id(p) for p in mlm.mlm_head.parameters()} - {id(mlm.bert.embeddings.word_embeddings.weight)}
    assert counts["bert_model"] == n_model
    assert counts["mlm_head"] == sum(p.numel() for p in mlm.parameters() if id(p) in own)  # decoder is tied
    assert counts["encoder"] == 3 * counts["layer"]


def test_diagram_labels_come_from_the_config():
    import matplotlib

    matplotlib.use("Agg")
    from kaibert import BertConfig
    from kaibert.course.diagrams import draw_bert_graph

    fig = draw_bert_graph(BertConfig(**SMALL, num_key_value_heads=2))
    texts = " | ".join(t.get_text() for t in fig.axes[0].texts) + fig.axes[0].get_title()
    for label in ("(B, T, 48)", "(B, 4, T, T)", "encoder layer × 3", "99 × 48", "40 × 48", "3 × 48",
                  "Linear 48 → 80", "logits (B, T, 99)", "2 key/value heads", "4 heads × 12"):
        assert label in texts, label
    fig.canvas.draw()  # renders without error
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_diagram_rejects_what_is_not_a_config():
    from kaibert.course.diagrams import draw_bert_graph

    with pytest.raises(TypeError, match="needs a BertConfig"):
        draw_bert_graph({"hidden_size": 768})


def test_views_of_the_pretrained_model(minilm_path):
    """The real thing: kaibert's attentions and tokenizer straight into both views."""
    from kaibert import BertModel, BertTokenizer

    tokenizer = BertTokenizer.from_pretrained(minilm_path)
    model = BertModel.from_pretrained(minilm_path).eval()
    batch = tokenizer(["The cat sat on the mat."], ["It purred."], return_tensors="pt")
    with torch.no_grad():
        out = model(**batch, output_attentions=True)
    tokens = tokenizer.convert_ids_to_tokens(batch["input_ids"][0].tolist())
    b_start = batch["token_type_ids"][0].tolist().index(1)
    for view in (head_view, model_view):
        html = view(out.attentions, tokens, sentence_b_start=b_start).data
        params = json.loads(re.search(r"const params = (\{.*?\});", html, re.S).group(1))
        weights = torch.tensor(params["attention"][0]["attn"], dtype=torch.float64)
        assert weights.shape == (6, 12, len(tokens), len(tokens))  # MiniLM: 6 layers, 12 heads
        # each weight rounded to 3 decimals: a row of T weights sums to 1 within T / 2000
        assert torch.allclose(weights.sum(-1), torch.ones(6, 12, len(tokens), dtype=torch.float64),
                              atol=len(tokens) * 0.5e-3)
        assert params["attention"][0]["left_text"] == tokens and fetched_urls(html) == []


def test_the_libraries_are_one_marked_script_that_the_site_can_swap_for_its_static_copy():
    """The book's build cuts the marked script out of each view and loads library_script() once."""
    import sys
    from pathlib import Path

    from kaibert.course.viz import LIBRARIES_TAG, library_script

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "book" / "_ext"))
    from kaibert_site import _LIBRARIES

    html = head_view(attentions(), TOKENS).data + model_view(attentions(), TOKENS).data
    assert html.count(LIBRARIES_TAG) == 2
    assert html.count(library_script()) == 2
    stripped = _LIBRARIES.sub("", html)
    assert LIBRARIES_TAG not in stripped and "window.kaibertViz.jquery" in stripped
    assert len(html) - len(stripped) >= 2 * len(library_script())
    assert stripped.count("<script") == stripped.count("</script>") == 2  # each view keeps its drawing code


def test_compact_shrinks_a_view_drawn_the_long_way_and_leaves_a_compact_one_alone():
    """The site compacts cached outputs too: bertviz's own form (spaces, every block twice, long floats)."""
    from bertviz import head_view as bertviz_head_view

    from kaibert.course.viz import compact

    long = bertviz_head_view(attentions(), TOKENS, sentence_b_start=5, html_action="return").data
    short = compact(long)
    data_long = re.search(r"const params = (\{.*?\}); // HACK", long, re.S).group(1)
    assert long.count('"name": "All"') == 2 and short.count('"name":"All"') == 1  # bertviz's comment copy goes
    data_short = re.search(r"const params = (\{.*?\}); \(function", short, re.S).group(1)
    assert len(data_short) < 0.4 * len(data_long)
    params = json.loads(data_short)
    assert all("kaibert_slice" in d["attn"] for d in params["attention"][1:])
    assert all(len(repr(x)) <= 5 for x in params["attention"][0]["attn"][0][0][0])  # 0.123
    assert compact(short) == short
