// Runs the shared answer-check vectors (tests/vectors/answers.json) through
// frontend/js/questionnaire.js for the Python test suite.
// Usage: node run_js_answers.mjs input.json  (input: {instrument, checks, typed, patterns}) →
// {checks: [code | null], typed: [value | null], patterns: [error | null]} on stdout.
import { readFileSync } from 'node:fs';
import { allSteps, checkStep, parseTypedNumber } from '../../frontend/js/questionnaire.js';

const input = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const items = Object.fromEntries(allSteps(input.instrument).map((step) => [step.item.id, step.item]));
const out = {
  checks: input.checks.map(({ item, value }) => {
    const problem = checkStep(input.instrument, items[item], { [item]: value });
    return problem ? problem.code : null;
  }),
  typed: input.typed.map(({ text, type, separator }) => parseTypedNumber(text, type === 'integer', separator) ?? null),
  patterns: input.patterns.map((pattern) => {
    try {
      new RegExp(`^(?:${pattern})$`, 'u');
      return null;
    } catch (error) {
      return String(error);
    }
  }),
};
process.stdout.write(JSON.stringify(out));
