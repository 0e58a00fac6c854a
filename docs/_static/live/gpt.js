/* The adder's GPT decoder in plain JavaScript: the forward pass of
 * chapter3.gpt.GPTDecoder and the greedy decoding of chapter3.adder.decoding, for the
 * model that the book's build trained and exported (docs/_ext/live_adder.py).
 * No dependencies, no build step: it runs in a browser (as window.GPT) and in Node.js
 * (require), where `make test` checks it against PyTorch on all 10,000 sums.
 * Activations are float64; the weights are PyTorch's float32. */
(function (root, factory) {
  const api = factory();
  api.factory = factory; // its source, for a Web Worker built from a Blob (trace.js)
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.GPT = api;
})(this, function () {
  "use strict";

  // --- the exported model: config, vocabulary, named float32 tensors ----------------
  function loadModel(exported) {
    if (exported.format !== "chapter3-adder-js/1") {
      throw new Error(`not an exported adder: format ${exported.format}`);
    }
    const bytes = Uint8Array.from(atob(exported.weights), (c) => c.charCodeAt(0));
    const all = new Float32Array(bytes.buffer); // little-endian, as Python wrote it
    const tensor = (name, required = true) => {
      const entry = exported.tensors[name];
      if (!entry) {
        if (required) throw new Error(`the exported model has no tensor ${name}`);
        return null;
      }
      const [offset, shape] = entry;
      const size = shape.reduce((a, b) => a * b, 1);
      return { data: all.subarray(offset, offset + size), shape };
    };
    const linear = (name) => ({
      weight: tensor(`${name}.weight`),
      bias: tensor(`${name}.bias`, false),
    });
    const norm = (name) => ({ ...linear(name), eps: exported.layer_norm_eps });
    const blocks = [];
    for (let i = 0; i < exported.config.num_layers; i++) {
      const b = `decoder_blocks.${i}`;
      blocks.push({
        W_query: linear(`${b}.masked_self_attention.W_query`),
        W_key: linear(`${b}.masked_self_attention.W_key`),
        W_value: linear(`${b}.masked_self_attention.W_value`),
        out_proj: linear(`${b}.masked_self_attention.out_proj`),
        norm_1: norm(`${b}.add_norm_1.layer_norm`),
        ffn_1: linear(`${b}.feed_forward.ffn.0`),
        ffn_2: linear(`${b}.feed_forward.ffn.3`),
        norm_2: norm(`${b}.add_norm_2.layer_norm`),
      });
    }
    return {
      config: exported.config, // vocab_size, max_seq_len, d_model, num_heads, ...
      vocab: exported.vocab, // token -> id, as chapter3.adder.vocab.TOKEN_TO_INDEX
      tokens: Object.fromEntries(
        Object.entries(exported.vocab).map(([t, i]) => [i, t]),
      ),
      numDigits: exported.num_digits,
      tok_embed: tensor("tok_embed.weight"), // (V, D)
      pos_embed: tensor("pos_embed"), // (1, max_seq_len, D)
      blocks,
      layer_norm: norm("layer_norm"),
      head: linear("head"), // (V, D)
    };
  }

  // --- the layers, one vector (one position) at a time ------------------------------
  function linear(layer, x) {
    // nn.Linear: weight is (out, in), y = W x + b
    const [out, inp] = layer.weight.shape;
    const W = layer.weight.data;
    const y = new Float64Array(out);
    for (let o = 0; o < out; o++) {
      let s = layer.bias ? layer.bias.data[o] : 0;
      for (let i = 0, r = o * inp; i < inp; i++) s += W[r + i] * x[i];
      y[o] = s;
    }
    return y;
  }

  function layerNorm(norm, x) {
    // nn.LayerNorm: biased variance, eps inside the square root
    const n = x.length;
    let mean = 0;
    for (let i = 0; i < n; i++) mean += x[i];
    mean /= n;
    let variance = 0;
    for (let i = 0; i < n; i++) variance += (x[i] - mean) ** 2;
    const inv = 1 / Math.sqrt(variance / n + norm.eps);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      y[i] = (x[i] - mean) * inv * norm.weight.data[i] + norm.bias.data[i];
    }
    return y;
  }

  function add(x, y) {
    return x.map((v, i) => v + y[i]);
  }

  function maskedSoftmax(scores, visible) {
    // chapter3.masks.masked_softmax: hidden keys get 0; no visible key: a row of 0
    const weights = new Float64Array(scores.length);
    let max = -Infinity;
    scores.forEach((s, j) => visible[j] && s > max && (max = s));
    if (max === -Infinity) return weights;
    let sum = 0;
    scores.forEach((s, j) => visible[j] && (sum += weights[j] = Math.exp(s - max)));
    return weights.map((w) => w / sum);
  }

  // Masked multi-head self-attention for the newest position. Its query meets the keys
  // of every position so far (the causal mask: nothing later exists yet); earlier ones'
  // keys and values come from the cache, as in chapter3.kv_cache.
  // `hooks` (optional, from step's options): `off(h)` is true for a switched-off head,
  // whose slice of the context vector stays zero (chapter3.adder.heads.head_zeroed);
  // `record(info)` receives each head's q, keys, values, dot products, scaled scores,
  // weights and context vector, the very numbers computed here.
  function attention(block, cache, x, visible, hooks) {
    const D = x.length;
    const H = cache.numHeads;
    const d = D / H; // head_dim
    const q = linear(block.W_query, x);
    cache.keys.push(linear(block.W_key, x));
    cache.values.push(linear(block.W_value, x));
    const context = new Float64Array(D);
    const rows = []; // one attention row per head: this query over keys 0..t
    for (let h = 0; h < H; h++) {
      const dots = hooks && hooks.record ? [] : null;
      const scores = cache.keys.map((k) => {
        let s = 0;
        for (let e = h * d; e < (h + 1) * d; e++) s += q[e] * k[e];
        if (dots) dots.push(s);
        return s / Math.sqrt(d); // scaled dot product
      });
      const weights = maskedSoftmax(scores, visible);
      const off = hooks && hooks.off(h);
      const sum = off ? new Float64Array(D) : context; // an ablated head's sum is dropped
      weights.forEach((w, j) => {
        for (let e = h * d; e < (h + 1) * d; e++) sum[e] += w * cache.values[j][e];
      });
      rows.push(weights);
      if (dots) {
        const part = (v) => Array.from(v.slice(h * d, (h + 1) * d));
        hooks.record({
          head: h,
          q: part(q),
          keys: cache.keys.map(part),
          values: cache.values.map(part),
          dots,
          scores,
          visible: visible.slice(),
          weights: Array.from(weights),
          context: part(sum),
          off: Boolean(off),
        });
      }
    }
    return { out: linear(block.out_proj, context), rows }; // out_proj mixes the heads
  }

  // --- the decoder: one new token through every block --------------------------------
  function newState(model) {
    return {
      tokens: [],
      caches: model.blocks.map(() => ({
        keys: [],
        values: [],
        numHeads: model.config.num_heads,
      })),
      maps: model.blocks.map(() => []), // [layer][head][query]: attention rows
    };
  }

  // options (optional): {ablate: ["layer.head", ...] switched off (0-based), record:
  // fn(info) called for every layer and head with the numbers of its attention}
  function step(model, state, token, options) {
    const { d_model: D, max_seq_len, num_heads: H, vocab_size } = model.config;
    const t = state.tokens.length; // this token's position
    if (t >= max_seq_len) throw new Error(`the model has ${max_seq_len} positions`);
    if (!(token >= 0 && token < vocab_size)) throw new Error(`no token id ${token}`);
    state.tokens.push(token);
    // padding mask of greedy decoding: a <pad> key is hidden from every query
    const visible = state.tokens.map((id) => id !== model.vocab["<pad>"]);
    let z = new Float64Array(D); // token embedding + learned position; dropout is off
    for (let i = 0; i < D; i++) {
      z[i] = model.tok_embed.data[token * D + i] + model.pos_embed.data[t * D + i];
    }
    const ablate = options && options.ablate ? new Set(options.ablate) : null;
    const record = options && options.record;
    model.blocks.forEach((block, l) => {
      const hooks =
        ablate || record
          ? {
              off: (h) => Boolean(ablate && ablate.has(`${l}.${h}`)),
              record: record && ((info) => record({ layer: l, position: t, ...info })),
            }
          : null;
      const { out, rows } = attention(block, state.caches[l], z, visible, hooks);
      z = layerNorm(block.norm_1, add(z, out)); // AddNorm: layer_norm(x + sublayer(x))
      const hidden = linear(block.ffn_1, z).map((v) => Math.max(v, 0)); // ReLU
      z = layerNorm(block.norm_2, add(z, linear(block.ffn_2, hidden)));
      if (!state.maps[l].length) for (let h = 0; h < H; h++) state.maps[l].push([]);
      rows.forEach((row, h) => state.maps[l][h].push(row));
    });
    const logits = linear(model.head, layerNorm(model.layer_norm, z)); // (V,)
    return {
      logits,
      probs: maskedSoftmax(
        logits,
        logits.map(() => true),
      ),
    };
  }

  // The full forward pass of GPTDecoder on a sequence: logits of every position, and
  // every layer's (H, L, L) attention weights (zero above the diagonal, as in
  // chapter3.gpt.attention_maps).
  function forward(model, tokens, options) {
    const state = newState(model);
    const logits = tokens.map((id) => step(model, state, id, options).logits);
    const L = tokens.length;
    const maps = state.maps.map((heads) =>
      heads.map((rows) =>
        rows.map((row) => Array.from({ length: L }, (_, j) => row[j] || 0)),
      ),
    );
    return { logits, maps };
  }

  // --- greedy decoding (chapter3.adder.decoding.greedy_decode, for one prompt) -------
  function greedyDecode(model, prompt, maxNewTokens = 4, options) {
    const state = newState(model);
    let out;
    prompt.forEach((id) => (out = step(model, state, id, options)));
    const steps = [];
    for (let k = 0; k < maxNewTokens; k++) {
      const probs = Array.from(out.probs);
      const token = probs.indexOf(Math.max(...probs)); // arg-max: the first maximum
      const top = probs
        .map((p, id) => [id, p])
        .sort((a, b) => b[1] - a[1] || a[0] - b[0]);
      steps.push({
        token,
        probs,
        top3: top.slice(0, 3),
        tokens: state.tokens.slice(), // what the model saw: the rows of these maps
        maps: state.maps.map((heads) => heads.map((rows) => rows.slice())),
      });
      if (token === model.vocab["<EOS>"] || k === maxNewTokens - 1) break;
      out = step(model, state, token, options);
    }
    return { prompt, generated: steps.map((s) => s.token), steps };
  }

  // --- questions (chapter3.adder.vocab.parse_question), with Python's messages -------
  const PY_SPACE = // what Python's str.isspace() calls whitespace
    "\\t\\n\\x0b\\x0c\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a" +
    "\\u2028\\u2029\\u202f\\u205f\\u3000";
  const STRIP = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, "g"); // str.strip()
  const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

  function pythonRepr(text) {
    // repr() of a str: the quotes Python picks, and its escapes
    const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
    const named = {
      "\\": "\\\\",
      "\t": "\\t",
      "\n": "\\n",
      "\r": "\\r",
      [quote]: "\\" + quote,
    };
    let body = "";
    for (const ch of text) {
      const cp = ch.codePointAt(0);
      if (named[ch]) body += named[ch];
      else if (ch !== " " && NOT_PRINTABLE.test(ch)) {
        const [prefix, width] =
          cp < 0x100 ? ["x", 2] : cp < 0x10000 ? ["u", 4] : ["U", 8];
        body += "\\" + prefix + cp.toString(16).padStart(width, "0");
      } else body += ch;
    }
    return quote + body + quote;
  }

  // Why a near-miss question is refused: the same words as Python's _why_not
  function whyNot(question, numDigits) {
    const negative = /-[0-9]+/.exec(question);
    if (negative) {
      return (
        `: ${pythonRepr(negative[0])} is not a 1- to ${numDigits}-digit operand, ` +
        `the adder adds numbers from 0 to ${10 ** numDigits - 1}`
      );
    }
    // str.isdigit() beyond ASCII: decimal digits and the superscript/subscript ones
    const otherDigit = /[\p{Nd}\u00B2\u00B3\u00B9\u2070\u2074-\u2079\u2080-\u2089]/u;
    if ([...question].some((ch) => otherDigit.test(ch) && !/[0-9]/.test(ch))) {
      return ": only the ASCII digits 0-9 are tokens";
    }
    return "";
  }

  function parseQuestion(question, numDigits = 2) {
    const digits = `([0-9]{1,${numDigits}})`;
    const match = new RegExp(`^${digits}\\+${digits}=$`).exec(question.replace(STRIP, ""));
    if (!match) {
      throw new Error(
        "expected a question of the form 'a+b=' with a and b of 1 to " +
          `${numDigits} digits (e.g. '15+57='), got ${pythonRepr(question)}` +
          whyNot(question, numDigits),
      );
    }
    const pad = (s) => String(Number(s)).padStart(numDigits, "0");
    return `${pad(match[1])}+${pad(match[2])}=`;
  }

  // what_is: "15+57=" -> the prompt <BOS>15+57=, decoded greedily; answer without <EOS>
  function whatIs(model, question, options) {
    const padded = parseQuestion(question, model.numDigits);
    const prompt = [model.vocab["<BOS>"], ...[...padded].map((ch) => model.vocab[ch])];
    const result = greedyDecode(model, prompt, model.numDigits + 2, options);
    const skip = new Set(["<BOS>", "<EOS>", "<pad>"].map((t) => model.vocab[t]));
    const answer = result.generated
      .filter((id) => !skip.has(id))
      .map((id) => model.tokens[id] ?? "??")
      .join("");
    return { question: question.replace(STRIP, ""), padded, answer, ...result };
  }

  return {
    loadModel,
    newState,
    step,
    forward,
    greedyDecode,
    parseQuestion,
    pythonRepr,
    whatIs,
  };
});
