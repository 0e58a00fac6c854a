// Bad weights and bad strings fed to docs/_static/live/gpt.js (run by tests/test_js_decoder.py).
// usage: node check_bad_inputs.js MODEL.js [GPT.js] > RESULT.json
// MODEL.js sets globalThis.ADDER_MODEL (any model that live_adder.export_model wrote).
// RESULT: [{"name", "field", "threw", "error", "message"}, ...]: for each case, the field
// its error message must name, and what gpt.js did.
"use strict";
const path = require("path");

const [modelFile, gptFile] = process.argv.slice(2);
const GPT = require(
  path.resolve(gptFile || path.join(__dirname, "../../docs/_static/live/gpt.js")),
);
require(path.resolve(modelFile));
const exported = globalThis.ADDER_MODEL;
const copy = () => JSON.parse(JSON.stringify(exported));
const model = GPT.loadModel(copy());
const { config } = exported;
const BOS = exported.vocab["<BOS>"];
const PAD = exported.vocab["<pad>"];

function floats(e) {
  const bytes = Buffer.from(e.weights, "base64");
  return Float32Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4));
}
function setFloats(e, values) {
  e.weights = Buffer.from(values.buffer).toString("base64");
}
// load an edited copy of the export and ask it a question
function edited(change) {
  return () => {
    const e = copy();
    const replaced = change(e);
    const loaded = GPT.loadModel(replaced === undefined ? e : replaced);
    return GPT.whatIs(loaded, "15+57=").answer;
  };
}
function editedWeights(change) {
  return edited((e) => {
    const values = floats(e);
    change(values, e);
    setFloats(e, values);
  });
}
const offset = (e, name) => e.tensors[name][0];
const block = "decoder_blocks.0";
const attn = `${block}.masked_self_attention`;

const cases = [];
const refuse = (name, field, run) => cases.push({ name, field, run });

