/** The OpenAPI document, the single source of truth of the HTTP contract, read once at start-up. */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/** The repository root: this module sits two levels below it as src/contract (tsx) and dist/contract (tsc). */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function openApiPath(): string {
  return resolve(ROOT, 'openapi.yaml');
}

/** The plan visualizer's folder, served at / when present. */
export function publicDir(): string {
  return resolve(ROOT, 'public');
}

export interface OpenApiParameter {
  readonly name: string;
  readonly in: 'query' | 'path' | 'header' | 'cookie';
  readonly required?: boolean;
  readonly schema?: object;
}

export interface OpenApiOperation {
  readonly operationId: string;
  readonly parameters?: readonly (OpenApiParameter | { readonly $ref: string })[];
  readonly requestBody?: { readonly content: Record<string, { readonly schema: object }> };
}

export interface OpenApiDocument {
  readonly openapi: string;
  readonly paths: Record<string, Record<string, OpenApiOperation>>;
  readonly components: {
    readonly schemas: Record<string, object>;
    readonly parameters?: Record<string, OpenApiParameter>;
  };
}

export interface LoadedSpec {
  /** The YAML text, served as is at GET /openapi.yaml. */
  readonly text: string;
  readonly document: OpenApiDocument;
}

export function loadSpec(path: string = openApiPath()): LoadedSpec {
  const text = readFileSync(path, 'utf8');
  return { text, document: parse(text) as OpenApiDocument };
}
