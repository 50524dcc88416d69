// Redraws the chart from a saved `npm run bench` result, without measuring again:
// npm run bench:chart -- bench/results/bench-DATE.json [docs/benchmarks.svg]
import { readFileSync, writeFileSync } from 'node:fs';
import { type ChartInput, throughputChart } from './chart.js';

const [input, output = new URL('../docs/benchmarks.svg', import.meta.url).pathname] =
  process.argv.slice(2);
if (!input) {
  console.error('usage: npm run bench:chart -- RESULTS.json [OUT.svg]');
  process.exit(2);
}
const saved = JSON.parse(readFileSync(input, 'utf8')) as ChartInput;
writeFileSync(output, throughputChart(saved));
console.log(`chart: ${output}`);
