const t=performance.now();
const { create, globals } = await import('webgpu');
const gpu = create([]);
const a = await gpu.requestAdapter();
console.log('adapter', a, performance.now()-t, typeof globalThis.navigator);
