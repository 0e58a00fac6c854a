"""Attention, traced: the live page's trace of a weight, head switches and guided path.

Directives for the page that has ``{adder-live}`` and ``{adder-atlas}``:

- ``{adder-trace}``: clicking a cell of a heatmap (or choosing it with the form) shows the
  computation of that weight with the numbers ``gpt.js`` used (``trace.js``);
- ``{adder-heads}``: a switch per head; the switched-off heads' context vectors are zeroed
  (:func:`chapter3.adder.heads.head_zeroed`), the question is answered again and all 10,000
  sums are re-scored in a Web Worker (``ablate.js``), drawn as an atlas of what broke;
- ``{adder-sums}``: the reader's own set of sums, scored with and without those heads;
- ``{adder-guide}``: "Follow the carry", steps whose sentences are filled in and checked
  here, on the reference model, when the page is built (:func:`guide`). A sentence that no
  longer holds stops the build with a message that says which, like the gallery's claims.

The guide's facts go to ``_static/live/adder-guide.js`` (``globalThis.ADDER_GUIDE``).
"""

from __future__ import annotations

from pathlib import Path

import live_adder
from docutils.parsers.rst import Directive
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

GUIDE_FILE = "adder-guide.js"
QUESTION = "55+45="
SCRIPTS = [
    "live/gpt.js",
    f"live/{live_adder.WEIGHT_FILE}",
    f"live/{live_adder.ATLAS_FILE}",
    "live/adder_widget.js",
    "live/ablate.js",
    f"live/{GUIDE_FILE}",
    "live/trace.js",
]


def _weights(model, question: str):
    """Every layer's (H, L, L) attention weights for ``question`` and its right answer."""
    from chapter3.adder.vocab import encode_equation, parse_question
    from chapter3.gpt import attention_maps

    a, b = (int(x) for x in parse_question(question)[:-1].split("+"))
    tokens = encode_equation(f"{a:02d}+{b:02d}={a + b:03d}")[None, :-1]  # (1, 10)
    _, maps = attention_maps(model.eval(), tokens)
    return [m[0].double() for m in maps]  # per layer (H, L, L)


def answer(model, question: str) -> str:
    """What ``model`` writes after ``question`` (greedy, up to ``<EOS>``), special tokens
    left out, as ``gpt.js``'s ``whatIs`` shows it; unlike ``what_is`` it never refuses an
    answer that is not three digits (a model with heads switched off may write one)."""
    from chapter3.adder.decoding import greedy_decode
    from chapter3.adder.vocab import (
        BOS,
        EOS,
        PAD,
        decode,
        encode_equation,
        parse_question,
    )

    prompt = encode_equation(parse_question(question) + "000")[:7]  # <BOS> a + b =
    out = greedy_decode(model.eval(), prompt[None, :], max_new_tokens=4)[0, 7:].tolist()
    return decode([t for t in out if t not in (BOS, EOS, PAD)])


def guide(model) -> dict:
    """The facts of "Follow the carry" on ``model``, and whether each claim holds.

    Positions of ``<BOS> a1 a0 + b1 b0 = c2 c1 c0``: the hundreds digit ``c2`` is chosen at
    the row of ``=`` (6), the ones digits are ``a0`` (2) and ``b0`` (5). Returns a JSON-able
    dict; ``claims`` maps each sentence the page prints to whether it holds.
    """
    from chapter3.adder.carries import carry_class
    from chapter3.adder.heads import heads_zeroed, wrong_with_heads_zeroed

    eq, a0, b0 = 6, 2, 5
    maps = _weights(model, QUESTION)
    num_heads = maps[0].size(0)
    ones0 = maps[0][:, eq, [a0, b0]].sum(-1)  # (H,): layer 1's '=' row on a0, b0
    ones_head = int(ones0.argmax())
    ones1 = maps[1][:, eq, [a0, b0]].sum(-1)  # (H,): layer 2's '=' row on a0, b0
    carry_head = int(ones1.argmax())
    carry_key = [a0, b0][int(maps[1][carry_head, eq, [a0, b0]].argmax())]
    b0_row = maps[0][:, b0, [a0, b0]].sum(-1)  # (H,): layer 1's b0 row on a0, b0
    right = answer(model, QUESTION)
    with heads_zeroed(model, [(1, carry_head)]):
        answer_off = answer(model, QUESTION)
    broken = wrong_with_heads_zeroed(model, [(1, carry_head)])
    breakers = []
    for layer in range(len(model.decoder_blocks)):
        for head in range(num_heads):
            with heads_zeroed(model, [(layer, head)]):
                if answer(model, QUESTION) != right:
                    breakers.append([layer, head])
    facts = {
        "question": QUESTION,
        "answer": right,
        "carry_class": carry_class(55, 45),
        "ones_head": ones_head,
        "ones_a0": float(maps[0][ones_head, eq, a0]),
        "ones_b0": float(maps[0][ones_head, eq, b0]),
        "carry_head": carry_head,
        "carry_key": carry_key,
        "carry_weight": float(maps[1][carry_head, eq, carry_key]),
        "b0_readers": int((b0_row > 0.5).sum()),
        "num_heads": num_heads,
        "answer_off": answer_off,
        "broken_off": len(broken),
        "breakers": breakers,
    }
    facts["claims"] = {
        f"the model answers {QUESTION} with 100": right == "100",
        f"{QUESTION} is a cascade: its hundreds digit depends on its ones digits": (
            facts["carry_class"] == "cascade"
        ),
        "a layer-1 head's '=' row puts more than half its weight on a0 and b0": float(
            ones0.max()
        )
        > 0.5,
        "that is the only layer-1 head whose '=' row gives a0 and b0 more than 0.3": int(
            (ones0 > 0.3).sum()
        )
        == 1,
        "a layer-2 head's '=' row puts more than 0.9 on one ones position": facts[
            "carry_weight"
        ]
        > 0.9,
        "in layer 1, most heads' b0 row give a0 and b0 more than half their weight": facts[
            "b0_readers"
        ]
        > num_heads / 2,
        "with that layer-2 head off the model still answers 100": answer_off == right,
        "with that layer-2 head off, some sums break": len(broken) > 0,
        "switching off some single head changes the answer to 55+45=": len(breakers)
        > 0,
        "the layer-2 carry reader is not among the heads that change it": (
            [1, carry_head] not in breakers
        ),
    }
    return facts


