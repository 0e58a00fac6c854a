// Test driver for docs/_static/live/mask_playground.js (run by tests/test_js_masks.py).
// usage: node check_masks.js > RESULT.json
// RESULT: one entry per preset and convention: {preset, state, attend, mask, weights}, with
// -Infinity written as "-inf" and NaN as "nan" (JSON has neither).
"use strict";
const path = require("path");
const Playground = require(
  path.resolve(__dirname, "../../docs/_static/live/mask_playground.js"),
);

const plain = (x) =>
  typeof x === "number" && Number.isNaN(x) ? "nan" : x === -Infinity ? "-inf" : x;
const results = [];
for (const preset of Playground.PRESETS) {
  for (const convention of Object.keys(Playground.CONVENTIONS)) {
    const state = { ...preset.state, convention };
    const r = Playground.compute(state);
    results.push({
      preset: preset.name,
      state,
      own: convention === preset.state.convention,
      attend: r.attend,
      mask: r.mask.map((row) => row.map(plain)),
      weights: r.weights.map((row) => row.map(plain)),
    });
  }
}
process.stdout.write(JSON.stringify(results));
