"""The reference adder, live in the reader's browser, and the mask playground.

At the end of every HTML build that has a page with a live widget, the committed reference
model of the fast recipe (:func:`chapter3.adder.reference.reference_adder`, the same weights on
every machine, so every number the page shows is too) is exported to
``_static/live/adder-model.js``: its config, vocabulary and float32 weights (base64), assigned to
``globalThis.ADDER_MODEL`` so that a plain ``<script src>`` loads it from ``http://`` and from
``file://`` alike (a browser refuses ``fetch`` of a local JSON file). The atlas, the model's
greedy answer and confidence for all 10,000 sums, goes to ``_static/live/adder-atlas.js``.

The JavaScript that reads them is in ``docs/_static/live/``: ``gpt.js`` (the decoder's forward
pass and greedy decoding), ``adder_widget.js`` (the question box, heatmaps and atlas) and
``mask_playground.js``. ``tests/test_js_adder.py`` runs ``gpt.js`` in Node.js on the same export
and compares it with PyTorch.

Directives: ``{adder-live}`` (``:lazy:``: the weights load at the first question),
``{adder-atlas}`` (on a page with ``{adder-live}``) and
``{mask-playground}``; the role ``{js-lines}`gpt.js``` prints the number of lines of a file of
``docs/_static/live/``. Each page loads only the scripts of its own widgets.
"""

from __future__ import annotations

import base64
import inspect
import json
import math
import sys
from array import array
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive, directives
from sphinx.util import logging

logger = logging.getLogger(__name__)

LIVE_DIR = Path(__file__).resolve().parents[1] / "_static" / "live"
FORMAT = "chapter3-adder-js/1"
WEIGHT_FILE = "adder-model.js"
ATLAS_FILE = "adder-atlas.js"
# An atlas byte is round(32 * -log10(1 - p)), p the probability of the model's answer.
CONFIDENCE_SCALE = 32


# --- export ---------------------------------------------------------------------------------
def export_model(model) -> dict:
    """``model`` (a :class:`chapter3.gpt.GPTDecoder`) as a JSON-able dict for ``gpt.js``.

    Every parameter goes into one little-endian float32 buffer (base64); ``tensors`` maps each
    ``state_dict`` name to ``[offset, shape]`` in that buffer. Buffers (the causal mask) are left
    out: ``gpt.js`` builds the mask from positions.
    """
    import torch

    from chapter3.adder.vocab import TOKEN_TO_INDEX, parse_question

    norms = [m for m in model.modules() if isinstance(m, torch.nn.LayerNorm)]
    if len({m.eps for m in norms}) != 1:
        raise ValueError("gpt.js assumes one eps for every LayerNorm")
    tensors, weights, offset = {}, array("f"), 0
    for name, param in model.named_parameters():
        values = param.detach().cpu().to(torch.float32).flatten().tolist()
        tensors[name] = [offset, list(param.shape)]
        weights.extend(values)
        offset += len(values)
    if sys.byteorder == "big":
        weights.byteswap()  # gpt.js reads little-endian float32
    return {
        "format": FORMAT,
        "config": model.config.to_dict(),
        "vocab": dict(TOKEN_TO_INDEX),
        "num_digits": inspect.signature(parse_question)
        .parameters["num_digits"]
        .default,
        "layer_norm_eps": norms[0].eps,
        "num_parameters": offset,
        "tensors": tensors,
        "weights": base64.b64encode(weights.tobytes()).decode("ascii"),
    }


