// Search result snippets in plain text (docs/_ext/search_terms.py). Loaded with `defer` on
// the search page only: it runs after Sphinx's searchtools.js and before the search starts.
// Sphinx cuts snippets from the page's HTML as served, where math is TeX source and doctests
// show prompts; here code blocks and outputs are left out and math is written as text.
(() => {
  if (typeof Search === "undefined") return;
  const SYMBOLS = {
    alpha: "α", beta: "β", gamma: "γ", delta: "δ", epsilon: "ε", varepsilon: "ε",
    theta: "θ", lambda: "λ", mu: "μ", pi: "π", sigma: "σ", tau: "τ", phi: "φ",
    omega: "ω", Omega: "Ω", Sigma: "Σ", sum: "Σ", prod: "Π", infty: "∞", cdot: "·",
    times: "×", top: "ᵀ", in: "∈", le: "≤", leq: "≤", ge: "≥", geq: "≥", ne: "≠",
    neq: "≠", approx: "≈", to: "→", rightarrow: "→", ldots: "…", dots: "…", cdots: "⋯",
    sqrt: "√", quad: " ", qquad: " ", exp: "exp", log: "log", max: "max", min: "min", softmax: "softmax",
  };
  const texToText = (tex) => {
    let s = tex.trim().replace(/^\\[[(]/, "").replace(/\\[\])]$/, "");
    s = s.replace(/^\$+|\$+$/g, "");
    for (let i = 0; i < 5; i++) {  // innermost braces first
      s = s.replace(/([_^])\{([^{}]*)\}/g, "$1$2");
      s = s.replace(/\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}/g, "($1)/($2)");
      s = s.replace(/\\sqrt\s*\{([^{}]*)\}/g, "√($1)");
      s = s.replace(/\\(?:text|mathrm|mathbf|mathit|operatorname|boldsymbol|mathbb|mathcal)\s*\{([^{}]*)\}/g, "$1");
    }
    s = s.replace(/\\(left|right|big|Big|bigg|Bigg)\b/g, "");
    s = s.replace(/\\([A-Za-z]+)/g, (m, name) => SYMBOLS[name] ?? name);
    s = s.replace(/\\[,;:! ]/g, " ").replace(/[{}]/g, "").replace(/&/g, " ");
    s = s.replace(/\\\\/g, "; ").replace(/\s+/g, " ");
    return s.trim();
  };
  const original = Search.htmlToText;
  Search.htmlToText = (htmlString, anchor) => {
    const doc = new DOMParser().parseFromString(htmlString, "text/html");
    const drop = "div.highlight, div.cell_output, div.output, .sphx-glr-script-out, "
      + "div.sphx-glr-download, .copybtn, .listing-note, .takeaway";
    doc.querySelectorAll(drop).forEach((el) => el.remove());
    doc.querySelectorAll(".math").forEach((el) => {
      el.textContent = ` ${texToText(el.textContent)} `;
    });
    return original(doc.documentElement.outerHTML, anchor);
  };
})();
