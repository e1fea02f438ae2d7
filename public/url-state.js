// The page's URL parameters: every control of the plan on show, so that a URL opens the same view
// and changing a control updates the URL (history.replaceState, no reload). README.md documents them.

/** URL parameter -> control id, in the order the URL lists them. */
export const URL_PARAMS = [
  'model',
  'gpus',
  'granularity',
  'unitsPerGpu',
  'phase',
  'seqLen',
  'maxKvCacheFactor',
  'splitHeads',
  'layer',
];

/** Parameters left out of the URL while they hold these values (the URL stays short). */
const QUIET_DEFAULTS = { splitHeads: '0', layer: '0' };

/** Sets each control named in the page's query string (unknown names are ignored); returns the query. */
export function readUrl(controls, search = location.search) {
  const params = new URLSearchParams(search);
  for (const name of URL_PARAMS) {
    const control = controls[name];
    if (!control || !params.has(name) || name === 'model' || name === 'layer') continue;
    control.value = params.get(name);
  }
  return params;
}

/** The query string of the controls' current values. */
function urlOf(controls) {
  const params = new URLSearchParams();
  for (const name of URL_PARAMS) {
    const value = controls[name]?.value;
    if (value === undefined || value === '' || QUIET_DEFAULTS[name] === value) continue;
    params.set(name, value);
  }
  return `?${params}`;
}

/** Replaces the page's URL with the controls' values. */
export function writeUrl(controls) {
  const query = urlOf(controls);
  if (query !== location.search) history.replaceState(null, '', query === '?' ? location.pathname : query);
}
