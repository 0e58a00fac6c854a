// Test driver for the trace and ablation hooks of gpt.js and ablate.js (tests/test_js_trace.py).
// usage: node check_trace.js MODEL.js REQUEST.json [GPT.js] > RESULT.json
// REQUEST: {"trace": [{"tokens": [ids], "layer": l, "head": h, "row": i, "ablate": [...]}],
//           "ablate": [["0.3"], ["0.3", "1.5"], ...], "whatIs": [{"q": "55+45=",
//           "ablate": [...]}], "scorerPath": [{"tokens": [ids], "ablate": [...]}]}
// RESULT: {"trace": [{record of (layer, head, row)}, ...], "ablate": [[indices 100 a + b
//          of the sums it gets wrong], ...], "whatIs": [...], "seconds": [...],
//          "cpu_seconds": [...], "scorerPath": [[differing logits], ...]}
"use strict";
const fs = require("fs");
const path = require("path");

const [modelFile, requestFile, gptFile] = process.argv.slice(2);
const live = path.join(__dirname, "../../docs/_static/live");
const GPT = require(path.resolve(gptFile || path.join(live, "gpt.js")));
const ABLATE = require(path.join(live, "ablate.js"));
require(path.resolve(modelFile)); // sets globalThis.ADDER_MODEL
const model = GPT.loadModel(globalThis.ADDER_MODEL);
const request = JSON.parse(fs.readFileSync(requestFile, "utf-8"));
const result = { trace: [], ablate: [], whatIs: [], seconds: [], cpu_seconds: [] };

for (const { tokens, layer, head, row, ablate } of request.trace || []) {
  let found = null;
  const record = (info) => {
    if (info.layer === layer && info.head === head && info.position === row) found = info;
  };
  const { maps } = GPT.forward(model, tokens, { ablate, record });
  found.cells = maps[layer][head][row]; // what the heatmap shows for that row
  result.trace.push(found);
}
for (const heads of request.ablate || []) {
  const started = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const right = ABLATE.scoreRows(GPT, model, heads, 0, 100, new Uint8Array(10000));
  result.seconds.push(Number(process.hrtime.bigint() - started) / 1e9);
  result.cpu_seconds.push(process.cpuUsage(cpu).user / 1e6);
  result.ablate.push(ABLATE.wrongOf(right));
}
// The scorer's way through the decoder (ablate.js: a state without maps, copied after the
// shared first tokens, the question's tokens with options.logits false) against forward():
// the logits of every position from "=" on must be the same floats, bit for bit.
result.scorerPath = [];
for (const { tokens, ablate } of request.scorerPath || []) {
  const { logits } = GPT.forward(model, tokens, { ablate });
  const feed = GPT.prepare(model, { ablate, logits: false });
  const answer = GPT.prepare(model, { ablate });
  let state = GPT.newState(model, { maps: false });
  const differ = [];
  tokens.forEach((id, t) => {
    if (t === 4) state = GPT.copyState(state);
    if (t < 6) return void GPT.step(model, state, id, feed);
    const out = GPT.step(model, state, id, answer);
    out.logits.forEach((x, k) => {
      if (!Object.is(x, logits[t][k])) differ.push([t, k, x, logits[t][k]]);
    });
  });
  result.scorerPath.push(differ);
}
for (const { q, ablate } of request.whatIs || []) {
  result.whatIs.push(GPT.whatIs(model, q, { ablate }).answer);
}
process.stdout.write(JSON.stringify(result));
