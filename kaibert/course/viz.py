"""Attention views (bertviz) that draw with no network.

bertviz's HTML loads require.js, d3 and jQuery from a CDN, so offline (the built book, CI, a
classroom behind a firewall) its views stay blank. These wrappers ask bertviz for its HTML and
inline d3 and jQuery (vendored in ``kaibert/course/assets``, see the README there), so the
view draws in Jupyter, in Colab and on the book's pages with no request leaving the page.

Each view carries its own copy of the two libraries (300 kB): Colab shows every output in a
frame of its own, so a view cannot count on a copy that an earlier output brought. The book
site does better: its build (``book/_ext/kaibert_site.py``) takes the copies out of the pages
and loads ``_static/kaibert-viz.js`` (``library_script()``) once instead, cached by the browser.

    from kaibert.course.viz import head_view, model_view
    out = model(ids, output_attentions=True)
    head_view(out.attentions, tokens)          # one (1, heads, T, T) tensor per layer
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

import torch
from IPython.display import HTML

ASSETS = {"d3": "d3-5.7.0.min.js", "jquery": "jquery-3.7.1.slim.min.js"}
DECIMALS = 3  # attention weights are drawn as opacities, where 0.001 is invisible; fewer digits, smaller pages

# What bertviz 1.4.1 writes and this module replaces.
_CDN_SCRIPT = re.compile(r"<script\s+src=\"https?://[^\"]*\"\s*>\s*</script>")
_REQUIRE_CONFIG = re.compile(r"require\.config\(\{.*?\}\);", re.S)
_REQUIRE_CALL = re.compile(r"requirejs\(\[\s*'jquery'\s*,\s*'d3'\s*\]\s*,\s*function\s*\(\s*\$\s*,\s*d3\s*\)\s*\{")
_SOURCE_MAP = re.compile(r"^//# sourceMappingURL=.*$", re.M)
# bertviz puts its data into the page twice: as `params`, and again in the comment after it, since
# it replaces every "PYTHON_PARAMS" of its script, the one in the comment included.
_PARAMS = re.compile(r"const params = (\{.*?\}); // HACK[^\n]*", re.S)
# For a sentence pair bertviz stores each block (A -> A, A -> B, ...) again beside the whole
# matrix; the view stores where each block sits instead, and this rebuilds it in the browser.
_EXPAND = (
    "(function (p) { var all = p.attention[0].attn; p.attention.forEach(function (d) {"
    " var s = d.attn && d.attn.kaibert_slice; if (!s) return;"
    " d.attn = all.map(function (layer) { return layer.map(function (head) {"
    " return head.slice(s[0], s[1]).map(function (row) { return row.slice(s[2], s[3]); }); }); }); }); })(params);"
)


class AttentionView(HTML):
    """A bertviz view as self-contained HTML; displays itself in Jupyter and Colab."""

    def save(self, path: str | Path) -> Path:
        """Write the view as a standalone HTML page (opens in a browser with no network)."""
        path = Path(path)
        path.write_text(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Attention</title>"
            '<link rel="icon" href="data:,"></head>\n'
            f"<body>\n{self.data}\n</body></html>\n",
            encoding="utf-8",
        )
        return path


@lru_cache(maxsize=None)
def _asset(name: str) -> str:
    text = resources.files("kaibert.course").joinpath("assets", ASSETS[name]).read_text(encoding="utf-8")
    return _SOURCE_MAP.sub("", text)


LIBRARIES_TAG = '<script type="text/javascript" data-kaibert-viz="libraries">'  # the book's build looks for it


def library_script() -> str:
    """JavaScript that defines ``window.kaibertViz.d3`` and ``.jquery``, unless already defined.

    Each library runs inside a function that hides the page's ``define`` and gives it a
    ``module`` object, so it neither registers with a page's require.js (Jupyter's, Colab's)
    nor overwrites a page's global ``$``.
    """
    parts = ["(function () {", "var root = window.kaibertViz = window.kaibertViz || {};"]
    for name in ASSETS:
        parts.append(
            f"if (!root.{name}) {{ (function () {{\n"
            "var module = {exports: {}}, exports = module.exports, define = undefined;\n"
            f"{_asset(name)}\n"
            f";root.{name} = module.exports; }})(); }}"
        )
    parts.append("})();")
    return "\n".join(parts) + "\n"


def _library_loader() -> str:
    """The libraries as an inline script, marked so that the book's build can swap it for a link."""
    return f"{LIBRARIES_TAG}\n{library_script()}</script>\n"


