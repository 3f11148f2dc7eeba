// Evaluates compiled expressions with frontend/js/expressions.js for the Python test suite.
// Usage: node run_js_expressions.mjs cases.json  (cases: [{ast, answers}]) → JSON results on stdout.
import { readFileSync } from 'node:fs';
import { evaluate } from '../../frontend/js/expressions.js';

const cases = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const results = cases.map((item) => {
  try {
    return { value: evaluate(item.ast, item.answers) };
  } catch (error) {
    return { error: String(error) };
  }
});
process.stdout.write(JSON.stringify(results));
