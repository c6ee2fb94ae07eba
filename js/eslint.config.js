// ESLint flat config: @eslint/js recommended rules over the front end (browser ESM) and its
// tests (vitest, run in Node / jsdom). `npm run lint`; scripts/test.sh runs it.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["node_modules/**"] },
  js.configs.recommended,
  {
    files: ["src/**/*.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: { ...globals.browser } },
  },
  {
    files: ["tests/**/*.js", "eslint.config.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: { ...globals.browser, ...globals.node } },
  },
  {
    rules: {
      // `catch (e) { /* ignore */ }` is how the code says a failure is expected
      "no-unused-vars": ["error", { caughtErrors: "none", argsIgnorePattern: "^_" }],
    },
  },
];
