// Test driver for docs/_static/live/gpt.js (run by tests/test_js_adder.py).
// usage: node check_adder.js MODEL.js REQUEST.json [GPT.js] > RESULT.json
//   GPT.js: the decoder to check (default docs/_static/live/gpt.js; the tests plant bugs in
//   a copy to show that they catch them)
// REQUEST: {"all": true, "detail": [[a, b], ...], "forward": [[ids], ...],
//           "questions": ["1a+2=", ...], "greedy": [[ids], ...]}
// RESULT: {"answers": [4 generated ids of every sum a+b, a-major], "detail": [...],
//          "questions": [{"padded": ...} or {"error": ...}], "greedy": [[generated ids], ...],
//          "seconds", "cpu_seconds"}
"use strict";
const fs = require("fs");
const path = require("path");

const [modelFile, requestFile, gptFile] = process.argv.slice(2);
const GPT = require(
  path.resolve(gptFile || path.join(__dirname, "../../docs/_static/live/gpt.js")),
);
require(path.resolve(modelFile)); // sets globalThis.ADDER_MODEL
const model = GPT.loadModel(globalThis.ADDER_MODEL);
const request = JSON.parse(fs.readFileSync(requestFile, "utf-8"));
const result = { answers: [], detail: [], forward: [], questions: [], greedy: [] };

const started = process.hrtime.bigint();
const cpu = process.cpuUsage();
const pad2 = (n) => String(n).padStart(2, "0");
if (request.all) {
  for (let a = 0; a < 100; a++) {
    for (let b = 0; b < 100; b++) {
      result.answers.push(GPT.whatIs(model, `${a}+${b}=`).generated);
    }
  }
}
result.seconds = Number(process.hrtime.bigint() - started) / 1e9;
result.cpu_seconds = process.cpuUsage(cpu).user / 1e6;

for (const [a, b] of request.detail || []) {
  const run = GPT.whatIs(model, `${pad2(a)}+${pad2(b)}=`);
  result.detail.push(
    run.steps.map((s) => ({
      token: s.token,
      probs: s.probs,
      tokens: s.tokens,
      maps: s.maps.map((heads) =>
        heads.map((rows) => rows.map((row) => Array.from(row))),
      ),
    })),
  );
}
for (const tokens of request.forward || []) {
  const { logits, maps } = GPT.forward(model, tokens);
  result.forward.push({ logits: logits.map((row) => Array.from(row)), maps });
}
for (const question of request.questions || []) {
  try {
    result.questions.push({ padded: GPT.parseQuestion(question) });
  } catch (error) {
    result.questions.push({ error: error.message });
  }
}
for (const prompt of request.greedy || []) {
  result.greedy.push(GPT.greedyDecode(model, prompt, 4).generated);
}
process.stdout.write(JSON.stringify(result));
