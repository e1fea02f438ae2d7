/**
 * What every SVG plot of the evaluation shares: fixed-format coordinates, escaped text and the
 * document frame with its title, description and generated-by comment.
 */
import { fixed } from './format.ts';
import { GENERATED_BY } from './settings.ts';

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, sans-serif"';

/** Escapes text for element content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A coordinate: two decimals, fixed. */
export const c = (value: number): string => fixed(value, 2);

export function text(x: number, y: number, content: string, attrs = ''): string {
  return `<text x="${c(x)}" y="${c(y)}"${attrs ? ` ${attrs}` : ''}>${escapeXml(content)}</text>`;
}

export function svgDocument(
  width: number,
  height: number,
  title: string,
  desc: string,
  body: readonly string[],
): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}"` +
      ` role="img" aria-labelledby="title desc" ${FONT} font-size="12">`,
    `<!-- ${GENERATED_BY} -->`,
    `<title id="title">${escapeXml(title)}</title>`,
    `<desc id="desc">${escapeXml(desc)}</desc>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
