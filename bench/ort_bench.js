#!/usr/bin/env node
// Times an ONNX model in onnxruntime-node (CPU provider), for bench/cpu_bench.py.
//
//   node ort_bench.js model.onnx --input NAME=FILE.npy ... [--threads T] [--runs N]
//        [--warmup W] [--output-dir DIR] [--ort DIR]
//
// Loads the model with T intra-op threads (default 2) and one inter-op thread (sequential
// execution, all graph optimizations), runs it W times (default 1) untimed, then N times
// (default 10) timed one by one, and prints, like `sqz-run --bench`:
//
//   load <v> ms
//   bench: <N> runs after <W> warm-up runs
//   min <v> ms
//   median <v> ms
//   max <v> ms
//
// With --output-dir, the outputs of the first run are written as DIR/<name>.npy (characters
// other than `A-Z a-z 0-9 . _ -` in the name become `_`). onnxruntime-node is looked up in
// --ort DIR, $SQZ_ORT_DIR, <repo>/third_party/ort, <repo>/build-bench-node, then the normal
// Node.js module path. Exit 0 on success, 2 on any error.
'use strict';

const path = require('path');

// The .npy reader/writer and the onnxruntime lookup of the real-model tests' runner.
const { die, readFeeds, writeOutputs, loadOrt: loadOrtFrom } =
    require(path.join(__dirname, '..', 'test', 'realmodels', 'ort_run.js'));

function loadOrt(explicitDir) {
  return loadOrtFrom(explicitDir, [path.resolve(__dirname, '..', 'build-bench-node')]);
}

async function main() {
  const args = process.argv.slice(2);
  let model = null, outDir = null, ortDir = null, threads = 2, runs = 10, warmup = 1;
  const inputs = [];
  for (let i = 0; i < args.length; ++i) {
    const a = args[i];
    const next = () => {
      if (i + 1 >= args.length) die(`${a} needs a value`);
      return args[++i];
    };
    const int = (v) => {
      if (!/^\d+$/.test(v)) die(`${a} needs a non-negative integer, got '${v}'`);
      return Number(v);
    };
    if (a === '--input') inputs.push(next());
    else if (a === '--threads') threads = int(next());
    else if (a === '--runs') runs = int(next());
    else if (a === '--warmup') warmup = int(next());
    else if (a === '--output-dir') outDir = next();
    else if (a === '--ort') ortDir = next();
    else if (a.startsWith('--')) die(`unknown option ${a}`);
    else if (model === null) model = a;
    else die(`unexpected argument ${a}`);
  }
  if (!model) die('usage: ort_bench.js model.onnx --input NAME=FILE.npy ... [--threads T] [--runs N]');
  const ort = loadOrt(ortDir);

  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const feeds = readFeeds(ort, session, inputs);

  for (let i = 0; i < Math.max(warmup, outDir ? 1 : 0); ++i) {
    const results = await session.run(feeds);
    if (i === 0 && outDir) writeOutputs(session, results, outDir);
  }
  const times = [];
  for (let i = 0; i < runs; ++i) {
    const s = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  times.sort((a, b) => a - b);
  const median = times.length % 2 ? times[(times.length - 1) / 2]
                                  : (times[times.length / 2 - 1] + times[times.length / 2]) / 2;
  process.stdout.write(`load ${loadMs.toFixed(1)} ms\n`);
  process.stdout.write(`bench: ${runs} runs after ${warmup} warm-up runs\n`);
  if (runs > 0)
    process.stdout.write(`min ${times[0].toFixed(3)} ms\nmedian ${median.toFixed(3)} ms\n` +
                         `max ${times[times.length - 1].toFixed(3)} ms\n`);
}

main().catch((e) => die(e && e.message ? e.message : String(e)));