// --- the export against its config -------------------------------------------------------
refuse("no export", "export", edited(() => null));
refuse("an array as export", "export", edited(() => []));
refuse("another format", "format", edited((e) => void (e.format = "chapter3-adder-js/0")));
refuse("no config", "config", edited((e) => void (e.config = null)));
for (const field of ["vocab_size", "max_seq_len", "d_model", "num_heads", "num_layers", "d_ff"]) {
  refuse(`${field} 0`, field, edited((e) => void (e.config[field] = 0)));
  refuse(`${field} a string`, field, edited((e) => void (e.config[field] = "4")));
  refuse(`${field} fractional`, field, edited((e) => void (e.config[field] += 0.25)));
  refuse(`${field} true`, field, edited((e) => void (e.config[field] = true)));
}
refuse("num_layers huge", "num_layers", edited((e) => void (e.config.num_layers = 2 ** 40)));
refuse("d_model not divisible", "num_heads", edited((e) => void (e.config.num_heads = 5)));
refuse("one layer too many", "decoder_blocks", edited((e) => void (e.config.num_layers += 1)));
refuse("one layer too few", "decoder_blocks", edited((e) => void (e.config.num_layers -= 1)));
refuse("wider d_model", "has shape", edited((e) => {
  e.config.d_model += e.config.num_heads;
}));
refuse("d_ff mismatch", "ffn.0", edited((e) => void (e.config.d_ff += 1)));
refuse("vocab_size mismatch", "vocab", edited((e) => void (e.config.vocab_size -= 1)));
refuse("max_seq_len mismatch", "pos_embed", edited((e) => void (e.config.max_seq_len += 1)));
refuse("NaN weight", "weights", editedWeights((v) => void (v[3] = NaN)));
refuse("Infinity weight", "weights", editedWeights((v) => void (v[v.length - 2] = Infinity)));
refuse("-Infinity weight", "weights", editedWeights((v) => void (v[v.length >> 1] = -Infinity)));
refuse("weights cut in half", "weights", edited((e) => {
  setFloats(e, floats(e).slice(0, exported.num_parameters >> 1));
}));
refuse("one weight extra", "weights", edited((e) => {
  const values = new Float32Array(exported.num_parameters + 1);
  values.set(floats(e));
  setFloats(e, values);
}));
refuse("weights not base64", "weights", edited((e) => void (e.weights = "<-- not base64 -->")));
refuse("weights of 6 bytes", "weights", edited((e) => void (e.weights = "AAAAAAAA")));
refuse("weights a list", "weights", edited((e) => void (e.weights = [1, 2, 3])));
refuse("no tensors", "tensors", edited((e) => void delete e.tensors));
refuse("a tensor missing", "out_proj.weight", edited((e) => {
  delete e.tensors[`${attn}.out_proj.weight`];
}));
refuse("a norm bias missing", "layer_norm.bias", edited((e) => void delete e.tensors["layer_norm.bias"]));
refuse("every other tensor missing", "tensor", edited((e) => {
  Object.keys(e.tensors).forEach((n, i) => i % 2 && delete e.tensors[n]);
}));
refuse("a transposed tensor", "ffn.0.weight", edited((e) => {
  e.tensors[`${block}.feed_forward.ffn.0.weight`][1].reverse();
}));
refuse("a tensor of the wrong rank", "pos_embed", edited((e) => void e.tensors.pos_embed[1].shift()));
refuse("an unknown tensor", "rotary.freqs", edited((e) => void (e.tensors["rotary.freqs"] = [0, [2]])));
refuse("a qkv bias of the wrong shape", "W_key.bias", edited((e) => {
  e.tensors[`${attn}.W_key.bias`] = [0, [config.d_model + 1]];
}));
refuse("two tensors overlap", "head.", edited((e) => {
  e.tensors["head.bias"][0] = offset(e, "head.weight");
}));
refuse("a negative offset", "head.bias", edited((e) => void (e.tensors["head.bias"][0] = -4)));
refuse("an offset past the end", "head.bias", edited((e) => {
  e.tensors["head.bias"][0] = exported.num_parameters;
}));
refuse("an entry that is not [offset, shape]", "head.bias", edited((e) => {
  e.tensors["head.bias"] = { offset: 0 };
}));
refuse("no vocab", "vocab", edited((e) => void delete e.vocab));
refuse("vocab without <BOS>", "<BOS>", edited((e) => void delete e.vocab["<BOS>"]));
refuse("vocab with a shared id", "vocab", edited((e) => void (e.vocab["1"] = e.vocab["2"])));
refuse("vocab with id 2.5", "vocab", edited((e) => void (e.vocab["3"] = 2.5)));
refuse("vocab with an id past vocab_size", "vocab", edited((e) => {
  e.vocab["3"] = config.vocab_size;
}));
refuse("num_digits 0", "num_digits", edited((e) => void (e.num_digits = 0)));
refuse("num_digits too many for max_seq_len", "num_digits", edited((e) => {
  e.num_digits = 3;
}));
refuse("layer_norm_eps 0", "layer_norm_eps", edited((e) => void (e.layer_norm_eps = 0)));
refuse("layer_norm_eps NaN", "layer_norm_eps", edited((e) => void (e.layer_norm_eps = NaN)));
refuse("layer_norm_eps a string", "layer_norm_eps", edited((e) => void (e.layer_norm_eps = "1e-5")));
refuse("num_parameters wrong", "num_parameters", edited((e) => void (e.num_parameters -= 1)));
// a NaN or an infinity that reaches the logits (here: put into a loaded model's arrays)
// makes the decoding step refuse to answer
for (const [label, bad] of [["NaN", NaN], ["Infinity", Infinity]]) {
  refuse(`a ${label} in a loaded model`, "logits", () => {
    const broken = GPT.loadModel(copy());
    broken.blocks[0].ffn_2.weight.data[1] = bad;
    return GPT.whatIs(broken, "15+57=").answer;
  });
  refuse(`a ${label} in forward()`, "logits", () => {
    const broken = GPT.loadModel(copy());
    broken.head.bias.data[0] = bad;
    return GPT.forward(broken, [BOS]).logits;
  });
}

