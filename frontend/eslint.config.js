// ESLint for the participant app (flat config). `make lint` runs it with `tsc` (jsconfig*.json).
import js from '@eslint/js';
import globals from 'globals';

export default [
  { ignores: ['node_modules/', 'tools/'] },
  js.configs.recommended,
  {
    files: ['**/*.js'],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: { ...globals.browser },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-var': 'error',
      'prefer-const': 'error',
      'no-implicit-coercion': ['error', { allow: ['!!'] }],
      'no-unused-vars': ['error', { args: 'after-used', argsIgnorePattern: '^_', caughtErrors: 'none' }],
      'no-shadow': 'error',
      'no-param-reassign': 'error',
      // console.log is a leftover; warn/error report technical failures (never personal data).
      'no-console': ['error', { allow: ['warn', 'error'] }],
      'no-eval': 'error',
      'no-implied-eval': 'error',
      'no-new-func': 'error',
      'no-script-url': 'error',
      'no-restricted-properties': [
        'error',
        { property: 'innerHTML', message: 'Text goes into the DOM as text: use h() from ui.js.' },
        { property: 'outerHTML', message: 'Text goes into the DOM as text: use h() from ui.js.' },
        { property: 'insertAdjacentHTML', message: 'Text goes into the DOM as text: use h() from ui.js.' },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.property.name='setAttribute'][arguments.0.value='style']",
          message: 'No style attributes (the CSP forbids them): use classes, or CSSOM as withColour() in ui.js does.',
        },
        {
          selector: "CallExpression[callee.name='h'] > ObjectExpression > Property[key.name='style']",
          message: 'No style attributes (the CSP forbids them): use classes, or CSSOM as withColour() in ui.js does.',
        },
      ],
    },
  },
  {
    files: ['sw.js'],
    languageOptions: { globals: { ...globals.serviceworker } },
  },
  {
    files: ['eslint.config.js'],
    languageOptions: { globals: { ...globals.node } },
  },
];
