import gpujs from 'gpu.js';
const { GPU } = gpujs;
const gpu = new GPU({ mode: process.argv[2] || 'webasm' });
const n = +process.argv[3] || 4096, d = 64;
const Q = new Float32Array(n*d).map(()=>Math.random()-0.5);
const K = new Float32Array(n*d).map(()=>Math.random()-0.5);
const V = new Float32Array(n*d).map(()=>Math.random()-0.5);
function build(M){
 const idx = new Float32Array(n*M); const len = new Float32Array(n);
 for (let i=0;i<n;i++){ const L=Math.min(i+1,M); len[i]=L; for(let j=0;j<M;j++) idx[i*M+j]= j<L? i-j : -1; }
 const c = { M, d, n, scale: 1/Math.sqrt(d) };
 const scores = gpu.createKernel(function(q, k, idx, len) {
  const i = this.thread.y; const j = this.thread.x;
  if (j >= len[i]) return 0;
  const key = idx[i * this.constants.M + j];
  let s = 0;
  for (let t = 0; t < this.constants.d; t++) s += q[i * this.constants.d + t] * k[key * this.constants.d + t];
  return s * this.constants.scale;
 }, { output: [M, n], constants: c, pipeline: true });
 const lse = gpu.createKernel(function(s, len) {
  const i = this.thread.x; const L = len[i];
  let m = -1e30;
  for (let j = 0; j < this.constants.M; j++) { if (j >= L) break; m = Math.max(m, s[i * this.constants.M + j]); }
  let z = 0;
  for (let j = 0; j < this.constants.M; j++) { if (j >= L) break; z += Math.exp(s[i * this.constants.M + j] - m); }
  return m + Math.log(z);
 }, { output: [n], constants: c, pipeline: true });
 const probs = gpu.createKernel(function(s, lse, len) {
  const i = this.thread.y; const j = this.thread.x;
  if (j >= len[i]) return 0;
  return Math.exp(s[i * this.constants.M + j] - lse[i]);
 }, { output: [M, n], constants: c, pipeline: true });
 const out = gpu.createKernel(function(p, v, idx, len) {
  const i = this.thread.y; const c = this.thread.x; const L = len[i];
  let acc = 0;
  for (let j = 0; j < this.constants.M; j++) { if (j >= L) break; acc += p[i * this.constants.M + j] * v[idx[i * this.constants.M + j] * this.constants.d + c]; }
  return acc;
 }, { output: [d, n], constants: c, pipeline: true });
 return {idx,len,scores,lse,probs,out};
}
for (const M of [64, 256, 1024]) {
 const k = build(M);
 for (let rep=0;rep<4;rep++){
  const t0=performance.now(); const s=k.scores(Q,K,k.idx,k.len); const t1=performance.now(); const l=k.lse(s,k.len); const t2=performance.now();
  const p=k.probs(s,l,k.len); const t3=performance.now(); const o=k.out(p,V,k.idx,k.len); const t4=performance.now();
  if(rep>0) console.log(M, [t1-t0,t2-t1,t3-t2,t4-t3,t4-t0].map(x=>x.toFixed(1)).join(' '), s.constructor.name, s.length, o.length, o[0]?.length);
 }
}