def _block_slice(whole: list, block: list) -> list[int] | None:
    """[r0, r1, c0, c1] if ``block`` (layers, heads, R, C) is whole[..., r0:r1, c0:c1], else None."""
    n_rows, n_cols = len(whole[0][0]), len(whole[0][0][0])
    rows, cols = len(block[0][0]), len(block[0][0][0])
    for r0 in {0, n_rows - rows}:
        for c0 in {0, n_cols - cols}:
            if all([row[c0:c0 + cols] for row in w[r0:r0 + rows]] == b
                   for wl, bl in zip(whole, block) for w, b in zip(wl, bl)):
                return [r0, r0 + rows, c0, c0 + cols]
    return None


def compact(html: str) -> str:
    """Write a view's data with DECIMALS digits, no repeats and no spaces: each weight once.

    Views drawn by an older version of this module pass through unchanged in meaning; the book's
    build runs this on every cached output, so a page never carries the longer form.
    """
    m = _PARAMS.search(html)
    if m is None:
        return html
    params = json.loads(m.group(1), parse_float=lambda x: round(float(x), DECIMALS))
    blocks = params.get("attention", [])
    if len(blocks) > 1:
        whole = blocks[0]["attn"]
        for d in blocks[1:]:
            where = _block_slice(whole, d["attn"])
            if where is not None:
                d["attn"] = {"kaibert_slice": where}
    text = json.dumps(params, separators=(",", ":"))
    return f"{html[:m.start()]}const params = {text}; {_EXPAND}{html[m.end():]}"


def _inline(bertviz_html: str) -> str:
    """Turn bertviz's CDN-loading HTML into HTML that needs nothing from the network."""
    html, n_cdn = _CDN_SCRIPT.subn("", compact(bertviz_html))
    html, n_config = _REQUIRE_CONFIG.subn("", html)
    html, n_call = _REQUIRE_CALL.subn("(function ($, d3) {", html)
    end = html.rfind("});")
    if not (n_cdn == n_config == n_call == 1) or end < 0:
        import bertviz

        raise RuntimeError(
            "kaibert.course.viz does not recognise the HTML of this bertviz version "
            f"({getattr(bertviz, '__version__', 'unknown')}); install the one the course pins: "
            "pip install bertviz==1.4.1"
        )
    html = html[:end] + "})(window.kaibertViz.jquery, window.kaibertViz.d3);" + html[end + 3 :]
    # The view's data (tokens) sits inside a <script>: a token "</script>" must not end it.
    start = html.index('<script type="text/javascript">') + len('<script type="text/javascript">')
    stop = html.rindex("</script>")
    html = html[:start] + re.sub(r"</(script)", r"<\\/\1", html[start:stop], flags=re.I) + html[stop:]
    # A wide view (many heads) scrolls sideways instead of spilling out of the page's column.
    return f'<div class="kaibert-attention-view" style="overflow-x: auto">\n{_library_loader()}{html}</div>\n'


