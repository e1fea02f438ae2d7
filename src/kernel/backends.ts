/**
 * Which GPU.js backends work in this process, and creating a GPU instance on one of them.
 *
 * WebGPU in Node goes through the Dawn binding of the `webgpu` package: it must load, and an
 * adapter must answer, before GPU.js can use it (GPU.js never auto-selects WebGPU). The probe
 * installs `navigator.gpu` only while a WebGPU instance is alive, because a live Dawn instance
 * keeps Node from exiting.
 */
import { GPU } from 'gpu.js';
import { HplbError } from '../errors.ts';

/** The GPU.js modes this project runs kernels on, best first. */
export const KERNEL_BACKENDS = ['webgpu', 'webasm', 'cpu'] as const;
export type KernelBackend = (typeof KERNEL_BACKENDS)[number];

export interface BackendStatus {
  readonly backend: KernelBackend;
  readonly available: boolean;
  /** Why it is not available (or how it was found). */
  readonly detail: string;
}

/** A GPU instance on one backend; `release` frees kernels and, for WebGPU, the Dawn instance. */
export interface GpuHandle {
  readonly gpu: GPU;
  readonly backend: KernelBackend;
  release(): void;
}

interface NavigatorHolder {
  navigator?: { gpu?: unknown };
}

/** Tries to obtain a WebGPU adapter through the Dawn binding; leaves navigator as it found it. */
async function probeWebGpu(): Promise<{ ok: true; uninstall: () => void } | { ok: false; detail: string }> {
  const holder = globalThis as unknown as NavigatorHolder;
  const existing = holder.navigator?.gpu as { requestAdapter(): Promise<unknown> } | undefined;
  if (existing) {
    const adapter = await existing.requestAdapter().catch(() => null);
    return adapter ? { ok: true, uninstall: () => {} } : { ok: false, detail: 'navigator.gpu answered no adapter' };
  }
  let binding: { create(flags: string[]): { requestAdapter(): Promise<unknown> }; globals: object };
  try {
    binding = (await import('webgpu')) as unknown as typeof binding;
  } catch (error) {
    return { ok: false, detail: `the webgpu (Dawn) binding does not load: ${(error as Error).message.split('\n')[0]}` };
  }
  const gpu = binding.create([]);
  const adapter = await gpu.requestAdapter().catch(() => null);
  if (!adapter) return { ok: false, detail: 'the Dawn binding loaded but no WebGPU adapter answered' };
  Object.assign(globalThis, binding.globals);
  const previous = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
  Object.defineProperty(globalThis, 'navigator', {
    value: { ...(holder.navigator ?? {}), gpu },
    configurable: true,
    writable: true,
  });
  const uninstall = (): void => {
    if (previous) Object.defineProperty(globalThis, 'navigator', previous);
    else delete holder.navigator;
  };
  return { ok: true, uninstall };
}

/** Runs a one-cell kernel to prove a synchronous backend works. */
function smokeTest(mode: 'webasm' | 'cpu'): string | null {
  const gpu = new GPU({ mode });
  try {
    const kernel = gpu.createKernel(`function(a) { return a[this.thread.x] * 2; }`, { output: [1] });
    const result = kernel(new Float32Array([21])) as Float32Array;
    const ran = (kernel as unknown as { kernel: { constructor: { mode: string } } }).kernel.constructor.mode;
    if (result[0] !== 42) return `smoke kernel returned ${result[0]}`;
    if (ran !== mode) return `kernels degrade to ${ran}`;
    return null;
  } catch (error) {
    return (error as Error).message;
  } finally {
    void gpu.destroy();
  }
}

/** Which backends work here, best first. Safe to call repeatedly; leaves no global state behind. */
export async function detectBackends(): Promise<BackendStatus[]> {
  const webgpu = await probeWebGpu();
  if (webgpu.ok) webgpu.uninstall();
  const statuses: BackendStatus[] = [
    { backend: 'webgpu', available: webgpu.ok, detail: webgpu.ok ? 'adapter found' : webgpu.detail },
  ];
  for (const mode of ['webasm', 'cpu'] as const) {
    const failure = smokeTest(mode);
    statuses.push({ backend: mode, available: failure === null, detail: failure ?? 'smoke kernel ran' });
  }
  return statuses;
}

/**
 * A GPU instance on `backend`, or on the best available one for 'auto' (webgpu, else webasm,
 * else cpu). An explicitly requested backend that does not work here is an error.
 */
export async function createGpu(backend: KernelBackend | 'auto' = 'auto'): Promise<GpuHandle> {
  const wanted: readonly KernelBackend[] = backend === 'auto' ? KERNEL_BACKENDS : [backend];
  const failures: string[] = [];
  for (const mode of wanted) {
    if (mode === 'webgpu') {
      const probe = await probeWebGpu();
      if (!probe.ok) {
        failures.push(`webgpu: ${probe.detail}`);
        continue;
      }
      const gpu = new GPU({ mode: 'webgpu' });
      return {
        gpu,
        backend: mode,
        release: () => {
          void gpu.destroy();
          probe.uninstall();
        },
      };
    }
    const failure = smokeTest(mode);
    if (failure !== null) {
      failures.push(`${mode}: ${failure}`);
      continue;
    }
    const gpu = new GPU({ mode });
    return {
      gpu,
      backend: mode,
      release: () => {
        void gpu.destroy();
      },
    };
  }
  throw new HplbError('INTERNAL', `no GPU.js backend available (${failures.join('; ')})`);
}