def check_guide(facts: dict) -> None:
    """Raise ``ExtensionError`` naming every claim of the guide that does not hold."""
    failed = [claim for claim, holds in facts["claims"].items() if not holds]
    if failed:
        raise ExtensionError(
            "'Follow the carry' (adder_live) no longer describes the reference model: "
            + "; ".join(failed)
            + ". Look at the live page and rewrite the guide (docs/_ext/adder_trace.py)."
        )


TRACE_HTML = """
<div class="live live-trace" data-live="trace" id="adder-trace">
  <form class="live-row live-trace-form" autocomplete="off" novalidate
        aria-describedby="trace-error">
    <label>new token <input type="number" name="step" min="1" value="1"></label>
    <label>layer <input type="number" name="layer" min="1" value="1"></label>
    <label>head <input type="number" name="head" min="1" value="1"></label>
    <label>row (query position) <input type="number" name="row" min="0" value="6"></label>
    <label>column (key position) <input type="number" name="col" min="0" value="5"></label>
    <button type="submit">Trace</button>
  </form>
  <p id="trace-error" class="live-error" role="alert" hidden></p>
  <div class="live-trace-out" aria-live="polite" tabindex="-1"></div>
</div>
"""

HEADS_HTML = """
<div class="live live-heads" data-live="heads" id="adder-heads">
  <fieldset class="live-head-switches"><legend>Heads switched off (context vector
  zeroed)</legend></fieldset>
  <p class="live-heads-answer" aria-live="polite"></p>
  <progress class="live-progress" max="100" value="0" aria-label="Sums re-scored"></progress>
  <p class="live-heads-summary" aria-live="polite"></p>
  <canvas id="ablation-atlas" width="500" height="500" tabindex="0" role="img"
          aria-label="The 10,000 sums a+b with the chosen heads off: a down the rows, b
          across the columns; a coloured cell is a sum that broke"></canvas>
  <p class="live-heads-info" aria-live="polite"></p>
</div>
"""

SUMS_HTML = """
<div class="live live-sums" data-live="sums" id="adder-sums">
  <form class="live-sums-form" autocomplete="off">
    <label for="sums-text">Sums, one per line or separated by spaces or commas (up to
    10,000), such as <code>15+57=</code></label>
    <textarea id="sums-text" rows="4" spellcheck="false"
              aria-describedby="sums-error"></textarea>
    <div class="live-row">
      <label for="sums-class">or every sum of a carry class</label>
      <select id="sums-class"><option value="">(pasted sums)</option></select>
      <button type="submit">Score</button>
    </div>
  </form>
  <p id="sums-error" class="live-error" role="alert" hidden></p>
  <p class="live-sums-result" aria-live="polite"></p>
</div>
"""

GUIDE_HTML = """
<div class="live live-guide" data-live="guide" id="adder-guide">
  <ol class="live-guide-steps"></ol>
  <div class="live-row">
    <button type="button" data-go="-1">Back</button>
    <button type="button" data-go="1">Next step</button>
  </div>
</div>
"""


class _Part(Directive):
    html = ""

    def run(self):
        live_adder._remember(self.state.document.settings.env, SCRIPTS)
        node = live_adder.live_widget(html=self.html, scripts=SCRIPTS)
        node["trace"] = True
        return [node]


class AdderTrace(_Part):
    html = TRACE_HTML


class AdderHeads(_Part):
    html = HEADS_HTML


class AdderSums(_Part):
    html = SUMS_HTML


class AdderGuide(_Part):
    html = GUIDE_HTML


def _css(app, pagename, templatename, context, doctree):
    if doctree is not None and any(
        n.get("trace") for n in doctree.findall(live_adder.live_widget)
    ):
        app.add_css_file("live/trace.css")


def _export(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    scripts = set().union(*getattr(app.env, "live_scripts", {}).values())
    if f"live/{GUIDE_FILE}" not in scripts:
        return
    from chapter3.adder.reference import reference_adder

    model, _ = reference_adder("fast")
    facts = guide(model.eval())
    check_guide(facts)
    out = Path(app.outdir) / "_static" / "live" / GUIDE_FILE
    live_adder.write_global(out, "ADDER_GUIDE", facts)
    logger.info(
        f"adder_trace: {len(facts['claims'])} claims of the guide hold; wrote {out.name}"
    )


def setup(app):
    app.setup_extension("live_adder")
    app.add_directive("adder-trace", AdderTrace)
    app.add_directive("adder-heads", AdderHeads)
    app.add_directive("adder-sums", AdderSums)
    app.add_directive("adder-guide", AdderGuide)
    app.connect("html-page-context", _css)
    app.connect("build-finished", _export)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