// --- questions, token ids, counts ----------------------------------------------------------
for (const [label, question] of [
  ["a number", 1557],
  ["null", null],
  ["undefined", undefined],
  ["an array", ["15+57="]],
  ["a String object", new String("15+57=")],
]) {
  refuse(`question ${label}`, "question", () => GPT.whatIs(model, question));
}
refuse("a question of 100,000 characters", "100,000 characters", () => {
  GPT.whatIs(model, "15+57=".repeat(16667).slice(0, 100000));
});
refuse("parseQuestion numDigits 0", "numDigits", () => GPT.parseQuestion("1+2=", 0));
refuse("parseQuestion numDigits '2'", "numDigits", () => GPT.parseQuestion("1+2=", "2"));
refuse("whatIs without a model", "model", () => GPT.whatIs(undefined, "1+2="));
refuse("whatIs with the export, not the model", "model", () => GPT.whatIs(copy(), "1+2="));
for (const [label, bad] of [
  ["1.5", 1.5],
  ["true", true],
  ["'3'", "3"],
  ["null", null],
  ["NaN", NaN],
  ["-1", -1],
  ["vocab_size", config.vocab_size],
  ["2^53", 2 ** 53],
]) {
  refuse(`prompt id ${label}`, "prompt[1]", () => GPT.greedyDecode(model, [BOS, bad], 2));
  refuse(`forward id ${label}`, "tokens[0]", () => GPT.forward(model, [bad]));
}
refuse("an empty prompt", "prompt", () => GPT.greedyDecode(model, [], 2));
refuse("a prompt that is a string", "prompt", () => GPT.greedyDecode(model, "15", 2));
refuse("a prompt of only <pad>", "<pad>", () => GPT.greedyDecode(model, [PAD, PAD], 2));
refuse("a left-padded prompt with no room left", "max_seq_len", () => {
  GPT.greedyDecode(model, [PAD, ...Array(config.max_seq_len).fill(BOS)], 2);
});
refuse("a prompt longer than max_seq_len", "max_seq_len", () => {
  GPT.greedyDecode(model, Array(config.max_seq_len + 1).fill(BOS), 1);
});
refuse("a prompt with no room left", "max_seq_len", () => {
  GPT.greedyDecode(model, Array(config.max_seq_len).fill(BOS), 2);
});
for (const [label, n] of [["-1", -1], ["0", 0], ["2.5", 2.5], ["'4'", "4"], ["true", true], ["Infinity", Infinity]]) {
  refuse(`maxNewTokens ${label}`, "maxNewTokens", () => GPT.greedyDecode(model, [BOS], n));
}
refuse("forward of no tokens", "tokens", () => GPT.forward(model, []));
refuse("forward past max_seq_len", "max_seq_len", () => {
  GPT.forward(model, Array(config.max_seq_len + 1).fill(BOS));
});
refuse("forward of a string", "tokens", () => GPT.forward(model, "15+57="));
refuse("forward without a model", "model", () => GPT.forward(null, [BOS]));
for (const [label, options] of [
  ["a string", "0.1"],
  ["ablate not an array", { ablate: "0.1" }],
  ["ablate a layer past the last", { ablate: [`${config.num_layers}.0`] }],
  ["ablate a head past the last", { ablate: [`0.${config.num_heads}`] }],
  ["ablate a number", { ablate: [1] }],
  ["record not a function", { record: true }],
  ["logits not true or false", { logits: "no" }],
  ["logits false where forward returns them", { logits: false }],
]) {
  const field =
    label === "a string" ? "options" : `options.${Object.keys(options)[0]}`;
  refuse(`options: ${label}`, field, () => GPT.forward(model, [BOS], options));
}
// a step whose logits nobody reads leaves the last layer's attention rows out: only on a
// state that keeps no maps; a plan (GPT.prepare) is for the model it was made for
refuse("options.logits false on a state with maps", "options.logits", () =>
  GPT.step(model, GPT.newState(model), BOS, { logits: false }),
);
refuse("a plan of another model", "options", () => {
  const other = GPT.loadModel(copy());
  return GPT.step(other, GPT.newState(other), BOS, GPT.prepare(model, {}));
});
refuse("prepare without a model", "model", () => GPT.prepare(null, {}));

const results = cases.map(({ name, field, run }) => {
  try {
    return { name, field, threw: false, returned: JSON.stringify(run()) ?? "undefined" };
  } catch (error) {
    return { name, field, threw: true, error: error.name, message: String(error.message) };
  }
});
process.stdout.write(JSON.stringify(results));
