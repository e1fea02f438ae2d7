/**
 * The paper's flagship profile: what the CLI plans when no model is named, the model of the
 * README's evaluation and of the benchmarks' lookups. public/app.js opens the page on the same id
 * (a browser script cannot import this; test/page/plan-page.test.ts checks that they agree).
 */
export const FLAGSHIP_MODEL = 'llama-3-8b-instruct-262k-minference';
