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

  // --- checks at the doors: every error names what was given and what is allowed -----
  const FORMAT = "chapter3-adder-js/1";
  const CONFIG_FIELDS = [
    "vocab_size",
    "max_seq_len",
    "d_model",
    "num_heads",
    "num_layers",
    "d_ff",
  ];
  const MAX_SIZE = 1 << 20; // a sane upper bound on every size of the config
  const TOKENS_NEEDED = ["<BOS>", "<EOS>", "<pad>", "+", "=", ..."0123456789"];

  function describe(value) {
    // what was given, short: a 100,000-character string is not echoed whole
    if (value === null || value === undefined) return String(value);
    if (Array.isArray(value)) return `an array of length ${value.length}`;
    if (typeof value === "string") {
      const chars = [...value];
      return chars.length > 40
        ? `the string ${JSON.stringify(chars.slice(0, 40).join(""))}… ` +
            `(${chars.length.toLocaleString("en")} characters)`
        : `the string ${JSON.stringify(value)}`;
    }
    if (typeof value === "object") {
      const kind = value.constructor?.name;
      return kind && kind !== "Object" ? `a ${kind}` : "an object";
    }
    if (typeof value === "bigint") return `the bigint ${value}n`;
    return `${typeof value} ${String(value)}`;
  }

  function checkInt(value, name, min = 1, max = MAX_SIZE) {
    if (!Number.isInteger(value)) {
      throw new TypeError(`${name} must be an integer, got ${describe(value)}`);
    }
    if (value < min || value > max) {
      throw new RangeError(`${name} must lie in ${min}..${max}, got ${value}`);
    }
    return value;
  }

  function checkObject(value, name) {
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw new TypeError(`${name} must be an object, got ${describe(value)}`);
    }
    return value;
  }

  function checkFinite(values, name) {
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i])) {
        throw new RangeError(
          `${name}: ${values[i]} at index ${i}, where only finite numbers are allowed`,
        );
      }
    }
    return values;
  }

  // The tensors that GPTDecoder(config).named_parameters() has, with their shapes;
  // optional ones (the qkv biases: qkv_bias=False by default) may be left out.
  function expectedTensors(config) {
    const { vocab_size: V, max_seq_len: T, d_model: D, num_layers: N, d_ff: F } = config;
    const shapes = new Map([
      ["tok_embed.weight", [[V, D], true]],
      ["pos_embed", [[1, T, D], true]],
    ]);
    const linear = (name, out, inp, bias = true) => {
      shapes.set(`${name}.weight`, [[out, inp], true]);
      shapes.set(`${name}.bias`, [[out], bias]);
    };
    const norm = (name) => {
      shapes.set(`${name}.weight`, [[D], true]);
      shapes.set(`${name}.bias`, [[D], true]);
    };
    for (let i = 0; i < N; i++) {
      const b = `decoder_blocks.${i}`;
      for (const w of ["W_query", "W_key", "W_value"]) {
        linear(`${b}.masked_self_attention.${w}`, D, D, false);
      }
      linear(`${b}.masked_self_attention.out_proj`, D, D);
      norm(`${b}.add_norm_1.layer_norm`);
      linear(`${b}.feed_forward.ffn.0`, F, D);
      linear(`${b}.feed_forward.ffn.3`, D, F);
      norm(`${b}.add_norm_2.layer_norm`);
    }
    norm("layer_norm");
    linear("head", V, D);
    return shapes;
  }

  function decodeWeights(text) {
    if (typeof text !== "string") {
      throw new TypeError(`weights must be a base64 string, got ${describe(text)}`);
    }
    let binary;
    try {
      binary = atob(text);
    } catch (e) {
      throw new TypeError(`weights must be a base64 string: ${e.message}`);
    }
    if (binary.length % 4) {
      throw new RangeError(
        `weights must be float32 values (4 bytes each), got ${binary.length} bytes`,
      );
    }
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    return new Float32Array(bytes.buffer); // little-endian, as Python wrote it
  }

  // The exported model against its own config: names, shapes, lengths, finiteness.
  function checkExported(exported) {
    checkObject(exported, "the exported model");
    if (exported.format !== FORMAT) {
      throw new Error(
        `not an exported adder: format must be ${JSON.stringify(FORMAT)}, ` +
          `got ${describe(exported.format)}`,
      );
    }
    const config = checkObject(exported.config, "config");
    for (const field of CONFIG_FIELDS) checkInt(config[field], `config.${field}`);
    checkInt(config.num_layers, "config.num_layers", 1, 1024);
    if (config.d_model % config.num_heads) {
      throw new RangeError(
        `config.d_model (${config.d_model}) must be divisible by ` +
          `config.num_heads (${config.num_heads})`,
      );
    }
    const vocab = checkObject(exported.vocab, "vocab");
    for (const token of TOKENS_NEEDED) {
      if (!(token in vocab)) throw new RangeError(`vocab has no token ${token}`);
    }
    const ids = new Set();
    for (const [token, id] of Object.entries(vocab)) {
      const name = `vocab[${JSON.stringify(token)}]`;
      if (!Number.isInteger(id) || id < 0 || id >= config.vocab_size) {
        throw new RangeError(
          `${name} must be a token id in 0..${config.vocab_size - 1} ` +
            `(config.vocab_size ${config.vocab_size}), got ${describe(id)}`,
        );
      }
      if (ids.has(id)) throw new RangeError(`vocab gives the id ${id} to two tokens`);
      ids.add(id);
    }
    if (ids.size !== config.vocab_size) {
      throw new RangeError(
        `vocab has ${ids.size} tokens, config.vocab_size is ${config.vocab_size}`,
      );
    }
    const n = checkInt(exported.num_digits, "num_digits", 1, 64);
    // a question <BOS>a+b= (2n + 3 tokens) and n + 1 digits fed back before <EOS>
    if (3 * n + 4 > config.max_seq_len) {
      throw new RangeError(
        `num_digits ${n} needs ${3 * n + 4} positions, ` +
          `config.max_seq_len is ${config.max_seq_len}`,
      );
    }
    const eps = exported.layer_norm_eps;
    if (typeof eps !== "number" || !(eps > 0 && eps < 1)) {
      throw new RangeError(
        `layer_norm_eps must be a number in (0, 1), got ${describe(eps)}`,
      );
    }
    const all = checkFinite(decodeWeights(exported.weights), "weights");
    if (exported.num_parameters !== undefined && exported.num_parameters !== all.length) {
      throw new RangeError(
        `num_parameters is ${describe(exported.num_parameters)}, ` +
          `the weights hold ${all.length} values`,
      );
    }
    const tensors = checkObject(exported.tensors, "tensors");
    const expected = expectedTensors(config);
    const spans = [];
    for (const [name, entry] of Object.entries(tensors)) {
      if (!expected.has(name)) {
        throw new RangeError(
          `tensors has ${JSON.stringify(name)}, which GPTDecoder has not`,
        );
      }
      const shape = expected.get(name)[0];
      if (!Array.isArray(entry) || entry.length !== 2 || !Array.isArray(entry[1])) {
        throw new TypeError(`tensors[${JSON.stringify(name)}] must be [offset, shape]`);
      }
      const [offset, given] = entry;
      checkInt(offset, `the offset of tensor ${name}`, 0, all.length);
      if (given.length !== shape.length || given.some((s, i) => s !== shape[i])) {
        throw new RangeError(
          `tensor ${name} has shape [${given}], config gives [${shape}]`,
        );
      }
      const size = shape.reduce((a, b) => a * b, 1);
      if (offset + size > all.length) {
        throw new RangeError(
          `tensor ${name} ends at ${offset + size}, ` +
            `the weights hold ${all.length} values`,
        );
      }
      spans.push([offset, size, name]);
    }
    for (const [name, [shape, required]] of expected) {
      if (required && !(name in tensors)) {
        throw new RangeError(`the exported model has no tensor ${name} [${shape}]`);
      }
    }
    // the tensors tile the weights: none overlaps another, no value is left over
    spans.sort((a, b) => a[0] - b[0]);
    let end = 0;
    for (const [offset, size, name] of spans) {
      if (offset !== end) {
        throw new RangeError(`tensor ${name} starts at ${offset}, expected ${end}`);
      }
      end += size;
    }
    if (end !== all.length) {
      throw new RangeError(`the tensors hold ${end} values, the weights ${all.length}`);
    }
    return all;
  }

  function checkModel(model) {
    const loaded = model && typeof model === "object" && model.config && model.blocks;
    if (!loaded || !Array.isArray(model.blocks)) {
      throw new TypeError(
        `model must be what GPT.loadModel(exported) returns, got ${describe(model)}`,
      );
    }
    return model;
  }

  function checkToken(model, id, name) {
    return checkInt(id, name, 0, model.config.vocab_size - 1);
  }

  // step's options: {ablate: ["layer.head", ...], record: fn, logits: false}, each
  // optional
  function checkOptions(model, options) {
    if (options === undefined) return;
    checkObject(options, "options");
    const { ablate, record, logits } = options;
    if (record !== undefined && typeof record !== "function") {
      throw new TypeError(`options.record must be a function, got ${describe(record)}`);
    }
    if (logits !== undefined && typeof logits !== "boolean") {
      throw new TypeError(
        `options.logits must be true or false, got ${describe(logits)}`,
      );
    }
    if (ablate === undefined) return;
    if (!Array.isArray(ablate)) {
      throw new TypeError(`options.ablate must be an array, got ${describe(ablate)}`);
    }
    const { num_layers: layers, num_heads: heads } = model.config;
    ablate.forEach((name, i) => {
      const m = typeof name === "string" ? /^(\d+)\.(\d+)$/.exec(name) : null;
      if (!m || Number(m[1]) >= layers || Number(m[2]) >= heads) {
        throw new RangeError(
          `options.ablate[${i}] must be "layer.head" with layer in 0..${layers - 1} ` +
            `and head in 0..${heads - 1}, got ${describe(name)}`,
        );
      }
    });
  }

  // step's options, checked once for any number of steps: GPT.prepare(model, options)
  // returns a plan that step, given it instead of the options, does not check again.
  // off[layer * num_heads + head] is 1 for a switched-off head.
  const PLANS = new WeakSet();
  function prepare(model, options) {
    checkModel(model);
    checkOptions(model, options);
    const { num_layers: L, num_heads: H } = model.config;
    const { ablate, record, logits } = options || {};
    const off = new Uint8Array(L * H);
    for (const name of ablate || []) {
      const [l, h] = name.split(".").map(Number);
      off[l * H + h] = 1;
    }
    const plan = Object.freeze({
      model,
      off,
      record: record || null,
      logits: logits !== false,
    });
    PLANS.add(plan);
    return plan;
  }

  // token ids; with `fits`, no more of them than the model has positions
  function checkTokens(model, tokens, name, fits = true) {
    if (!Array.isArray(tokens)) {
      throw new TypeError(
        `${name} must be an array of token ids, got ${describe(tokens)}`,
      );
    }
    if (!tokens.length) throw new RangeError(`${name} must not be empty`);
    tokens.forEach((id, i) => checkToken(model, id, `${name}[${i}]`));
    const max = model.config.max_seq_len;
    if (fits && tokens.length > max) {
      throw new RangeError(
        `${name} holds ${tokens.length} tokens, config.max_seq_len is ${max}`,
      );
    }
    return tokens;
  }

  // --- the exported model: config, vocabulary, named float32 tensors ----------------
  function loadModel(exported) {
    const all = checkExported(exported);
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
      numParameters: all.length, // the export's float32 values, all of them in a tensor
      tok_embed: tensor("tok_embed.weight"), // (V, D)
      pos_embed: tensor("pos_embed"), // (1, max_seq_len, D)
      blocks,
      layer_norm: norm("layer_norm"),
      head: linear("head"), // (V, D)
    };
  }

  // --- the layers, one vector (one position) at a time ------------------------------
  // Each writes its result into `y` (a new array when none is given) and returns it.
  function linear(layer, x, y = new Float64Array(layer.weight.shape[0])) {
    // nn.Linear: weight is (out, in), y = W x + b. Four rows at a time: each row's sum
    // still adds its terms in the order i = 0, 1, 2, ... (the same float64 roundings as
    // one row at a time), and four independent sums keep the processor busy.
    const [out, inp] = layer.weight.shape;
    const W = layer.weight.data;
    const b = layer.bias ? layer.bias.data : null;
    let o = 0;
    for (; o + 4 <= out; o += 4) {
      let s0 = b ? b[o] : 0;
      let s1 = b ? b[o + 1] : 0;
      let s2 = b ? b[o + 2] : 0;
      let s3 = b ? b[o + 3] : 0;
      const r0 = o * inp;
      const r1 = r0 + inp;
      const r2 = r1 + inp;
      const r3 = r2 + inp;
      for (let i = 0; i < inp; i++) {
        const xi = x[i];
        s0 += W[r0 + i] * xi;
        s1 += W[r1 + i] * xi;
        s2 += W[r2 + i] * xi;
        s3 += W[r3 + i] * xi;
      }
      y[o] = s0;
      y[o + 1] = s1;
      y[o + 2] = s2;
      y[o + 3] = s3;
    }
    for (; o < out; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0, r = o * inp; i < inp; i++) s += W[r + i] * x[i];
      y[o] = s;
    }
    return y;
  }

  function layerNorm(norm, x, y = new Float64Array(x.length)) {
    // nn.LayerNorm: biased variance, eps inside the square root (y may be x itself)
    const n = x.length;
    let mean = 0;
    for (let i = 0; i < n; i++) mean += x[i];
    mean /= n;
    let variance = 0;
    for (let i = 0; i < n; i++) variance += (x[i] - mean) ** 2;
    const inv = 1 / Math.sqrt(variance / n + norm.eps);
    const w = norm.weight.data;
    const b = norm.bias.data;
    for (let i = 0; i < n; i++) y[i] = (x[i] - mean) * inv * w[i] + b[i];
    return y;
  }

  function add(x, y, out) {
    for (let i = 0; i < x.length; i++) out[i] = x[i] + y[i];
    return out;
  }

  function maskedSoftmax(scores, visible, n, weights = new Float64Array(n)) {
    // chapter3.masks.masked_softmax of scores[0..n): hidden keys get 0; no visible key:
    // a row of 0
    let max = -Infinity;
    for (let j = 0; j < n; j++) if (visible[j] && scores[j] > max) max = scores[j];
    if (max === -Infinity) return weights.fill(0, 0, n);
    let sum = 0;
    for (let j = 0; j < n; j++) {
      weights[j] = visible[j] ? Math.exp(scores[j] - max) : 0;
      if (visible[j]) sum += weights[j];
    }
    for (let j = 0; j < n; j++) weights[j] = weights[j] / sum;
    return weights;
  }

  // Working arrays of one step, made once per model (a step that records makes its own:
  // its `record` may run another step).
  const SCRATCH = new WeakMap();
  function scratch(model, fresh) {
    if (!fresh && SCRATCH.has(model)) return SCRATCH.get(model);
    const { d_model: D, d_ff: F, max_seq_len: T } = model.config;
    const made = {
      z: new Float64Array(D), // the residual stream
      q: new Float64Array(D),
      context: new Float64Array(D),
      out: new Float64Array(D), // a sublayer's output
      sum: new Float64Array(D), // z + sublayer(z)
      hidden: new Float64Array(F),
      scores: new Float64Array(T),
      weights: new Float64Array(T),
      everyToken: new Uint8Array(model.config.vocab_size).fill(1), // softmax over all
    };
    if (!fresh) SCRATCH.set(model, made);
    return made;
  }

  // Masked multi-head self-attention for the newest position t. Its query meets the keys
  // of every position so far (the causal mask: nothing later exists yet); earlier ones'
  // keys and values come from the cache, as in chapter3.kv_cache. Writes out_proj's
  // output into s.out; returns each head's attention row when `keep` (for the maps).
  // From the plan: a switched-off head's slice of the context vector stays zero
  // (chapter3.adder.heads.head_zeroed); `record(info)` receives each head's q, keys,
  // values, dot products, scaled scores, weights and context vector, the very numbers
  // computed here.
  function attention(block, cache, visible, layer, t, plan, s, keep) {
    const x = s.z;
    const D = x.length;
    const H = cache.numHeads;
    const d = D / H; // head_dim
    const scale = Math.sqrt(d);
    const n = t + 1; // keys 0..t
    const q = linear(block.W_query, x, s.q);
    cache.keys.push(linear(block.W_key, x));
    cache.values.push(linear(block.W_value, x));
    const { keys, values } = cache;
    const context = s.context.fill(0);
    const record = plan.record;
    // one attention row per head (this query over keys 0..t), kept for the maps
    const rows = keep ? [] : null;
    for (let h = 0; h < H; h++) {
      const lo = h * d;
      const hi = lo + d;
      const dots = record ? [] : null;
      const scores = record ? [] : s.scores;
      for (let j = 0; j < n; j++) {
        const k = keys[j];
        let dot = 0;
        for (let e = lo; e < hi; e++) dot += q[e] * k[e];
        if (dots) dots.push(dot);
        scores[j] = dot / scale; // scaled dot product
      }
      const weights = maskedSoftmax(
        scores,
        visible,
        n,
        keep || record ? new Float64Array(n) : s.weights,
      );
      const off = plan.off[layer * H + h] === 1;
      if (!off || record) {
        // an ablated head's sum is dropped
        const sum = off ? new Float64Array(D) : context;
        for (let j = 0; j < n; j++) {
          const w = weights[j];
          const v = values[j];
          for (let e = lo; e < hi; e++) sum[e] += w * v[e];
        }
        if (record) {
          const part = (v) => Array.from(v.slice(lo, hi));
          record({
            layer,
            position: t,
            head: h,
            q: part(q),
            keys: keys.map(part),
            values: values.map(part),
            dots,
            scores,
            visible: visible.slice(),
            weights: Array.from(weights),
            context: part(sum),
            off,
          });
        }
      }
      if (rows) rows.push(weights);
    }
    linear(block.out_proj, context, s.out); // out_proj mixes the heads
    return rows;
  }

  // --- the decoder: one new token through every block --------------------------------
  // A state holds the tokens so far, each block's cache of keys and values and, unless
  // made with {maps: false}, every layer's attention rows (for the maps).
  function newState(model, { maps = true } = {}) {
    return {
      tokens: [],
      // padding mask of greedy decoding: a <pad> key is hidden from every query
      visible: [],
      caches: model.blocks.map(() => ({
        keys: [],
        values: [],
        numHeads: model.config.num_heads,
      })),
      maps: maps ? model.blocks.map(() => []) : null, // [layer][head][query]: rows
    };
  }

  // A copy that later steps can extend without changing `state` (the arrays of keys,
  // values and rows are shared: no step changes them once made).
  function copyState(state) {
    return {
      tokens: state.tokens.slice(),
      visible: state.visible.slice(),
      caches: state.caches.map((c) => ({
        keys: c.keys.slice(),
        values: c.values.slice(),
        numHeads: c.numHeads,
      })),
      maps: state.maps && state.maps.map((heads) => heads.map((rows) => rows.slice())),
    };
  }

  // options (optional), or a plan of GPT.prepare: {ablate: ["layer.head", ...] switched
  // off (0-based), record: fn(info) called for every layer and head with the numbers of
  // its attention, logits: false when nobody reads this step's logits (only the keys and
  // values it adds to the cache: the last block computes those and stops; only on a
  // state made with {maps: false}, and step returns null)}
  function step(model, state, token, options) {
    const plan = PLANS.has(options) ? options : prepare(model, options);
    if (plan.model !== model) {
      throw new Error("options: a plan that GPT.prepare made for another model");
    }
    const { d_model: D, max_seq_len } = model.config;
    const t = state.tokens.length; // this token's position
    if (t >= max_seq_len) throw new Error(`the model has ${max_seq_len} positions`);
    checkToken(model, token, "token");
    if (!plan.logits && state.maps) {
      throw new Error(
        "options.logits false leaves the last layer's attention rows out: " +
          "use a state made with GPT.newState(model, {maps: false})",
      );
    }
    state.tokens.push(token);
    state.visible.push(token !== model.vocab["<pad>"]);
    const s = scratch(model, plan.record !== null);
    const z = s.z; // token embedding + learned position; dropout is off
    for (let i = 0; i < D; i++) {
      z[i] = model.tok_embed.data[token * D + i] + model.pos_embed.data[t * D + i];
    }
    const last = model.blocks.length - 1;
    for (let l = 0; l <= last; l++) {
      const block = model.blocks[l];
      const cache = state.caches[l];
      if (l === last && !plan.logits) {
        cache.keys.push(linear(block.W_key, z));
        cache.values.push(linear(block.W_value, z));
        return null;
      }
      const rows = attention(block, cache, state.visible, l, t, plan, s, !!state.maps);
      // AddNorm: layer_norm(x + sublayer(x))
      layerNorm(block.norm_1, add(z, s.out, s.sum), z);
      const hidden = linear(block.ffn_1, z, s.hidden);
      for (let i = 0; i < hidden.length; i++) hidden[i] = Math.max(hidden[i], 0); // ReLU
      layerNorm(block.norm_2, add(z, linear(block.ffn_2, hidden, s.out), s.sum), z);
      if (rows) {
        const maps = state.maps[l];
        if (!maps.length) for (let h = 0; h < rows.length; h++) maps.push([]);
        for (let h = 0; h < rows.length; h++) maps[h].push(rows[h]);
      }
    }
    const logits = linear(model.head, layerNorm(model.layer_norm, z, s.sum)); // (V,)
    // overflow or a NaN in the arithmetic: refuse to answer rather than pick a token
    checkFinite(logits, `the logits at position ${t}`);
    return { logits, probs: maskedSoftmax(logits, s.everyToken, logits.length) };
  }

  // The index of the largest of `values`, the first one where several are (arg-max)
  function argmax(values) {
    let best = 0;
    for (let j = 1; j < values.length; j++) if (values[j] > values[best]) best = j;
    return best;
  }

  // The full forward pass of GPTDecoder on a sequence: logits of every position, and
  // every layer's (H, L, L) attention weights (zero above the diagonal, as in
  // chapter3.gpt.attention_maps).
  function forward(model, tokens, options) {
    checkTokens(checkModel(model), tokens, "tokens");
    const plan = prepare(model, options);
    if (!plan.logits) {
      throw new Error("options.logits must not be false: forward returns the logits");
    }
    const state = newState(model);
    const logits = tokens.map((id) => step(model, state, id, plan).logits);
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
    checkModel(model);
    checkInt(maxNewTokens, "maxNewTokens", 1, MAX_SIZE);
    checkTokens(model, prompt, "prompt", false); // its length: once the padding is off
    // left padding is stripped, as greedy_decode does: the real tokens keep the positions
    // they had in training
    const start = prompt.findIndex((id) => id !== model.vocab["<pad>"]);
    if (start < 0) {
      throw new RangeError("prompt is all <pad>: there is nothing to complete");
    }
    const tokens = prompt.slice(start);
    const needed = tokens.length + maxNewTokens - 1; // the last new token is not fed back
    if (needed > model.config.max_seq_len) {
      throw new RangeError(
        `maxNewTokens=${maxNewTokens} after a prompt of ${tokens.length} tokens needs ` +
          `${needed} positions, config.max_seq_len is ${model.config.max_seq_len}`,
      );
    }
    const plan = prepare(model, options);
    const state = newState(model);
    let out;
    for (const id of tokens) out = step(model, state, id, plan);
    const steps = [];
    for (let k = 0; k < maxNewTokens; k++) {
      const probs = Array.from(out.probs);
      const token = argmax(probs);
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
      out = step(model, state, token, plan);
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

  // Python's _shown: the repr() of a text, or of its first 40 characters and its length
  const SHOWN = 40;
  function shown(text) {
    const chars = [...text];
    if (chars.length <= SHOWN) return pythonRepr(text);
    const head = pythonRepr(chars.slice(0, SHOWN).join(""));
    return `${head}… (${chars.length.toLocaleString("en")} characters)`;
  }

  // Why a near-miss question is refused: the same words as Python's _why_not
  function whyNot(question, numDigits) {
    const negative = /-[0-9]+/.exec(question);
    if (negative) {
      return (
        `: ${shown(negative[0])} is not a 1- to ${numDigits}-digit operand, ` +
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
    if (typeof question !== "string") {
      throw new TypeError(
        `question must be a str like '15+57=', got ${describe(question)}`,
      );
    }
    checkInt(numDigits, "numDigits", 1, 64);
    const digits = `([0-9]{1,${numDigits}})`;
    const pattern = new RegExp(`^${digits}\\+${digits}=$`);
    const match = pattern.exec(question.replace(STRIP, ""));
    if (!match) {
      throw new Error(
        "expected a question of the form 'a+b=' with a and b of 1 to " +
          `${numDigits} digits (e.g. '15+57='), got ${shown(question)}` +
          whyNot(question, numDigits),
      );
    }
    const pad = (s) => s.replace(/^0+(?=.)/, "").padStart(numDigits, "0");
    return `${pad(match[1])}+${pad(match[2])}=`;
  }

  // what_is: "15+57=" -> the prompt <BOS>15+57=, decoded greedily; answer without <EOS>
  function whatIs(model, question, options) {
    checkModel(model);
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
    copyState,
    prepare,
    step,
    argmax,
    forward,
    greedyDecode,
    parseQuestion,
    pythonRepr,
    whatIs,
  };
});