def _layers(attention: Any) -> tuple[torch.Tensor, ...]:
    """Check the attention weights and return them as rounded (1, heads, T, T) float64 tensors."""
    if hasattr(attention, "attentions") and not isinstance(attention, (list, tuple)):
        attention = attention.attentions  # a model output was passed
    if attention is None:
        raise ValueError("No attention weights: run the model with output_attentions=True.")
    if isinstance(attention, torch.Tensor):
        if attention.dim() == 5:  # (layers, 1, heads, T, T), e.g. torch.stack(out.attentions)
            attention = tuple(attention)
        else:
            attention = (attention,)
    if not isinstance(attention, (list, tuple)) or len(attention) == 0:
        raise TypeError(
            "attention must be a tuple with one (1, heads, T, T) tensor per layer, "
            f"like out.attentions of kaibert.BertModel; got {type(attention).__name__}."
        )
    layers = []
    for i, a in enumerate(attention):
        if a is None:
            raise ValueError(f"Layer {i} has no attention weights: run the model with output_attentions=True.")
        a = torch.as_tensor(a).detach().to("cpu", torch.float64)
        if a.dim() == 3:  # (heads, T, T): one sentence without its batch axis
            a = a.unsqueeze(0)
        if a.dim() != 4 or a.size(-1) != a.size(-2):
            raise ValueError(
                f"Layer {i}: expected attention of shape (1, heads, T, T), got {tuple(a.shape)}."
            )
        if a.size(0) != 1:
            raise ValueError(
                f"Layer {i}: the view shows one sentence, but the batch holds {a.size(0)}. "
                "Pick one, e.g. [a[j : j + 1] for a in out.attentions], and trim its padding."
            )
        layers.append(torch.round(a, decimals=DECIMALS))
    shapes = {tuple(a.shape) for a in layers}
    if len(shapes) != 1:
        raise ValueError(f"All layers must have the same attention shape; got {sorted(shapes)}.")
    return tuple(layers)


def _tokens(tokens: Sequence[str], length: int) -> list[str]:
    if isinstance(tokens, str) or isinstance(tokens, torch.Tensor) or not all(isinstance(t, str) for t in tokens):
        raise TypeError(
            "tokens must be a list of strings, one per position, "
            "e.g. tokenizer.convert_ids_to_tokens(input_ids[0].tolist())."
        )
    tokens = list(tokens)
    if len(tokens) != length:
        raise ValueError(
            f"The attention covers {length} positions but {len(tokens)} tokens were given; "
            "pass the tokens of exactly the sentence the model saw (padding removed)."
        )
    return tokens


def _sentence_b_start(value: int | None, length: int) -> int | None:
    if value is not None and not 0 < int(value) < length:
        raise ValueError(f"sentence_b_start={value} must lie between 1 and {length - 1}: the index of the first token of the second segment.")
    return None if value is None else int(value)


def head_view(
    attention: Any,
    tokens: Sequence[str],
    sentence_b_start: int | None = None,
    layer: int | None = None,
    heads: Sequence[int] | None = None,
    include_layers: Sequence[int] | None = None,
) -> AttentionView:
    """Every head of one layer: lines from each token to the tokens it attends to.

    attention: one (1, heads, T, T) tensor per layer (``out.attentions``); tokens: T strings.
    sentence_b_start: index of the first token of the second segment, for sentence pairs.
    """
    from bertviz import head_view as bertviz_head_view

    layers = _layers(attention)
    length = layers[0].size(-1)
    view = bertviz_head_view(
        attention=layers,
        tokens=_tokens(tokens, length),
        sentence_b_start=_sentence_b_start(sentence_b_start, length),
        layer=layer,
        heads=list(heads) if heads is not None else None,
        include_layers=list(include_layers) if include_layers is not None else None,
        html_action="return",
    )
    return AttentionView(_inline(view.data))


def model_view(
    attention: Any,
    tokens: Sequence[str],
    sentence_b_start: int | None = None,
    include_layers: Sequence[int] | None = None,
    include_heads: Sequence[int] | None = None,
    display_mode: str = "light",
) -> AttentionView:
    """A grid of thumbnails, one per layer (rows) and head (columns); click one to enlarge.

    attention: one (1, heads, T, T) tensor per layer (``out.attentions``); tokens: T strings.
    """
    from bertviz import model_view as bertviz_model_view

    if display_mode not in ("light", "dark"):
        raise ValueError(f"display_mode must be 'light' or 'dark', got {display_mode!r}.")
    layers = _layers(attention)
    length = layers[0].size(-1)
    view = bertviz_model_view(
        attention=layers,
        tokens=_tokens(tokens, length),
        sentence_b_start=_sentence_b_start(sentence_b_start, length),
        include_layers=list(include_layers) if include_layers is not None else None,
        include_heads=list(include_heads) if include_heads is not None else None,
        display_mode=display_mode,
        html_action="return",
    )
    return AttentionView(_inline(view.data))
