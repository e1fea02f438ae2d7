// Types of url-state.js for the TypeScript code that imports it.

/** A control as the URL reads and writes it. */
interface Control {
  value: string;
}

/** URL parameter -> control id (the same name), in the order the URL lists them. */
export const URL_PARAMS: readonly string[];

/** Sets each control named in the query string (unknown names are ignored); returns the query. */
export function readUrl(controls: Readonly<Record<string, Control | undefined>>, search?: string): URLSearchParams;

/** Replaces the page's URL with the controls' values. */
export function writeUrl(controls: Readonly<Record<string, Control | undefined>>): void;
