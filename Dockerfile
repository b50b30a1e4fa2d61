# syntax=docker/dockerfile:1
# The DingTalk OIDC provider as a container: Node.js 22 LTS, production dependencies and the built
# output only, running as the unprivileged `node` user; it writes nothing to its file system.
#
#   docker build -t dingtalk-oidc .
#   docker run --rm --env-file .env dingtalk-oidc node dist/src/cli/index.js migrate   # once per release
#   docker run -d --env-file .env -p 3000:3000 dingtalk-oidc
#
# docker-compose.yml and deploy/kubernetes/ run it with PostgreSQL and Redis. This file is linted by
# test/integration/production/container.test.ts, and its commands run from dist/ against real
# PostgreSQL and Redis in test/integration/production/start.test.ts.

# Build: every dependency, TypeScript → dist/, then drop the dev dependencies.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src src
COPY migrations migrations
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# Run: what `node dist/src/cli/index.js` reads, owned by root and read-only to the `node` user.
FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production PORT=3000
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY bin bin
COPY config config
COPY views views
USER node
EXPOSE 3000
# Liveness only (the process answers); readiness, which needs PostgreSQL and Redis, is /readyz.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# `node` itself, not `npm start`: SIGTERM must reach the server for its graceful stop.
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/cli/index.js", "start"]
