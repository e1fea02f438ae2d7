# syntax=docker/dockerfile:1
# hplb HTTP service. Build: docker build -t hplb .   Run: docker run -p 8080:8080 hplb
# tini (below) is PID 1: it forwards SIGTERM/SIGINT to node, which drains, and reaps zombies
# (without it, use `docker run --init`).

# 1. Compile TypeScript to dist/ (dev dependencies needed here only).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# public/plan-math.js (with its .d.ts) holds formulas the page and the service share.
COPY public ./public
RUN npm run build

# 2. Production dependencies only: what dist/server.js loads (GPU.js, the kernel tooling and the
#    script helpers are dev dependencies).
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

# 3. Runtime: compiled code, production dependencies, the registry, the contract and the page.
FROM node:20-bookworm-slim
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production PORT=8080 HOST=0.0.0.0
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json openapi.yaml ./
COPY models ./models
COPY public ./public
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/livez').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--"]
# node itself, not npm start: npm would leave node orphaned on SIGTERM. Stack traces point into src/.
CMD ["node", "--enable-source-maps", "dist/server.js"]
