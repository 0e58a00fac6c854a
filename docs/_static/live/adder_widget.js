/* The live adder of the book: a question box whose answer gpt.js computes in the browser,
 * every layer's and head's attention at each generated token, the top-3 next tokens, and the
 * atlas of all 10,000 sums. Reads globalThis.ADDER_MODEL (and ADDER_ATLAS), which the build
 * writes next to this file; a widget marked data-lazy loads the weights at its first
 * question instead of with the page. No dependencies. */
(function () {
  "use strict";
  const HERE = document.currentScript ? document.currentScript.src : document.baseURI;
  const SVG = "http://www.w3.org/2000/svg";
  const ORDINAL = ["1st", "2nd", "3rd", "4th", "5th", "6th"];

  function el(tag, attrs = {}, ...children) {
    const node = tag.startsWith("svg:")
      ? document.createElementNS(SVG, tag.slice(4))
      : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    node.append(...children);
    return node;
  }

  function tokenLabel(model, id) {
    const token = model.tokens[id];
    return { "<BOS>": "B", "<EOS>": "E", "<pad>": "P" }[token] ?? token;
  }

  function tokenName(model, id) {
    return model.tokens[id] ?? "??";
  }

  // One (L, L) attention map as an SVG heatmap: rows are queries, columns keys.
  function heatmap(model, tokens, rows, title) {
    const L = tokens.length;
    const cell = 16;
    const margin = 14;
    const size = margin + L * cell;
    const svg = el("svg:svg", {
      viewBox: `0 0 ${size + 2} ${size + 2}`,
      class: "live-heatmap",
      role: "img",
      "aria-label": `${title}: attention of each token (row) over the tokens so far (columns)`,
    });
    tokens.forEach((id, i) => {
      const label = tokenLabel(model, id);
      svg.append(
        el(
          "svg:text",
          { x: margin + i * cell + cell / 2, y: 10, class: "live-tick" },
          label,
        ),
        el(
          "svg:text",
          { x: 6, y: margin + i * cell + cell / 2 + 4, class: "live-tick" },
          label,
        ),
      );
    });
    rows.forEach((row, i) => {
      for (let j = 0; j <= i; j++) {
        const w = row[j] || 0;
        const rect = el("svg:rect", {
          x: margin + j * cell,
          y: margin + i * cell,
          width: cell - 1,
          height: cell - 1,
          class: "live-cell",
          "fill-opacity": Math.max(w, 0.02).toFixed(3),
        });
        rect.append(
          el("svg:title", {
            text:
              `${tokenName(model, tokens[i])} (position ${i}) -> ` +
              `${tokenName(model, tokens[j])} (position ${j}): ${w.toFixed(4)}`,
          }),
        );
        svg.append(rect);
      }
    });
    const last = L - 1; // the query whose output chose the next token
    svg.append(
      el("svg:rect", {
        x: margin - 1,
        y: margin + last * cell - 1,
        width: L * cell + 1,
        height: cell + 1,
        class: "live-current",
      }),
    );
    return el("figure", { class: "live-map" }, svg, el("figcaption", { text: title }));
  }

  function topThree(model, step) {
    return el(
      "ol",
      { class: "live-top3" },
      ...step.top3.map(([id, p]) =>
        el(
          "li",
          {},
          el("code", { text: tokenName(model, id) }),
          el("span", { class: "live-bar", style: `--p: ${p}` }),
          el("span", {
            class: "live-p",
            text: p >= 0.9995 ? p.toFixed(6) : p.toFixed(4),
          }),
        ),
      ),
    );
  }

  function Widget(root, model) {
    const form = root.querySelector("form");
    const input = root.querySelector("#adder-question");
    const answer = root.querySelector("#adder-answer");
    const error = root.querySelector("#adder-error");
    const status = root.querySelector(".live-status");
    const stepsBox = root.querySelector(".live-steps");
    const mapsBox = root.querySelector(".live-maps");
    let run = null;
    let selected = 0;
    // which model answers, read from the exported weights (not the decoder page's model)
    const { d_model, num_heads, num_layers, d_ff } = model.config;
    const about = root.querySelector(".live-model") || el("p", { class: "live-model" });
    about.textContent =
      `The model: width ${d_model}, ${num_heads} heads, ${num_layers} layers, ` +
      `feed-forward ${d_ff}, ${model.numParameters.toLocaleString("en")} parameters.`;
    form.after(about);

    function showStep(k) {
      selected = k;
      stepsBox.querySelectorAll("button").forEach((b, i) => {
        b.setAttribute("aria-pressed", String(i === k));
      });
      const step = run.steps[k];
      const { num_layers, num_heads } = model.config;
      mapsBox.replaceChildren(
        el("p", {
          class: "live-caption",
          text:
            `What each head attended to when the model wrote ` +
            `${tokenName(model, step.token)} (${ORDINAL[k] || k + 1 + "th"} new token). ` +
            `Rows: each token as a query; columns: the tokens it reads (B is <BOS>). ` +
            `The outlined row produced the prediction.`,
        }),
      );
      for (let l = 0; l < num_layers; l++) {
        const row = el("div", { class: "live-layer" });
        for (let h = 0; h < num_heads; h++) {
          row.append(
            heatmap(
              model,
              step.tokens,
              step.maps[l][h],
              `layer ${l + 1}, head ${h + 1}`,
            ),
          );
        }
        mapsBox.append(row);
      }
    }

    function ask(question, { explicit = false } = {}) {
      const started = performance.now();
      let result;
      try {
        result = GPT.whatIs(model, question);
      } catch (e) {
        const complete = explicit || question.trim().endsWith("=") || question === "";
        answer.replaceChildren();
        stepsBox.hidden = mapsBox.hidden = true;
        input.setAttribute("aria-invalid", "true");
        root.dataset.state = "error";
        error.hidden = !complete;
        error.textContent = complete ? e.message : "";
        status.textContent = complete
          ? ""
          : "Type a question like 15+57= (two numbers of one or two digits).";
        return null;
      }
      const ms = performance.now() - started;
      run = result;
      input.removeAttribute("aria-invalid");
      error.hidden = true;
      error.textContent = "";
      answer.replaceChildren(
        ...[...result.answer].map((ch, i) =>
          el("span", { style: `--i: ${i}`, text: ch }),
        ),
      );
      stepsBox.replaceChildren(
        ...result.steps.map((step, k) =>
          el(
            "button",
            { type: "button", "aria-pressed": "false", onclick: () => showStep(k) },
            el(
              "span",
              { class: "live-step-title" },
              `${ORDINAL[k] || k + 1 + "th"}: `,
              el("code", { text: tokenName(model, step.token) }),
            ),
            topThree(model, step),
          ),
        ),
      );
      stepsBox.hidden = mapsBox.hidden = false;
      showStep(Math.min(selected, result.steps.length - 1));
      const link = `?q=${encodeURIComponent(question.trim())}`;
      status.replaceChildren(
        `${result.padded}${result.answer}: computed in ${ms.toFixed(1)} ms in your browser ` +
          `(${result.steps.length} tokens, ${model.config.num_layers} layers × ` +
          `${model.config.num_heads} heads). `,
        el("a", { href: link, text: "Link to this question" }),
      );
      root.dataset.ms = ms.toFixed(3);
      root.dataset.state = "done";
      return result;
    }

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      ask(input.value, { explicit: true });
    });
    input.addEventListener("input", () => ask(input.value));
    const linked = new URLSearchParams(window.location.search).get("q");
    if (linked !== null) input.value = linked;
    ask(input.value, { explicit: linked !== null });
    return {
      load(question) {
        input.value = question;
        ask(question, { explicit: true });
      },
      // bring the question box and its answer on screen (the atlas is far below them)
      reveal() {
        const smooth = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
        root.scrollIntoView({ block: "start", behavior: smooth ? "smooth" : "auto" });
      },
    };
  }

  // --- the atlas: 100 x 100 sums, a down the rows, b across the columns ---------------------
  function Atlas(root, atlas, widget) {
    const canvas = root.querySelector("canvas");
    const info = root.querySelector(".live-atlas-info");
    const controls = root.querySelector(".live-atlas-controls");
    const confidence = Uint8Array.from(atob(atlas.confidence), (c) => c.charCodeAt(0));
    const decades = (i) => confidence[i] / atlas.confidence_scale; // -log10(1 - p)
    const shown = new Set(atlas.classes.map((_, c) => c));
    let cursor = null;

    atlas.classes.forEach((name, c) => {
      const box = el("input", { type: "checkbox", checked: "", "data-class": c });
      box.addEventListener("change", () => {
        box.checked ? shown.add(c) : shown.delete(c);
        draw();
      });
      controls.append(
        el("label", { class: `live-swatch live-class-${c}` }, box, ` ${name}`),
      );
    });
    controls.append(
      el("span", { class: "live-swatch live-wrong-key", text: "wrong answer" }),
    );

    function draw() {
      const style = getComputedStyle(root);
      const colors = atlas.classes.map((_, c) =>
        style.getPropertyValue(`--live-class-${c}`),
      );
      const ctx = canvas.getContext("2d");
      const n = canvas.width / 100;
      ctx.fillStyle = style.getPropertyValue("--color-background-primary") || "#fff";
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      for (let i = 0; i < 10000; i++) {
        const c = Number(atlas.carry[i]);
        const wrong = String(i) in atlas.wrong;
        if (!shown.has(c) && !wrong) continue;
        ctx.fillStyle = wrong ? style.getPropertyValue("--live-wrong") : colors[c];
        // paler = less sure: 1 - p of 10^-1 is faint, 10^-6 or less is full colour
        ctx.globalAlpha = wrong ? 1 : Math.min(1, Math.max(0.15, (decades(i) - 1) / 5));
        ctx.fillRect((i % 100) * n, Math.floor(i / 100) * n, n, n);
      }
      ctx.globalAlpha = 1;
      if (cursor !== null) {
        ctx.strokeStyle = style.getPropertyValue("--color-foreground-primary");
        ctx.lineWidth = 2;
        ctx.strokeRect(
          (cursor % 100) * n - 1,
          Math.floor(cursor / 100) * n - 1,
          n + 2,
          n + 2,
        );
      }
    }

    function describe(i) {
      const [a, b] = [Math.floor(i / 100), i % 100];
      const wrote = atlas.wrong[i] ?? String(a + b).padStart(3, "0");
      const verdict = String(i) in atlas.wrong ? `wrong (${a + b})` : "right";
      const doubt = `1 − p ≈ 10^−${decades(i).toFixed(1)}`;
      info.textContent = `${a}+${b}= → ${wrote}: ${verdict}, ${atlas.classes[atlas.carry[i]]}, ${doubt}`;
    }

    function cellAt(event) {
      const box = canvas.getBoundingClientRect();
      const col = Math.floor(((event.clientX - box.left) / box.width) * 100);
      const row = Math.floor(((event.clientY - box.top) / box.height) * 100);
      return Math.min(99, Math.max(0, row)) * 100 + Math.min(99, Math.max(0, col));
    }

    function choose(i) {
      cursor = i;
      draw();
      describe(i);
      widget.load(`${Math.floor(i / 100)}+${i % 100}=`);
    }

    canvas.addEventListener("mousemove", (e) => describe(cellAt(e)));
    canvas.addEventListener("click", (e) => {
      choose(cellAt(e));
      widget.reveal();
    });
    canvas.addEventListener("keydown", (e) => {
      const moves = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -100, ArrowDown: 100 };
      if (e.key in moves) {
        e.preventDefault();
        cursor = Math.min(9999, Math.max(0, (cursor ?? 0) + moves[e.key]));
        draw();
        describe(cursor);
      } else if (e.key === "Enter" && cursor !== null) choose(cursor); // grid stays in view
    });
    new MutationObserver(draw).observe(document.body, {
      attributes: true,
      attributeFilter: ["data-theme"],
    });
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", draw);

    const wrong = Object.keys(atlas.wrong).length;
    const least = [...confidence.keys()]
      .sort((x, y) => confidence[x] - confidence[y])
      .slice(0, 3);
    root.querySelector(".live-atlas-summary").textContent =
      `The adder of this build gets ${(10000 - wrong).toLocaleString("en")} of the 10,000 sums right. ` +
      `Least sure: ${least.map((i) => `${Math.floor(i / 100)}+${i % 100}`).join(", ")}.`;
    draw();
  }

  function loadScript(name) {
    // a plain <script src> next to this file: works from http:// and from file://
    return new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = new URL(name, HERE).href;
      script.onload = resolve;
      script.onerror = () => reject(new Error(`${name} did not load`));
      document.head.append(script);
    });
  }

  function missing(root) {
    root.querySelector(".live-status").textContent =
      "The adder's weights did not load (adder-model.js is written by the book's build).";
  }

  // A lazy widget waits for its first question (or a ?q= link) to load the weights.
  function startLazy(root) {
    const form = root.querySelector("form");
    root.querySelector(".live-status").textContent =
      "Ask a question: the adder's weights (about 370 kB) load at the first one.";
    const go = (event) => {
      if (event) event.preventDefault();
      form.removeEventListener("submit", go);
      loadScript("adder-model.js").then(
        () => {
          const widget = Widget(root, GPT.loadModel(globalThis.ADDER_MODEL));
          if (event) widget.load(root.querySelector("#adder-question").value);
        },
        () => missing(root),
      );
    };
    form.addEventListener("submit", go);
    if (new URLSearchParams(window.location.search).has("q")) go();
  }

  function start() {
    const roots = [...document.querySelectorAll(".live-adder")];
    if (!roots.length || !globalThis.GPT) return roots.forEach(missing);
    if (!globalThis.ADDER_MODEL) {
      return roots.forEach((r) => ("lazy" in r.dataset ? startLazy(r) : missing(r)));
    }
    const model = GPT.loadModel(globalThis.ADDER_MODEL);
    const widgets = roots.map((root) => Widget(root, model));
    const atlasRoot = document.querySelector(".live-atlas");
    if (atlasRoot && globalThis.ADDER_ATLAS)
      Atlas(atlasRoot, globalThis.ADDER_ATLAS, widgets[0]);
  }

  if (document.readyState === "loading")
    document.addEventListener("DOMContentLoaded", start);
  else start();
})();