def atlas(model) -> dict:
    """The model's greedy answer to all 10,000 sums ``a+b=`` (a, b in 0..99), for the atlas.

    ``confidence`` is one byte per sum (base64), ``round(32 * -log10(1 - p))`` clipped to 255,
    where ``p`` is the probability of the whole answer: the product, over the greedy steps up to
    ``<EOS>``, of the chosen token's probability. ``wrong`` maps the index ``100 * a + b`` of
    every wrong answer to what the model wrote; ``carry`` is the carry class of each sum (an
    index into ``classes``), from :func:`chapter3.adder.carries.carry_class`.
    """
    import torch

    from chapter3.adder.carries import CARRY_CLASSES, carry_class
    from chapter3.adder.decoding import greedy_decode
    from chapter3.adder.vocab import EOS, PAD, decode, encode_equation
    from chapter3.masks import padding_attend_mask

    sums = [(a, b) for a in range(100) for b in range(100)]
    equations = [f"{a:02d}+{b:02d}={a + b:03d}" for a, b in sums]
    full = torch.stack([encode_equation(e) for e in equations])  # (N, 11)
    prompts = full[:, :7]  # <BOS>ab+cd=
    answer_len = full.size(1) - prompts.size(1)
    out = greedy_decode(model, prompts, max_new_tokens=answer_len)  # (N, 7 + k)
    with torch.no_grad():
        seen = out[:, :-1]  # every token the model was fed
        logits = model(seen, padding_attend_mask(seen, PAD))
        log_probs = torch.log_softmax(logits.double(), dim=-1)[:, prompts.size(1) - 1 :]
    chosen = out[:, prompts.size(1) :]  # (N, k)
    step_log_p = log_probs.gather(-1, chosen[..., None])[..., 0]  # (N, k)
    # steps after <EOS> (the row is finished, it gets <pad>) do not count
    done_before = torch.cumsum((chosen == EOS).long(), dim=1) - (chosen == EOS).long()
    step_log_p = step_log_p.masked_fill(done_before > 0, 0.0)
    log_p = step_log_p.sum(dim=1)  # log of the answer's probability
    doubt = -torch.expm1(log_p)  # 1 - p, accurate near p = 1
    confidence = bytearray()
    for u in doubt.tolist():
        decades = 255 / CONFIDENCE_SCALE if u <= 0 else -math.log10(u)
        confidence.append(max(0, min(255, round(CONFIDENCE_SCALE * decades))))
    wrong = {}
    for i, row in enumerate(out.tolist()):
        if row[prompts.size(1) :] != full[i, prompts.size(1) :].tolist():
            wrong[str(i)] = decode(row)[len("ab+cd=") :] or "(nothing)"
    return {
        "classes": list(CARRY_CLASSES),
        "carry": "".join(str(CARRY_CLASSES.index(carry_class(a, b))) for a, b in sums),
        "confidence": base64.b64encode(bytes(confidence)).decode("ascii"),
        "confidence_scale": CONFIDENCE_SCALE,
        "wrong": wrong,
    }


def write_global(path: Path, name: str, value: dict) -> Path:
    """Write ``globalThis.<name> = <value as JSON>;`` to ``path`` (a script, not data)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(value, separators=(",", ":"), sort_keys=True)
    path.write_text(f"globalThis.{name} = {text};\n", encoding="utf-8")
    return path


def export_all(outdir: Path, with_atlas: bool = True, model=None) -> list[Path]:
    """Export the reference adder (and its atlas) to ``outdir``; return the files written."""
    if model is None:
        from chapter3.adder.reference import reference_adder

        model, _ = reference_adder("fast")
    model.eval()
    written = [write_global(outdir / WEIGHT_FILE, "ADDER_MODEL", export_model(model))]
    if with_atlas:
        written.append(write_global(outdir / ATLAS_FILE, "ADDER_ATLAS", atlas(model)))
    return written


# --- directives -----------------------------------------------------------------------------
class live_widget(nodes.General, nodes.Element):
    """Raw HTML of a live widget, and the scripts its page needs (``scripts``)."""


def _visit_live(self, node):
    self.body.append(node["html"])
    raise nodes.SkipNode


def _skip(self, node):
    raise nodes.SkipNode


ADDER_HTML = """
<div class="live live-adder" data-live="adder">
  <form class="live-row" autocomplete="off">
    <label for="adder-question">Question</label>
    <input id="adder-question" name="q" type="text" value="15+57=" spellcheck="false"
           autocapitalize="off" aria-describedby="adder-error">
    <button type="submit">Ask</button>
    <span class="live-answer-line">answer <output id="adder-answer" for="adder-question"
          aria-live="polite"></output></span>
  </form>
  <p id="adder-error" class="live-error" role="alert" hidden></p>
  <p class="live-status">This widget needs JavaScript: it runs the adder in your browser.</p>
  <div class="live-steps" hidden></div>
  <div class="live-maps" hidden></div>
</div>
"""

ATLAS_HTML = """
<div class="live live-atlas" data-live="atlas">
  <div class="live-row live-atlas-controls" role="group" aria-label="Highlight a carry class">
  </div>
  <canvas id="adder-atlas" width="500" height="500" tabindex="0"
          aria-label="All 10,000 sums a+b: a down the rows, b across the columns"></canvas>
  <p class="live-atlas-info" aria-live="polite"></p>
  <p class="live-atlas-summary"></p>
