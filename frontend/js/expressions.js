// Evaluates compiled Chorus expressions (the JSON AST made by app/instruments/expressions.py)
// with exactly the server's semantics, so skip logic and checks on the phone agree with the
// server. Shared vectors in tests/vectors/expressions.json prove it; change both sides together.

/**
 * @typedef {import('../types.js').Value} Value
 * @typedef {{lit: unknown} | {var: string} | {op: string, args: Ast[]}} Ast
 * @typedef {Record<string, unknown>} Answers
 */

/**
 * Maps an answer into the language's value space: non-finite numbers, objects and
 * undefined become null; lists keep only their scalar members.
 * @param {unknown} raw
 * @returns {Value}
 */
export function normalizeValue(raw) {
  if (raw === null || raw === undefined) return null;
  if (typeof raw === 'boolean' || typeof raw === 'string') return raw;
  if (typeof raw === 'number') return Number.isFinite(raw) ? raw : null;
  if (Array.isArray(raw)) {
    /** @type {Value[]} */
    const members = [];
    for (const item of raw) {
      const value = normalizeValue(item);
      if (!Array.isArray(value)) members.push(value);
    }
    return members;
  }
  return null;
}

/**
 * Unanswered means null, an empty or blank string, or an empty list.
 * Python's str.strip() and JS trim() differ on a few exotic spaces; both trim the ASCII and
 * common Unicode whitespace that a keyboard produces.
 * @param {Value} value
 * @returns {boolean}
 */
export function isAnswered(value) {
  if (value === null) return false;
  if (typeof value === 'string') return value.trim() !== '';
  if (Array.isArray(value)) return value.length > 0;
  return true;
}

/**
 * @param {Value} value
 * @returns {string}
 */
function typeTag(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'list';
  return typeof value;
}

/**
 * Strict equality: same type and value; lists are equal when they hold the same members.
 * @param {Value} left
 * @param {Value} right
 * @returns {boolean}
 */
export function valuesEqual(left, right) {
  if (typeTag(left) !== typeTag(right)) return false;
  if (Array.isArray(left) && Array.isArray(right)) {
    return (
      left.every((a) => right.some((b) => valuesEqual(a, b))) &&
      right.every((b) => left.some((a) => valuesEqual(b, a)))
    );
  }
  return left === right;
}

/**
 * Compares strings by Unicode code point, as Python does (JS `<` compares UTF-16 units).
 * @param {string} left
 * @param {string} right
 * @returns {number} negative, zero or positive
 */
function compareCodePoints(left, right) {
  const a = Array.from(left);
  const b = Array.from(right);
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i += 1) {
    const difference = /** @type {number} */ (a[i].codePointAt(0)) - /** @type {number} */ (b[i].codePointAt(0));
    if (difference !== 0) return difference;
  }
  return a.length - b.length;
}

/**
 * @param {string} operator
 * @param {Value} left
 * @param {Value} right
 * @returns {boolean}
 */
function order(operator, left, right) {
  /** @type {number} */
  let difference;
  if (typeof left === 'number' && typeof right === 'number') {
    if (operator === '<') return left < right;
    if (operator === '<=') return left <= right;
    if (operator === '>') return left > right;
    return left >= right;
  }
  if (typeof left === 'string' && typeof right === 'string') {
    difference = compareCodePoints(left, right);
  } else {
    return false;
  }
  if (operator === '<') return difference < 0;
  if (operator === '<=') return difference <= 0;
  if (operator === '>') return difference > 0;
  return difference >= 0;
}

/**
 * @param {number} number
 * @returns {number | null}
 */
function finiteOrNull(number) {
  return Number.isFinite(number) ? number : null;
}

/**
 * @param {string} operator
 * @param {Value} left
 * @param {Value} right
 * @returns {Value}
 */
function arithmetic(operator, left, right) {
  if (typeof left !== 'number' || typeof right !== 'number') return null;
  if (operator === '+') return finiteOrNull(left + right);
  if (operator === '-') return finiteOrNull(left - right);
  if (operator === '*') return finiteOrNull(left * right);
  if (right === 0) return null;
  return finiteOrNull(left / right);
}

/**
 * @param {Value} needle
 * @param {Value} haystack
 * @returns {boolean}
 */
function member(needle, haystack) {
  if (!Array.isArray(haystack)) return false;
  return haystack.some((item) => valuesEqual(needle, item));
}

/**
 * Reads an answer by name; own properties only, so 'constructor' or '__proto__' read as null.
 * @param {Answers} answers
 * @param {string} name
 * @returns {Value}
 */
function lookup(answers, name) {
  return Object.prototype.hasOwnProperty.call(answers, name) ? normalizeValue(answers[name]) : null;
}

/**
 * Evaluates a compiled expression against answers (item id → answer). Never throws for an
 * AST made by the server's compiler; unknown names read as null.
 * @param {Ast} ast
 * @param {Answers} answers
 * @returns {Value}
 */
export function evaluate(ast, answers) {
  if ('lit' in ast) return normalizeValue(ast.lit);
  if ('var' in ast) return lookup(answers, ast.var);
  const { op, args } = ast;
  switch (op) {
    case 'and':
      return args.every((argument) => evaluate(argument, answers) === true);
    case 'or':
      return args.some((argument) => evaluate(argument, answers) === true);
    case 'not':
      return evaluate(args[0], answers) !== true;
    case 'answered':
    case 'count_answered': {
      let count = 0;
      for (const argument of args) {
        if ('var' in argument && isAnswered(lookup(answers, argument.var))) count += 1;
      }
      return op === 'answered' ? count > 0 : count;
    }
    default:
      break;
  }
  const values = args.map((argument) => evaluate(argument, answers));
  switch (op) {
    case '==':
      return valuesEqual(values[0], values[1]);
    case '!=':
      return !valuesEqual(values[0], values[1]);
    case '<':
    case '<=':
    case '>':
    case '>=':
      return order(op, values[0], values[1]);
    case '+':
    case '-':
    case '*':
    case '/':
      return arithmetic(op, values[0], values[1]);
    case 'neg':
      return typeof values[0] === 'number' ? -values[0] : null;
    case 'in':
      return member(values[0], values[1]);
    case 'contains':
      return member(values[1], values[0]);
    case 'count':
      return Array.isArray(values[0]) ? values[0].length : 0;
    case 'sum': {
      let total = 0;
      let any = false;
      for (const value of values) {
        if (typeof value === 'number') {
          total += value;
          any = true;
        }
      }
      return any ? finiteOrNull(total) : null;
    }
    default:
      throw new Error(`unknown operator ${JSON.stringify(op)} in compiled expression`);
  }
}

/**
 * Evaluates as a condition: only the boolean true counts as true.
 * @param {Ast} ast
 * @param {Answers} answers
 * @returns {boolean}
 */
export function isTrue(ast, answers) {
  return evaluate(ast, answers) === true;
}
