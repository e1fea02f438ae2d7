/**
 * The deployment examples in deploy/ are wired as the service expects: they parse, their
 * environment variables are ones the service reads, ports and probe paths agree with each other,
 * with nginx's upstreams and with openapi.yaml, and REDIS_URL reaches a Redis configured to evict.
 * Docker and Kubernetes do not run here; nginx checks its configuration when it is installed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const read = (path: string): string => readFileSync(resolve(ROOT, path), 'utf8');
const NGINX = '/usr/sbin/nginx';

/** Every environment variable src/config.ts reads. */
function serviceVariables(): Set<string> {
  const source = read('src/config.ts');
  return new Set([...source.matchAll(/env: '([A-Z0-9_]+)'|env\.([A-Z0-9_]+)/g)].map((m) => m[1] ?? m[2]));
}

/** Redis command-line arguments as a map: --maxmemory-policy allkeys-lru -> maxmemory-policy: allkeys-lru. */
function redisArgs(args: string[]): Map<string, string> {
  const options = new Map<string, string>();
  for (let i = 0; i < args.length; i++) if (args[i].startsWith('--')) options.set(args[i].slice(2), args[i + 1]);
  return options;
}

function assertEvicts(args: string[], where: string): void {
  const options = redisArgs(args);
  assert.ok(options.get('maxmemory'), `${where} bounds Redis's memory`);
  assert.ok(['allkeys-lru', 'volatile-lru'].includes(options.get('maxmemory-policy') ?? ''), `${where} evicts LRU`);
}

const openapiPaths = Object.keys((parse(read('openapi.yaml')) as { paths: Record<string, unknown> }).paths);

type Env = Record<string, string>;

describe('deploy/compose.yaml and nginx.conf', () => {
  const compose = parse(read('deploy/compose.yaml')) as {
    services: Record<string, { environment?: Env; command?: string[]; ports?: string[]; volumes?: string[] }>;
  };
  const replicas = Object.entries(compose.services).filter(([name]) => name.startsWith('hplb-'));
  const nginx = read('deploy/nginx.conf');

  it('runs two replicas of the service, with variables the service reads and REDIS_URL on the redis service', () => {
    assert.equal(replicas.length, 2);
    const known = serviceVariables();
    for (const [name, service] of replicas) {
      const env = service.environment ?? {};
      assert.deepEqual(
        Object.keys(env).filter((key) => !known.has(key)),
        [],
        `${name} sets only variables the service reads`,
      );
      const url = new URL(env.REDIS_URL);
      assert.ok(url.hostname in compose.services, `${name}'s REDIS_URL names a service`);
      assert.equal(url.port, '6379');
      // Values the service accepts: the Redis store, and nginx's X-Forwarded-For believed.
      const config = loadConfig(env);
      assert.equal(config.redisUrl, env.REDIS_URL);
      assert.equal(config.trustProxy, 1, `${name} is reached through nginx alone`);
    }
    assertEvicts(compose.services.redis.command ?? [], 'compose.yaml');
  });

  it("sends nginx's traffic to each replica's PORT, from the port it publishes", () => {
    const upstreams = [...nginx.matchAll(/^\s*server\s+([\w-]+):(\d+)/gm)].map((m) => `${m[1]}:${m[2]}`);
    assert.deepEqual(upstreams, replicas.map(([name, service]) => `${name}:${service.environment?.PORT}`).sort());
    const listen = nginx.match(/^\s*listen\s+(\d+);/m)?.[1];
    const lb = compose.services.lb;
    assert.deepEqual(lb.ports, [`8080:${listen}`]);
    const mounted = lb.volumes?.[0].split(':')[0] ?? '';
    assert.ok(existsSync(resolve(ROOT, 'deploy', mounted)), `${mounted} exists beside compose.yaml`);
  });

  it('is a configuration nginx accepts', { skip: !existsSync(NGINX) && `${NGINX} is not installed` }, () => {
    // nginx -t resolves upstream names, which exist only inside compose's network.
    const dir = mkdtempSync(join(tmpdir(), 'hplb-nginx-'));
    try {
      writeFileSync(join(dir, 'nginx.conf'), nginx.replace(/server\s+hplb-[\w]+:/g, 'server 127.0.0.1:'));
      const check = spawnSync(NGINX, ['-t', '-p', dir, '-c', join(dir, 'nginx.conf')], { encoding: 'utf8' });
      assert.equal(check.status, 0, check.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

interface Manifest {
  kind: string;
  metadata: { name: string };
  // biome-ignore lint/suspicious/noExplicitAny: manifests are checked field by field below
  spec?: any;
  stringData?: Env;
}

describe('deploy/kubernetes', () => {
  const manifests = ['hplb.yaml', 'redis.yaml'].flatMap((file) =>
    parseAllDocuments(read(`deploy/kubernetes/${file}`)).map((doc) => {
      assert.deepEqual(doc.errors, [], file);
      return doc.toJS() as Manifest;
    }),
  );
  const find = (kind: string, name: string): Manifest => {
    const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
    assert.ok(found, `${kind} ${name}`);
    return found;
  };
  const deployment = find('Deployment', 'hplb');
  const container = deployment.spec.template.spec.containers[0];

  it('runs two replicas with readiness on /readyz and liveness on /livez at the container port', () => {
    assert.equal(deployment.spec.replicas, 2);
    assert.equal(container.readinessProbe.httpGet.path, '/readyz');
    assert.equal(container.livenessProbe.httpGet.path, '/livez');
    for (const path of ['/readyz', '/livez']) assert.ok(openapiPaths.includes(path), `openapi.yaml has ${path}`);
    const port = container.ports.find((p: { name: string }) => p.name === container.readinessProbe.httpGet.port);
    assert.equal(String(port.containerPort), container.env.find((e: { name: string }) => e.name === 'PORT').value);
    assert.equal(container.livenessProbe.httpGet.port, port.name);
  });

  it('sets only variables the service reads, REDIS_URL from a Secret that points at the Redis Service', () => {
    const known = serviceVariables();
    const names = container.env.map((e: { name: string }) => e.name);
    assert.deepEqual(
      names.filter((name: string) => !known.has(name)),
      [],
    );
    const ref = container.env.find((e: { name: string }) => e.name === 'REDIS_URL').valueFrom.secretKeyRef;
    const secret = find('Secret', ref.name).stringData?.[ref.key] ?? '';
    const values = container.env.filter((e: { value?: string }) => e.value !== undefined);
    const env = Object.fromEntries(values.map((e: { name: string; value: string }) => [e.name, e.value]));
    assert.equal(loadConfig({ ...env, REDIS_URL: secret }).redisUrl, secret, 'values the service accepts');
    const url = new URL(secret);
    const redis = find('Service', url.hostname);
    assert.equal(String(redis.spec.ports[0].port), url.port);
    const redisPod = find('Deployment', url.hostname).spec.template;
    assert.deepEqual(redis.spec.selector, redisPod.metadata.labels);
    assertEvicts(redisPod.spec.containers[0].args, 'redis.yaml');
  });

  it('exposes the replicas through a Service that selects their pods and targets their port', () => {
    const service = find('Service', 'hplb');
    assert.deepEqual(service.spec.selector, deployment.spec.template.metadata.labels);
    assert.deepEqual(deployment.spec.selector.matchLabels, deployment.spec.template.metadata.labels);
    assert.ok(container.ports.some((p: { name: string }) => p.name === service.spec.ports[0].targetPort));
  });
});