</div>
"""

PLAYGROUND_HTML = """
<div class="live live-masks" data-live="masks" id="mask-playground">
  <p class="live-status">This playground needs JavaScript.</p>
</div>
"""

ADDER_SCRIPTS = ["live/gpt.js", f"live/{WEIGHT_FILE}", "live/adder_widget.js"]


class AdderLive(Directive):
    """The question box, its answer, heatmaps and top-3 next-token probabilities.

    With ``:lazy:`` the page does not load the weights: the widget loads them at its first
    question (for a page that is not about the widget, to keep its weight down).
    """

    option_spec = {"lazy": directives.flag}

    def run(self):
        _remember(self.state.document.settings.env, ADDER_SCRIPTS)
        if "lazy" not in self.options:
            return [live_widget(html=ADDER_HTML, scripts=ADDER_SCRIPTS)]
        html = ADDER_HTML.replace('data-live="adder"', 'data-live="adder" data-lazy')
        scripts = [s for s in ADDER_SCRIPTS if not s.endswith(WEIGHT_FILE)]
        return [live_widget(html=html, scripts=scripts)]


class AdderAtlas(Directive):
    """The atlas of all 10,000 sums (on a page that also has ``{adder-live}``)."""

    def run(self):
        scripts = [*ADDER_SCRIPTS[:2], f"live/{ATLAS_FILE}", ADDER_SCRIPTS[2]]
        _remember(self.state.document.settings.env, scripts)
        return [live_widget(html=ATLAS_HTML, scripts=scripts)]


class MaskPlayground(Directive):
    """The mask playground of the masks page."""

    def run(self):
        scripts = ["live/mask_playground.js"]
        _remember(self.state.document.settings.env, scripts)
        return [live_widget(html=PLAYGROUND_HTML, scripts=scripts)]


def _remember(env, scripts) -> None:
    """Record which scripts each document needs (kept in the environment across builds)."""
    if not hasattr(env, "live_scripts"):
        env.live_scripts = {}
    env.live_scripts.setdefault(env.docname, set()).update(scripts)


def js_lines_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``{js-lines}`gpt.js```: the number of lines of ``docs/_static/live/gpt.js``."""
    path = LIVE_DIR / text.strip()
    if not path.is_file():
        msg = inliner.reporter.error(f"js-lines: no file {path}", line=lineno)
        return [inliner.problematic(rawtext, rawtext, msg)], [msg]
    count = len(path.read_text(encoding="utf-8").splitlines())
    return [nodes.Text(f"{count:,}")], []


# --- wiring ---------------------------------------------------------------------------------
def _page_assets(app, pagename, templatename, context, doctree):
    if doctree is None:
        return
    scripts = []
    for node in doctree.findall(live_widget):
        scripts += [s for s in node["scripts"] if s not in scripts]
    if not scripts:
        return
    app.add_css_file("live/live.css")
    for script in scripts:
        app.add_js_file(script)


def _purge(app, env, docname):
    getattr(env, "live_scripts", {}).pop(docname, None)


def _merge(app, env, docnames, other):
    if not hasattr(env, "live_scripts"):
        env.live_scripts = {}
    for docname in docnames:
        if docname in getattr(other, "live_scripts", {}):
            env.live_scripts[docname] = other.live_scripts[docname]


def _export(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    scripts = set().union(*getattr(app.env, "live_scripts", {}).values())
    if f"live/{WEIGHT_FILE}" not in scripts:
        return  # no page of this build runs the adder
    with_atlas = f"live/{ATLAS_FILE}" in scripts
    for path in export_all(Path(app.outdir) / "_static" / "live", with_atlas):
        logger.info(f"live_adder: wrote {path.name} ({path.stat().st_size:,} bytes)")


def setup(app):
    app.add_node(
        live_widget,
        html=(_visit_live, None),
        latex=(_skip, None),
        text=(_skip, None),
        man=(_skip, None),
        texinfo=(_skip, None),
    )
    app.add_directive("adder-live", AdderLive)
    app.add_directive("adder-atlas", AdderAtlas)
    app.add_directive("mask-playground", MaskPlayground)
    app.add_role("js-lines", js_lines_role)
    app.connect("html-page-context", _page_assets)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("build-finished", _export)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
