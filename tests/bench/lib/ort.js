// Loads onnxruntime-node from tests/bench/scratch and opens single-thread sessions.
'use strict';
const path = require('path');

function loadOrt() {
  const p = path.join(__dirname, '..', 'scratch', 'node_modules', 'onnxruntime-node');
  try {
    return require(p);
  } catch (e) {
    console.error(`onnxruntime-node not installed in tests/bench/scratch: run sh tests/bench/setup.sh (${e.message})`);
    process.exit(77);
  }
}

async function openSession(ort, model, threads) {
  return ort.InferenceSession.create(model, {
    intraOpNumThreads: threads || 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  });
}

module.exports = { loadOrt, openSession };
