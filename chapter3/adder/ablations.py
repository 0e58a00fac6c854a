"""The variants of the fast recipe that the book's frontier page compares (``make bench``
trains them; the smallest that gets every sum right is the reference model ``small``)."""

from __future__ import annotations

from dataclasses import replace

from chapter3.adder.training import FAST_RECIPE, Recipe
from chapter3.gpt import GPTConfig


def ablation_recipes(quick: bool = False) -> dict[str, Recipe]:
    """The variants of the fast recipe that the frontier page compares (name -> recipe)."""
    base = FAST_RECIPE
    if quick:
        tiny = GPTConfig(d_model=16, num_heads=2, num_layers=1, d_ff=32, dropout=0.0)
        return {
            "tiny": replace(base, name="tiny", model=tiny, epochs=1, extra_epochs=0),
            "tiny, answer reversed": replace(
                base,
                name="tiny-reversed",
                model=tiny,
                epochs=1,
                extra_epochs=0,
                reverse_answer=True,
            ),
        }
    model = base.model

    def variant(name, budget=2, **changes):
        config = replace(model, **changes.pop("model", {}))
        return replace(
            base, name=name, model=config, epochs=base.epochs * budget, **changes
        )

    shape = f"{model.num_layers} layers, width {model.d_model}, {model.num_heads} heads"
    return {
        f"fast recipe ({shape})": variant("fast", budget=1),
        "answer reversed (ones digit first)": variant(
            "reversed", budget=1, reverse_answer=True
        ),
        "1 layer": variant("1-layer", model={"num_layers": 1}),
        "1 layer, answer reversed": variant(
            "1-layer-reversed", model={"num_layers": 1}, reverse_answer=True
        ),
        "width 64, 4 heads": variant(
            "width-64-4-heads", model={"d_model": 64, "num_heads": 4}
        ),
        "4 heads": variant("4-heads", model={"num_heads": 4}),
        "2 heads": variant("2-heads", model={"num_heads": 2}),
        "1 head": variant("1-head", model={"num_heads": 1}),
        "width 32": variant(
            "width-32", model={"d_model": 32, "d_ff": 64, "num_heads": 4}
        ),
        "width 32, 2 heads": variant(
            "width-32-2-heads", model={"d_model": 32, "d_ff": 64, "num_heads": 2}
        ),
        "width 32, 1 layer": variant(
            "width-32-1-layer",
            model={"d_model": 32, "d_ff": 64, "num_heads": 4, "num_layers": 1},
        ),
        "width 32, 1 layer, answer reversed": variant(
            "width-32-1-layer-reversed",
            model={"d_model": 32, "d_ff": 64, "num_heads": 4, "num_layers": 1},
            reverse_answer=True,
        ),
        "width 16": variant(
            "width-16", model={"d_model": 16, "d_ff": 32, "num_heads": 4}
        ),
        "width 16, 2 heads": variant(
            "width-16-2-heads", model={"d_model": 16, "d_ff": 32, "num_heads": 2}
        ),
    }


__all__ = ["ablation_recipes"]
