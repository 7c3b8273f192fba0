// The parse floor: read and parse every file once with tree-sitter and nothing else, split over
// `jobs` worker threads (largest files first, each to the least-loaded worker). Usage:
//   node bench/parse-floor.mjs <jobs> <file-list>
import { readFileSync } from 'node:fs';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import Parser from 'tree-sitter';
import Elixir from 'tree-sitter-elixir';

if (isMainThread) {
  const jobs = Number(process.argv[2]);
  const files = readFileSync(process.argv[3], 'utf8').split('\n').filter(Boolean);
  const sized = files.map((f) => [f, readFileSync(f).length]).sort((a, b) => b[1] - a[1]);
  const shares = Array.from({ length: jobs }, () => ({ files: [], bytes: 0 }));
  for (const [f, n] of sized) {
    const s = shares.reduce((a, b) => (b.bytes < a.bytes ? b : a));
    s.files.push(f);
    s.bytes += n;
  }
  let nodes = 0;
  await Promise.all(
    shares.map(
      (s) =>
        new Promise((resolve, reject) => {
          const w = new Worker(new URL(import.meta.url), { workerData: s.files });
          w.on('message', (n) => (nodes += n));
          w.on('error', reject);
          w.on('exit', resolve);
        }),
    ),
  );
  console.log(JSON.stringify({ files: files.length, nodes }));
} else {
  const parser = new Parser();
  parser.setLanguage(Elixir);
  let count = 0;
  for (const f of workerData) {
    const text = readFileSync(f, 'utf8');
    const tree = parser.parse(text, undefined, { bufferSize: text.length * 2 + 1024 });
    count += tree.rootNode.descendantCount;
  }
  parentPort.postMessage(count);
}
