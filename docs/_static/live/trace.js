/* Attention, traced: the live adder's weights explained, and its heads switched off.
 * - Trace a weight: a click on a cell of a heatmap (or the form) shows how gpt.js computed
 *   it: q, the visible keys, dot products, the division by sqrt(d_k), the causal mask, the
 *   softmax and the weighted sum of values, with the numbers the decoder used (gpt.js's
 *   `record` hook).
 * - Switch heads off: the switched-off heads' context vectors are zeroed (gpt.js's `ablate`
 *   option); the question is answered again and all 10,000 sums are re-scored in Web
 *   Workers (ablate.js), drawn as an atlas of what broke.
 * - Your own sums, scored with and without those heads; a link that restores the state.
 * - Follow the carry: a guided path whose facts the build checked (ADDER_GUIDE).
 * Reads globalThis.GPT, ABLATE, ADDER_MODEL, ADDER_ATLAS, ADDER_GUIDE. No dependencies. */
(function () {
  "use strict";
  // the book's sections that teach each step (docs/adder_live.md links the same ones)
  const TEACH = {
    qk: ["3.4.1", "ch3_4_trainable_weights.html#341-computing-the-attention-weights-step-by-step"],
    dot: ["3.3.1", "ch3_3_simple_self_attention.html#step-1-attention-scores-for-one-query"],
    mask: ["3.5.1", "ch3_5_causal_attention.html#351-applying-a-causal-attention-mask"],
    softmax: [
      "3.3.1",
      "ch3_3_simple_self_attention.html#step-2-from-scores-to-attention-weights",
    ],
    heads: [
      "3.6.2",
      "ch3_6_multi_head.html#362-implementing-multi-head-attention-with-weight-splits",
    ],
  };
  const CELL_TITLE = /\(position (\d+)\) -> .*\(position (\d+)\)/;

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    node.append(...children);
    return node;
  }
  const fmt = (x) => (Object.is(x, -0) ? 0 : x).toFixed(4);
  const vec = (v) => `[${v.map(fmt).join(", ")}]`;
  const teach = (key) =>
    el("a", { href: TEACH[key][1], class: "live-teach", text: `(${TEACH[key][0]})` });
  const headName = (key) => {
    const [l, h] = key.split(".").map(Number);
    return `layer ${l + 1} head ${h + 1}`;
  };

  function question() {
    return document.querySelector("#adder-question").value;
  }
  function ask(q) {
    // the adder widget answers on every input event
    const input = document.querySelector("#adder-question");
    input.value = q;
    input.dispatchEvent(new Event("input"));
  }
  function selectedStep() {
    const buttons = [...document.querySelectorAll(".live-steps button")];
    return Math.max(
      0,
      buttons.findIndex((b) => b.getAttribute("aria-pressed") === "true"),
    );
  }

  // --- 1. trace a weight -------------------------------------------------------------------
  function Trace(root, model) {
    const form = root.querySelector("form");
    const error = root.querySelector("#trace-error");
    const out = root.querySelector(".live-trace-out");
    const { num_layers: L, num_heads: H, d_model: D } = model.config;
    const d = D / H;
    let current = null; // {step, layer, head, row, col}, 0-based

    function compute(t) {
      const run = GPT.whatIs(model, question());
      if (!(t.step >= 0 && t.step < run.steps.length))
        throw new Error(`new token must be 1 to ${run.steps.length} for ${run.padded}`);
      if (!(t.layer >= 0 && t.layer < L)) throw new Error(`layer must be 1 to ${L}`);
      if (!(t.head >= 0 && t.head < H)) throw new Error(`head must be 1 to ${H}`);
      const tokens = run.steps[t.step].tokens;
      if (!(t.row >= 0 && t.row < tokens.length))
        throw new Error(`row must be 0 to ${tokens.length - 1} (this map has ${tokens.length} rows)`);
      if (!(t.col >= 0 && t.col <= t.row))
        throw new Error(`column must be 0 to ${t.row}: row ${t.row} cannot see later keys`);
      let info = null;
      GPT.forward(model, tokens, {
        record: (r) => {
          if (r.layer === t.layer && r.head === t.head && r.position === t.row) info = r;
        },
      });
      return { run, tokens, info, cell: run.steps[t.step].maps[t.layer][t.head][t.row][t.col] };
    }

    function render(t, { run, tokens, info, cell }) {
      const name = (j) => model.tokens[tokens[j]];
      const i = t.row;
      const weight = info.weights[t.col];
      out.dataset.weight = String(weight);
      out.dataset.cell = String(cell);
      out.dataset.layer = t.layer;
      out.dataset.head = t.head;
      const rows = tokens.map((id, j) => {
        const hidden = j > i || !info.visible[j];
        const picked = j === t.col;
        const tr = el(
          "tr",
          picked ? { class: "live-picked" } : {},
          el("th", { scope: "row", text: `${j} ${name(j)}` }),
          el("td", { text: j > i ? "—" : fmt(info.dots[j]) }),
          el("td", { text: j > i ? "—" : fmt(info.scores[j]) }),
          el("td", { text: hidden ? "−∞ (hidden)" : "visible" }),
          el(
            "td",
            {},
            picked ? el("mark", { text: weight.toFixed(6) }) : fmt(hidden ? 0 : info.weights[j]),
            picked ? " ◀ the clicked cell" : "",
          ),
          el("td", { text: j > i ? "(not yet written)" : vec(info.keys[j]) }),
          el("td", { text: j > i ? "—" : vec(info.values[j]) }),
        );
        return tr;
      });
      const sumW = info.weights.reduce((a, b) => a + b, 0);
      out.replaceChildren(
        el("h4", {
          text:
            `Layer ${t.layer + 1}, head ${t.head + 1}, new token ${t.step + 1}: ` +
            `query ${i} (${name(i)}) reads key ${t.col} ` +
            `(${name(t.col)}) with weight α = ${weight.toFixed(6)}`,
        }),
        el(
          "ol",
          { class: "live-trace-steps" },
          el("li", {}, `The query of row ${i}, this head's ${d} numbers of q = W_query x `, teach("qk"), `: q(${i}) = ${vec(info.q)}; each visible token j has a key k(j) = W_key x(j) (table).`),
          el("li", {}, `Dot products ω(${i},j) = q(${i}) · k(j) `, teach("dot"), `: column ω.`),
          el("li", {}, `Divided by √d_k = √${d} = ${Math.sqrt(d).toFixed(4)} `, teach("qk"), `: column ω/√d_k.`),
          el("li", {}, `The causal mask `, teach("mask"), `: row ${i} sees keys 0 to ${i}; later keys get −∞ (they do not exist yet when token ${i} is read), and so weight 0.`),
          el("li", {}, `Softmax of the row `, teach("softmax"), `: α(${i},j) = exp(ω/√d_k) / Σ exp(…); the row sums to ${sumW.toFixed(6)}. The clicked cell is α(${i},${t.col}) = ${weight.toFixed(6)}, the heatmap's ${cell.toFixed(4)}.`),
          el("li", {}, `Weighted sum of values z(${i}) = Σ_j α(${i},j) v(j) `, teach("heads"), `: this head's part of the context vector, ${vec(info.context)}; out_proj then mixes the ${H} heads' parts.`),
        ),
        el(
          "div",
          { class: "live-table-box" },
          el(
            "table",
            { class: "live-matrix live-trace-table" },
            el("caption", { text: `Every key of row ${i} (d_k = ${d})` }),
            el(
              "thead",
              {},
              el(
                "tr",
                {},
                ...["j token", "ω", "ω/√d_k", "mask", "α", "k(j)", "v(j)"].map((h) =>
                  el("th", { scope: "col", text: h }),
                ),
              ),
            ),
            el("tbody", {}, ...rows),
          ),
        ),
      );
      root.dataset.state = "traced";
    }

    function show(t, { scroll = false } = {}) {
      let result;
      try {
        result = compute(t);
      } catch (e) {
        error.hidden = false;
        error.textContent = e.message;
        return false;
      }
      error.hidden = true;
      error.textContent = "";
      current = t;
      for (const k of ["step", "layer", "head"]) form.elements[k].value = t[k] + 1;
      form.elements.row.value = t.row;
      form.elements.col.value = t.col;
      render(t, result);
      if (scroll) {
        root.scrollIntoView({ block: "start" });
        out.focus({ preventScroll: true });
      }
      changed();
      return true;
    }

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const f = form.elements;
      const t = {};
      for (const k of ["step", "layer", "head", "row", "col"]) {
        const text = f[k].value.trim();
        if (!/^[0-9]+$/.test(text)) {
          error.hidden = false;
          error.textContent = `${f[k].parentElement.textContent.trim()} must be a whole number, got ${JSON.stringify(f[k].value)}`;
          return;
        }
        t[k] = Number(text) - (["step", "layer", "head"].includes(k) ? 1 : 0);
      }
      show(t);
    });

    // a click on a heatmap cell of the adder widget
    document.addEventListener("click", (event) => {
      const rect = event.target.closest && event.target.closest("rect.live-cell");
      if (!rect) return;
      const figure = rect.closest(".live-map");
      const layerBox = figure.closest(".live-layer");
      const layer = [...document.querySelectorAll(".live-maps .live-layer")].indexOf(layerBox);
      const head = [...layerBox.querySelectorAll(".live-map")].indexOf(figure);
      const m = CELL_TITLE.exec(rect.textContent);
      if (!m || layer < 0 || head < 0) return;
      show({ step: selectedStep(), layer, head, row: Number(m[1]), col: Number(m[2]) }, { scroll: true });
    });
    return {
      show,
      get current() {
        return current;
      },
      refresh() {
        if (current) show(current);
      },
    };
  }

  // --- 2. switch heads off -----------------------------------------------------------------
  function workerSource() {
    return `"use strict";
const GPT = (${GPT.factory})();
const ABLATE = (${ABLATE.factory})();
let model = null;
const right = new Uint8Array(10000);
// A few rows of sums with a head off, scored ahead of time, one at a time: the engine
// compiles the decoder's loops before the reader's first switch needs them, and a job
// that comes in stops them.
let warmRows = 8;
function warmUp() {
  if (warmRows <= 0) return;
  warmRows--;
  ABLATE.scoreRows(GPT, model, ["0.0"], warmRows, warmRows + 1, new Uint8Array(10000));
  setTimeout(warmUp, 0);
}
// {exported}: load the model; {id, ablate, row: a}: score the sums a+0= .. a+99=
onmessage = (e) => {
  const job = e.data;
  if (job.exported) {
    model = GPT.loadModel(job.exported);
    setTimeout(warmUp, 0);
  }
  if (job.row === undefined) return;
  warmRows = 0;
  ABLATE.scoreRows(GPT, model, job.ablate, job.row, job.row + 1, right);
  postMessage({ id: job.id, row: job.row, right: right.slice(job.row * 100, job.row * 100 + 100) });
};`;
  }

  function Scorer(model, atlas) {
    // key -> Uint8Array: 1 for a sum answered right. Every head on: the atlas, PyTorch's
    // answers at build time (make test checks that gpt.js gives the same on every sum).
    const intact = new Uint8Array(10000).fill(1);
    Object.keys(atlas.wrong).forEach((i) => (intact[Number(i)] = 0));
    const cache = new Map([["", intact]]);
    let workers = null;
    let url = null;
    let jobId = 0;
    let pending = null;
    const inflight = new Map(); // key -> {promise, listeners}: a job under way
    function drop() {
      if (pending) pending.cancel();
      pending = null;
      inflight.clear();
    }
    const parts = Math.max(1, Math.min(2, navigator.hardwareConcurrency || 2));

    function startWorkers() {
      if (workers) return workers;
      try {
        url = url || URL.createObjectURL(new Blob([workerSource()], { type: "text/javascript" }));
        workers = Array.from({ length: parts }, () => new Worker(url));
        workers.forEach((w) => w.postMessage({ exported: globalThis.ADDER_MODEL }));
      } catch (e) {
        workers = [];
      }
      return workers;
    }

    // Every sum with `ablate` off; onProgress(fraction). Resolves to the answers.
    function score(ablate, onProgress) {
      const key = [...ablate].sort().join(",");
      if (cache.has(key)) {
        drop();
        const how = key ? "reusing an earlier run" : "the atlas (every head on)";
        return Promise.resolve({ right: cache.get(key), how });
      }
      if (inflight.has(key)) {
        inflight.get(key).listeners.push(onProgress);
        return inflight.get(key).promise;
      }
      drop(); // another set of heads: the job under way is dropped
      const id = ++jobId;
      const right = new Uint8Array(10000);
      const listeners = [onProgress];
      let rows = 0;
      const promise = new Promise((resolve) => {
        const finish = (how) => {
          pending = null;
          inflight.delete(key);
          cache.set(key, right);
          resolve({ right, how });
        };
        const pool = startWorkers();
        if (pool.length) {
          // rows a = 0..99 handed out one at a time, two queued per worker: a worker that
          // gets less of the processor takes fewer rows
          let next = 0;
          const give = (w) => next < 100 && w.postMessage({ id, ablate: [...ablate], row: next++ });
          const fallback = () => {
            pool.forEach((w) => w.terminate());
            workers = [];
            pending = null;
            inflight.delete(key);
            score(ablate, (f) => listeners.forEach((g) => g(f))).then(resolve);
          };
          pool.forEach((w) => {
            w.onmessage = (e) => {
              if (e.data.id !== id) return;
              right.set(e.data.right, e.data.row * 100);
              rows++;
              listeners.forEach((f) => f(rows / 100));
              if (rows === 100) finish(`${pool.length} Web Worker${pool.length > 1 ? "s" : ""}`);
              else give(w);
            };
            w.onerror = (e) => {
              e.preventDefault();
              fallback();
            };
            give(w);
            give(w);
          });
          pending = {
            cancel() {
              pool.forEach((w) => w.terminate());
              workers = null;
              setTimeout(startWorkers, 0); // fresh ones, ready for the next run
            },
          };
          return;
        }
        // no worker: chunks of one row of sums on the page, the progress bar between them
        let a = 0;
        let cancelled = false;
        pending = { cancel: () => (cancelled = true) };
        const chunk = () => {
          if (cancelled) return;
          ABLATE.scoreRows(GPT, model, [...ablate], a, a + 1, right);
          a++;
          listeners.forEach((f) => f(a / 100));
          if (a < 100) setTimeout(chunk, 0);
          else finish("the page (no Web Worker)");
        };
        setTimeout(chunk, 0);
      });
      inflight.set(key, { promise, listeners });
      return promise;
    }
    // the workers load the model while the reader reads: a first switch then only scores
    setTimeout(startWorkers, 0);
    return { score };
  }

  function Heads(root, model, atlas, scorer) {
    const { num_layers: L, num_heads: H } = model.config;
    const box = root.querySelector(".live-head-switches");
    const answerLine = root.querySelector(".live-heads-answer");
    const progress = root.querySelector("progress");
    const summary = root.querySelector(".live-heads-summary");
    const canvas = root.querySelector("canvas");
    const info = root.querySelector(".live-heads-info");
    const off = new Set();
    let right = null;
    let cursor = null;
    const listeners = [];
    for (let l = 0; l < L; l++) {
      const row = el("div", { class: "live-row", role: "group", "aria-label": `layer ${l + 1}` }, el("span", { text: `layer ${l + 1}:` }));
      for (let h = 0; h < H; h++) {
        const input = el("input", { type: "checkbox", "data-head": `${l}.${h}` });
        input.addEventListener("change", () => {
          input.checked ? off.add(`${l}.${h}`) : off.delete(`${l}.${h}`);
          update();
        });
        row.append(el("label", { class: "live-switch" }, input, ` head ${h + 1}`));
      }
      box.append(row);
    }
    const legend = el(
      "p",
      { class: "live-row live-heads-legend", hidden: "" },
      el("span", { class: "live-swatch live-still", text: "still right" }),
      ...atlas.classes.map((c, k) =>
        el("span", { class: `live-swatch live-class-${k}`, text: `broke: ${c}` }),
      ),
    );
    canvas.before(legend);
    const intactWrong = new Set(Object.keys(atlas.wrong).map(Number));

    function answerNow() {
      const q = question();
      try {
        const intact = GPT.whatIs(model, q).answer;
        const now = GPT.whatIs(model, q, { ablate: [...off] }).answer;
        answerLine.textContent = off.size
          ? `With ${[...off].map(headName).join(", ")} off, ${GPT.parseQuestion(q)} gets ${now || "(nothing)"} (all heads on: ${intact}).`
          : `All heads on: ${GPT.parseQuestion(q)} gets ${intact}.`;
        answerLine.dataset.answer = now;
      } catch (e) {
        answerLine.textContent = "Ask a question above to see its answer with these heads off.";
        delete answerLine.dataset.answer;
      }
    }

    function draw() {
      if (!right) return;
      const style = getComputedStyle(root);
      const ctx = canvas.getContext("2d");
      const n = canvas.width / 100;
      ctx.fillStyle = style.getPropertyValue("--color-background-primary") || "#fff";
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      const colors = atlas.classes.map((_, c) => style.getPropertyValue(`--live-class-${c}`));
      const still = style.getPropertyValue("--live-right");
      for (let i = 0; i < 10000; i++) {
        ctx.fillStyle = right[i] ? still : colors[Number(atlas.carry[i])];
        ctx.fillRect((i % 100) * n, Math.floor(i / 100) * n, n, n);
      }
      if (cursor !== null) {
        ctx.strokeStyle = style.getPropertyValue("--color-foreground-primary") || "#000";
        ctx.lineWidth = 2;
        ctx.strokeRect((cursor % 100) * n - 1, Math.floor(cursor / 100) * n - 1, n + 2, n + 2);
      }
    }

    function describe(i) {
      if (!right) return;
      const [a, b] = [Math.floor(i / 100), i % 100];
      const wrote = GPT.whatIs(model, `${a}+${b}=`, { ablate: [...off] }).answer || "(nothing)";
      const verdict = right[i] ? "right" : `wrong, ${a + b} is right`;
      info.textContent = `${a}+${b}= → ${wrote}: ${verdict} (${atlas.classes[atlas.carry[i]]})`;
    }

    function update() {
      answerNow();
      changed();
      const key = [...off];
      const started = performance.now();
      root.dataset.state = "scoring";
      progress.value = 0;
      summary.textContent = "Re-scoring the 10,000 sums…";
      return scorer
        .score(key, (f) => (progress.value = Math.round(100 * f)))
        .then(({ right: result, how }) => {
          if ([...off].sort().join(",") !== key.sort().join(",")) return; // superseded
          right = result;
          progress.value = 100;
          legend.hidden = false;
          const ms = performance.now() - started;
          const wrong = ABLATE.wrongOf(right);
          const byClass = atlas.classes.map(() => 0);
          let broke = 0;
          for (const i of wrong) {
            byClass[Number(atlas.carry[i])]++;
            if (!intactWrong.has(i)) broke++;
          }
          summary.textContent =
            (off.size ? `With ${[...off].map(headName).join(", ")} off` : "With every head on") +
            `, the model gets ${wrong.length.toLocaleString("en")} of the 10,000 sums wrong` +
            (off.size
              ? " (by carry class: " +
                atlas.classes.map((c, k) => `${byClass[k]} ${c}`).join(", ") +
                `); ${broke.toLocaleString("en")} of them it gets right with every head on. `
              : ". ") +
            `Scored in ${(ms / 1000).toFixed(2)} s by ${how}.`;
          root.dataset.wrong = wrong.length;
          root.dataset.ms = ms.toFixed(0);
          root.dataset.state = "done";
          draw();
          listeners.forEach((f) => f());
        });
    }

    function cellAt(event) {
      const r = canvas.getBoundingClientRect();
      const col = Math.floor(((event.clientX - r.left) / r.width) * 100);
      const row = Math.floor(((event.clientY - r.top) / r.height) * 100);
      return Math.min(99, Math.max(0, row)) * 100 + Math.min(99, Math.max(0, col));
    }
    canvas.addEventListener("mousemove", (e) => describe(cellAt(e)));
    canvas.addEventListener("click", (e) => {
      cursor = cellAt(e);
      draw();
      describe(cursor);
      ask(`${Math.floor(cursor / 100)}+${cursor % 100}=`);
      answerNow();
    });
    canvas.addEventListener("keydown", (e) => {
      const moves = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -100, ArrowDown: 100 };
      if (e.key in moves) {
        e.preventDefault();
        cursor = Math.min(9999, Math.max(0, (cursor ?? 0) + moves[e.key]));
        draw();
        describe(cursor);
      } else if (e.key === "Enter" && cursor !== null) {
        ask(`${Math.floor(cursor / 100)}+${cursor % 100}=`);
        answerNow();
      }
    });
    new MutationObserver(draw).observe(document.body, { attributes: true, attributeFilter: ["data-theme"] });
    document.querySelector("#adder-question").addEventListener("input", answerNow);

    return {
      off,
      set(keys) {
        off.clear();
        keys.forEach((k) => off.add(k));
        box.querySelectorAll("input").forEach((i) => (i.checked = off.has(i.dataset.head)));
        return update();
      },
      score: (keys, onProgress) => scorer.score(keys, onProgress),
      onDone: (f) => listeners.push(f),
      start: update,
    };
  }

  // --- 4. the reader's own sums ------------------------------------------------------------
  function Sums(root, model, atlas, heads) {
    const form = root.querySelector("form");
    const text = root.querySelector("#sums-text");
    const select = root.querySelector("#sums-class");
    const error = root.querySelector("#sums-error");
    const result = root.querySelector(".live-sums-result");
    atlas.classes.forEach((c, k) => select.append(el("option", { value: String(k), text: c })));

    function parse() {
      if (select.value !== "") {
        const k = select.value;
        return [...atlas.carry].flatMap((c, i) => (c === k ? [i] : []));
      }
      const items = text.value.split(/[\s,;]+/).filter(Boolean);
      if (!items.length) throw new Error("no sums: paste sums such as 15+57= or pick a carry class");
      if (items.length > 10000) throw new Error(`${items.length.toLocaleString("en")} sums: at most 10,000 at a time`);
      return items.map((item, n) => {
        let padded;
        try {
          padded = GPT.parseQuestion(item, model.numDigits);
        } catch (e) {
          throw new Error(`sum ${n + 1} of ${items.length}: ${e.message}`);
        }
        const [a, b] = padded.slice(0, -1).split("+").map(Number);
        return a * 100 + b;
      });
    }

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const started = performance.now();
      let sums;
      try {
        sums = parse();
      } catch (e) {
        error.hidden = false;
        error.textContent = e.message;
        text.setAttribute("aria-invalid", "true");
        return;
      }
      error.hidden = true;
      text.removeAttribute("aria-invalid");
      root.dataset.state = "scoring";
      const keys = [...heads.off];
      heads.score(keys, () => {}).then((scored) => {
        let intact = 0;
        let now = 0;
        for (const i of sums) {
          if (!(String(i) in atlas.wrong)) intact++;
          if (scored.right[i]) now++;
        }
        const pct = (x) => `${((100 * x) / sums.length).toFixed(1)}%`;
        const ms = performance.now() - started;
        result.textContent =
          `${sums.length.toLocaleString("en")} sums: every head on, ${intact.toLocaleString("en")} right (${pct(intact)}); ` +
          (keys.length ? `with ${keys.map(headName).join(", ")} off` : "with no head off") +
          `, ${now.toLocaleString("en")} right (${pct(now)}). Scored in ${(ms / 1000).toFixed(2)} s.`;
        root.dataset.right = now;
        root.dataset.intact = intact;
        root.dataset.count = sums.length;
        root.dataset.ms = ms.toFixed(0);
        root.dataset.state = "done";
      });
    });
  }

  // --- 3. follow the carry -----------------------------------------------------------------
  function Guide(root, guide, trace, heads) {
    const list = root.querySelector("ol");
    const g = guide;
    const w = (x) => x.toFixed(2);
    const keyName = g.carry_key === 5 ? "b0" : "a0";
    const breakers = g.breakers.map(([l, h]) => headName(`${l}.${h}`)).join(" and ");
    const mapOf = (l, h) =>
      document.querySelectorAll(".live-maps .live-layer")[l]?.querySelectorAll(".live-map")[h];
    const steps = [
      {
        text:
          `Ask ${g.question}: the model answers ${g.answer}. Its first new token, the hundreds ` +
          `digit, is chosen at the row of = (position 6), before any other digit is written, ` +
          `and this sum is a ${g.carry_class}: 5+5 carries into the tens, 5+4+1 into the ` +
          `hundreds.`,
        go() {
          ask(g.question);
          document.querySelector(".live-steps button")?.click();
          return document.querySelector(".live-adder");
        },
      },
      {
        text:
          `Layer 1, head ${g.ones_head + 1} reads the ones digits: at the row of = it puts ` +
          `${w(g.ones_a0)} of its weight on a0 (position 2) and ${w(g.ones_b0)} on b0 ` +
          `(position 5), more than half in all; no other layer-1 head gives them more than ` +
          `0.3. The trace shows that weight on b0 computed.`,
        go() {
          trace.show({ step: 0, layer: 0, head: g.ones_head, row: 6, col: 5 });
          return mapOf(0, g.ones_head);
        },
      },
      {
        text:
          `One layer up, layer 2, head ${g.carry_head + 1} reads the carry again: its = ` +
          `row puts ${w(g.carry_weight)} on the position of ${keyName}, where in layer 1, ` +
          `${g.b0_readers} of the ${g.num_heads} heads had already read a0 and b0 (more than ` +
          `half their weight).`,
        go() {
          trace.show({ step: 0, layer: 1, head: g.carry_head, row: 6, col: g.carry_key });
          return mapOf(1, g.carry_head);
        },
      },
      {
        text:
          `Switch that head off: ${g.question} still gets ${g.answer_off}, since the carry ` +
          `reaches the = row by more than one path, but ${g.broken_off} of the 10,000 sums ` +
          `break (the atlas below the switches). The single heads whose switching off does ` +
          `change ${g.question} are ${breakers}.`,
        go() {
          heads.set([`1.${g.carry_head}`]);
          return document.querySelector("#adder-heads");
        },
      },
    ];
    let at = -1;
    steps.forEach((s, k) => {
      list.append(
        el(
          "li",
          { "data-step": k },
          el("button", { type: "button", class: "live-guide-go", onclick: () => show(k), text: `Step ${k + 1}` }),
          " ",
          el("span", { text: s.text }),
        ),
      );
    });
    function show(k) {
      at = Math.max(0, Math.min(steps.length - 1, k));
      document.querySelectorAll(".live-highlight").forEach((n) => n.classList.remove("live-highlight"));
      list.querySelectorAll("li").forEach((li, n) => {
        li.classList.toggle("live-guide-current", n === at);
        li.querySelector("button").setAttribute("aria-pressed", String(n === at));
      });
      const target = steps[at].go();
      if (target) {
        target.classList.add("live-highlight");
        target.scrollIntoView({ block: "center" });
      }
      root.dataset.step = at;
    }
    root.querySelectorAll("[data-go]").forEach((b) =>
      b.addEventListener("click", () => show(at + Number(b.dataset.go))),
    );
  }

  // --- the shareable state: ?q= (the widget's), #off=1.2,2.6&trace=step.layer.head.row.col --
  let app = null;
  function changed() {
    if (!app) return;
    const hash = new URLSearchParams();
    if (app.heads.off.size)
      hash.set("off", [...app.heads.off].map((k) => k.split(".").map((x) => Number(x) + 1).join(".")).join(","));
    const t = app.trace.current;
    if (t) hash.set("trace", [t.step + 1, t.layer + 1, t.head + 1, t.row, t.col].join("."));
    const q = `?q=${encodeURIComponent(question().trim())}`;
    const link = document.querySelector("#adder-share");
    if (link) link.href = `${q}${hash.toString() ? "#" + hash.toString().replace(/%2C/g, ",") : ""}`;
  }

  function restore(model) {
    const hash = new URLSearchParams(window.location.hash.slice(1));
    const problems = [];
    let off = [];
    if (hash.has("off")) {
      try {
        off = ABLATE.parseHeads(hash.get("off"), model.config.num_layers, model.config.num_heads);
      } catch (e) {
        problems.push(`link: ${e.message}`);
      }
    }
    app.heads.set(off);
    if (hash.has("trace")) {
      const parts = hash.get("trace").split(".");
      if (parts.length !== 5 || !parts.every((p) => /^[0-9]+$/.test(p))) {
        problems.push(`link: trace=${hash.get("trace")} is not step.layer.head.row.column`);
      } else {
        const [step, layer, head, row, col] = parts.map(Number);
        app.trace.show({ step: step - 1, layer: layer - 1, head: head - 1, row, col });
      }
    }
    const box = document.querySelector("#adder-heads .live-heads-link-error");
    if (box && problems.length) {
      box.hidden = false;
      box.textContent = problems.join("; ");
    }
  }

  function start() {
    const traceRoot = document.querySelector(".live-trace");
    const headsRoot = document.querySelector(".live-heads");
    if (!traceRoot || !headsRoot || !globalThis.ADDER_MODEL || !globalThis.ABLATE) return;
    const model = GPT.loadModel(globalThis.ADDER_MODEL);
    const atlas = globalThis.ADDER_ATLAS;
    const trace = Trace(traceRoot, model);
    const scorer = Scorer(model, atlas);
    headsRoot.append(
      el("p", { class: "live-error live-heads-link-error", role: "alert", hidden: "" }),
      el("p", { class: "live-share" }, el("a", { id: "adder-share", href: "#", text: "Link to this state" }), " (question, heads off, open trace)"),
    );
    const heads = Heads(headsRoot, model, atlas, scorer);
    app = { trace, heads };
    const sumsRoot = document.querySelector(".live-sums");
    if (sumsRoot) Sums(sumsRoot, model, atlas, heads);
    const guideRoot = document.querySelector(".live-guide");
    if (guideRoot && globalThis.ADDER_GUIDE) Guide(guideRoot, globalThis.ADDER_GUIDE, trace, heads);
    document.querySelector("#adder-question").addEventListener("input", () => {
      trace.refresh();
      changed();
    });
    restore(model);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => setTimeout(start, 0));
  else setTimeout(start, 0);
})();
