/* The mask playground of the masks page: one (L, L) attention mask, written in each of the
 * four conventions that PyTorch code meets, and the softmax weights that each route gives.
 * compute() is pure and runs in Node.js too: tests/test_js_masks.py checks its presets
 * against PyTorch. No dependencies. */
(function (root, factory) {
  const api = factory();
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.MaskPlayground = api;
})(this, function () {
  "use strict";

  const CONVENTIONS = {
    attend: {
      label: "bool, True = may attend (this book, scaled_dot_product_attention)",
      code: "masked_softmax(scores, attend)  # or F.scaled_dot_product_attention(q, k, v, attn_mask=attend)",
      rows:
        "A row with no visible key is all zeros: masked_softmax defines it so, and " +
        "scaled_dot_product_attention returns zeros for it too.",
    },
    hide: {
      label: "bool, True = hide (Tensor.masked_fill)",
      code: "scores.masked_fill(hide, float('-inf')).softmax(dim=-1)  # hide = ~attend",
      rows:
        "A row with every key hidden is softmax(−∞, …, −∞) = 0/0: NaN, and the NaN " +
        "spreads to every later layer.",
    },
    ignore: {
      label: "bool, True = ignore (nn.MultiheadAttention's attn_mask)",
      code: "nn.MultiheadAttention(...)(x, x, x, attn_mask=~attend)  # weights: need_weights=True",
      rows:
        "With need_weights=True the module runs its own softmax and returns NaN weights " +
        "(and a NaN output) for a row that ignores every key; with need_weights=False it " +
        "takes the scaled_dot_product_attention path, whose output row is zero instead.",
    },
    additive: {
      label: "float, 0 = attend, −∞ = hide, added to the scores",
      code: "(scores + mask).softmax(dim=-1)  # mask = zeros(L, L).masked_fill(~attend, -inf)",
      rows:
        "Adding −∞ to every score of a row gives NaN after a plain softmax; passed as " +
        "attn_mask to scaled_dot_product_attention, the same float mask gives a zero row.",
    },
  };

  const SCORES = {
    zeros: { label: "all zero (as on this page)", at: () => 0 },
    ramp: { label: "1, 2, 3, … (key position + 1)", at: (i, j) => j + 1 },
  };

  const PRESETS = [
    {
      name: "Padding on queries and keys: NaN rows",
      state: {
        length: 5,
        padded: [0, 0, 0, 1, 1],
        causal: true,
        padQueries: true,
        scores: "zeros",
        convention: "hide",
      },
    },
    {
      name: "Key padding only (combine_attend_masks)",
      state: {
        length: 5,
        padded: [0, 0, 0, 1, 1],
        causal: true,
        padQueries: false,
        scores: "zeros",
        convention: "attend",
      },
    },
    {
      name: "Why −∞: softmax([1, 2, −∞])",
      state: {
        length: 3,
        padded: [0, 0, 1],
        causal: false,
        padQueries: false,
        scores: "ramp",
        convention: "additive",
      },
    },
    {
      name: "to_hide_mask(causal_attend_mask(3))",
      state: {
        length: 3,
        padded: [0, 0, 0],
        causal: true,
        padQueries: false,
        scores: "zeros",
        convention: "hide",
      },
    },
    {
      name: "Left padding (exercise 1): nn.MultiheadAttention's NaN",
      state: {
        length: 5,
        padded: [1, 1, 0, 0, 0],
        causal: true,
        padQueries: false,
        scores: "zeros",
        convention: "ignore",
      },
    },
  ];

  function softmax(row) {
    // torch.softmax: exp(s - max) / sum; a row of only -inf gives NaN (0/0)
    const max = Math.max(...row);
    const e = row.map((s) => Math.exp(s - max));
    const sum = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / sum);
  }

  // state: {length, padded[], causal, padQueries, scores, convention, flips: ["i,j", ...]}
  function compute(state) {
    const L = state.length;
    const padded = (k) => Boolean(state.padded[k]);
    const flips = new Set(state.flips || []);
    const range = [...Array(L).keys()];
    const attend = range.map((i) =>
      range.map((j) => {
        const may =
          (!state.causal || j <= i) && !padded(j) && !(state.padQueries && padded(i));
        return flips.has(`${i},${j}`) ? !may : may; // a cell the reader toggled
      }),
    );
    const scores = range.map((i) => range.map((j) => SCORES[state.scores].at(i, j)));
    const convention = state.convention;
    const mask = attend.map((row) =>
      row.map((a) => {
        if (convention === "attend") return a;
        if (convention === "additive") return a ? 0 : -Infinity;
        return !a; // masked_fill and nn.MultiheadAttention: True = hide / ignore
      }),
    );
    const weights = scores.map((row, i) => {
      if (convention === "attend" && !attend[i].some(Boolean)) return row.map(() => 0);
      return softmax(row.map((s, j) => (attend[i][j] ? s : -Infinity)));
    });
    const fullyMasked = range.filter((i) => !attend[i].some(Boolean));
    return {
      attend,
      scores,
      mask,
      weights,
      fullyMasked,
      convention: CONVENTIONS[convention],
    };
  }

  // --- the page ------------------------------------------------------------------------------
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (v !== false) node.setAttribute(k, v === true ? "" : v);
    }
    node.append(...children);
    return node;
  }

  const show = (x) =>
    typeof x === "boolean"
      ? x
        ? "T"
        : "F"
      : Number.isNaN(x)
        ? "nan"
        : x === -Infinity
          ? "−∞"
          : Number.isInteger(x)
            ? String(x)
            : x.toFixed(4);
  const weight = (x) => (Number.isNaN(x) ? "nan" : x.toFixed(4)); // as torch prints them

  function matrix(id, caption, values, cell) {
    const L = values.length;
    const head = el(
      "tr",
      {},
      el("th", { text: "q\\k" }),
      ...values.map((_, j) => el("th", { text: j })),
    );
    return el(
      "div",
      { class: "live-matrix-box" },
      el(
        "table",
        { class: "live-matrix", id },
        el("caption", { text: caption }),
        el("thead", {}, head),
        el(
          "tbody",
          {},
          ...values.map((row, i) =>
            el(
              "tr",
              {},
              el("th", { text: i }),
              ...row.slice(0, L).map((v, j) => cell(v, i, j)),
            ),
          ),
        ),
      ),
    );
  }

  function mount(root) {
    let state = {
      ...PRESETS[0].state,
      padded: [...PRESETS[0].state.padded],
      flips: [],
    };
    const controls = el("div");
    const output = el("div");
    root.replaceChildren(
      el(
        "div",
        { class: "live-row", role: "group", "aria-label": "Presets" },
        ...PRESETS.map((p) =>
          el("button", {
            type: "button",
            class: "live-preset",
            text: p.name,
            onclick: () => {
              state = { ...p.state, padded: [...p.state.padded], flips: [] };
              render();
            },
          }),
        ),
      ),
      controls,
      output,
    );

    function set(change) {
      state = { ...state, ...change };
      render();
    }

    // Every change redraws the controls and tables; the control the reader used is found
    // again in the new ones (by id or data- attributes) and gets the keyboard focus back.
    function focusKey(node) {
      if (!node || !root.contains(node) || node === root) return null;
      if (node.id) return `#${node.id}`;
      const data = [...node.attributes]
        .filter((a) => a.name.startsWith("data-"))
        .map((a) => `[${a.name}="${a.value}"]`)
        .join("");
      if (!data) return null;
      const table = node.closest("table[id]"); // a cell's button: which table it is in
      return `${table ? `#${table.id} ` : ""}${node.tagName.toLowerCase()}${data}`;
    }

    function render() {
      const focused = focusKey(document.activeElement);
      redraw();
      const again = focused && root.querySelector(focused);
      if (again && again !== document.activeElement) again.focus();
    }

    function redraw() {
      const r = compute(state);
      const lengthSelect = el(
        "select",
        {
          id: "mask-length",
          onchange: (e) => {
            const length = Number(e.target.value);
            set({
              length,
              padded: [...Array(length)].map((_, k) => state.padded[k] || 0),
              flips: [],
            });
          },
        },
        ...[1, 2, 3, 4, 5, 6, 7, 8].map((n) =>
          el("option", { value: n, text: n, selected: n === state.length }),
        ),
      );
      const conventionSelect = el(
        "select",
        { id: "mask-convention", onchange: (e) => set({ convention: e.target.value }) },
        ...Object.entries(CONVENTIONS).map(([k, c]) =>
          el("option", { value: k, text: c.label, selected: k === state.convention }),
        ),
      );
      const scoresSelect = el(
        "select",
        { id: "mask-scores", onchange: (e) => set({ scores: e.target.value }) },
        ...Object.entries(SCORES).map(([k, s]) =>
          el("option", { value: k, text: s.label, selected: k === state.scores }),
        ),
      );
      controls.replaceChildren(
        el(
          "div",
          { class: "live-row" },
          el("label", { for: "mask-length", text: "Length" }),
          lengthSelect,
          el(
            "label",
            {},
            el("input", {
              type: "checkbox",
              id: "mask-causal",
              checked: state.causal,
              onchange: (e) => set({ causal: e.target.checked, flips: [] }),
            }),
            " causal mask",
          ),
          el(
            "label",
            {},
            el("input", {
              type: "checkbox",
              id: "mask-pad-queries",
              checked: state.padQueries,
              onchange: (e) => set({ padQueries: e.target.checked, flips: [] }),
            }),
            " padding hides queries too",
          ),
        ),
        el(
          "div",
          { class: "live-row", role: "group", "aria-label": "Padding" },
          el("span", { class: "live-caption", text: "Tokens (click to pad):" }),
          ...state.padded.map((p, k) =>
            el("button", {
              type: "button",
              "aria-pressed": String(Boolean(p)),
              class: "live-token",
              "data-k": k,
              text: p ? `${k}: pad` : `${k}: real`,
              onclick: () =>
                set({
                  padded: state.padded.map((q, m) => (m === k ? 1 - q : q)),
                  flips: [],
                }),
            }),
          ),
        ),
        el(
          "div",
          { class: "live-row" },
          el("label", { for: "mask-scores", text: "Scores" }),
          scoresSelect,
          el("label", { for: "mask-convention", text: "Convention" }),
          conventionSelect,
        ),
      );
      const flip = (i, j) => {
        const key = `${i},${j}`;
        const flips = new Set(state.flips);
        flips.has(key) ? flips.delete(key) : flips.add(key);
        set({ flips: [...flips] });
      };
      const note = r.fullyMasked.length
        ? `Fully masked rows: ${r.fullyMasked.join(", ")}. ${r.convention.rows}`
        : "Every row has at least one visible key, so every route gives the same weights.";
      output.replaceChildren(
        el(
          "div",
          { class: "live-matrices" },
          matrix("mask-scores-table", "scores (before masking)", r.scores, (v, i, j) =>
            el("td", { class: r.attend[i][j] ? "" : "live-hidden", text: show(v) }),
          ),
          matrix(
            "mask-api",
            "mask, as this API wants it (click to flip)",
            r.mask,
            (v, i, j) =>
              el(
                "td",
                { class: r.attend[i][j] ? "" : "live-hidden" },
                el("button", {
                  type: "button",
                  "data-i": i,
                  "data-j": j,
                  text: show(v),
                  "aria-label": `query ${i}, key ${j}: ${r.attend[i][j] ? "may attend" : "hidden"}`,
                  onclick: () => flip(i, j),
                }),
              ),
          ),
          matrix("mask-weights", "softmax weights", r.weights, (v, i, j) =>
            el("td", {
              class: Number.isNaN(v) ? "live-nan" : r.attend[i][j] ? "" : "live-hidden",
              text: weight(v),
            }),
          ),
        ),
        el("div", { class: "live-code", text: r.convention.code }),
        el("p", { class: "live-caption", id: "mask-note", text: note }),
      );
      root.dataset.state = JSON.stringify({ nan: r.weights.flat().some(Number.isNaN) });
    }
    render();
  }

  function start() {
    document.querySelectorAll(".live-masks").forEach(mount);
  }

  if (typeof document !== "undefined") {
    if (document.readyState === "loading")
      document.addEventListener("DOMContentLoaded", start);
    else start();
  }
  return { CONVENTIONS, SCORES, PRESETS, compute, softmax };
});
