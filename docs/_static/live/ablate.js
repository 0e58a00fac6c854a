/* Switch heads off: the adder's answers to all 10,000 sums a+b= with some heads ablated.
 * An ablated head's slice of the context vector is zeroed before out_proj mixes the heads
 * (gpt.js's `ablate` option; chapter3.adder.heads.head_zeroed in PyTorch), so the head's
 * weights are still computed but nothing it read reaches the rest of the model.
 * scoreRows runs in a Web Worker (built from a Blob of this file's and gpt.js's source, so
 * that it works from file:// too) or, where no worker starts, in chunks on the page.
 * No dependencies; in Node.js it is require()d by tests/js/check_trace.js. */
(function (root, factory) {
  const api = factory();
  api.factory = factory;
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.ABLATE = api;
})(this, function () {
  "use strict";

  // The sums a+b= for a in [aFrom, aTo): right[100 a + b] = 1 when the model writes the
  // three digits of a + b and then <EOS> (chapter3.adder.decoding.evaluate's exact match),
  // else 0. Greedy decoding stops at the first wrong token: the sum is wrong whatever
  // follows. The prompt <BOS> a1 a0 + b1 b0 = shares its first tokens with other sums:
  // their keys and values are computed once and the state copied. Every step is GPT.step,
  // as in GPT.whatIs, so the tokens are the same; the steps before "=" skip what only the
  // logits need (options.logits false), and the heads are checked once, by GPT.prepare.
  function scoreRows(GPT, model, ablate, aFrom, aTo, right) {
    const v = model.vocab;
    const heads = ablate && ablate.length ? ablate : undefined;
    const answer = GPT.prepare(model, { ablate: heads }); // its logits pick a token
    const feed = GPT.prepare(model, { ablate: heads, logits: false }); // a prompt token
    const digit = [..."0123456789"].map((c) => v[c]);
    const expected = new Array(4);
    for (let a = aFrom; a < aTo; a++) {
      const first = GPT.newState(model, { maps: false });
      for (const id of [v["<BOS>"], digit[(a / 10) | 0], digit[a % 10], v["+"]]) {
        GPT.step(model, first, id, feed);
      }
      for (let b1 = 0; b1 < 10; b1++) {
        const tens = GPT.copyState(first);
        GPT.step(model, tens, digit[b1], feed);
        for (let b0 = 0; b0 < 10; b0++) {
          const b = b1 * 10 + b0;
          const c = a + b;
          expected[0] = digit[(c / 100) | 0];
          expected[1] = digit[((c / 10) | 0) % 10];
          expected[2] = digit[c % 10];
          expected[3] = v["<EOS>"];
          const state = GPT.copyState(tens);
          GPT.step(model, state, digit[b0], feed);
          let out = GPT.step(model, state, v["="], answer);
          let ok = 1;
          for (let k = 0; k < expected.length; k++) {
            const token = GPT.argmax(out.probs); // as GPT.greedyDecode
            if (token !== expected[k]) {
              ok = 0;
              break;
            }
            if (k < expected.length - 1) out = GPT.step(model, state, token, answer);
          }
          right[a * 100 + b] = ok;
        }
      }
    }
    return right;
  }

  // Which of the sums (indices 100 a + b) are wrong.
  function wrongOf(right) {
    const wrong = [];
    for (let i = 0; i < right.length; i++) if (!right[i]) wrong.push(i);
    return wrong;
  }

  // "0.3, 1.5" / "L1H4 L2H6" (1-based, as the page shows them) -> ["0.2", "1.4"]; throws a
  // message naming the bad part.
  function parseHeads(text, numLayers, numHeads) {
    const heads = [];
    for (const part of text.split(/[\s,;]+/).filter(Boolean)) {
      const m = /^L?([0-9]+)[.H]([0-9]+)$/i.exec(part);
      const [l, h] = m ? [Number(m[1]) - 1, Number(m[2]) - 1] : [-1, -1];
      if (!(l >= 0 && l < numLayers && h >= 0 && h < numHeads)) {
        throw new Error(
          `${JSON.stringify(part)} is not a head: write layer.head, layer from 1 to ` +
            `${numLayers} and head from 1 to ${numHeads} (e.g. 1.4)`,
        );
      }
      if (!heads.includes(`${l}.${h}`)) heads.push(`${l}.${h}`);
    }
    return heads;
  }

  return { scoreRows, wrongOf, parseHeads };
});
