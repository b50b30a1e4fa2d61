/**
 * The container without a Docker engine (none runs on the build machines): the Dockerfile,
 * .dockerignore, docker-compose.yml and the Kubernetes example are read and checked for what
 * `docker build` and a cluster would need. start.test.ts runs the image's commands for real.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
// js-yaml (a dev dependency; mocha uses the same version) ships its own types.
import { load, loadAll } from 'js-yaml';
import { loadConfig } from '../../../src/config/load.js';
import { copiesOf, dockerignore, envOf, imageCommand, readRepoFile, repoDockerfile, ROOT, type Stage } from './dockerfile.js';

/** Parsed YAML: read by key, checked by the assertions. */
// oxlint-disable-next-line typescript/no-explicit-any -- any parsed YAML shape
type Json = Record<string, any>;

const START = ['node', 'dist/src/cli/index.js', 'start'];
const MIGRATE = ['node', 'dist/src/cli/index.js', 'migrate'];

function runsOf(stage: Stage): string[] {
  return stage.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
}

/** Sample values for `${VAR:?…}`, `${VAR:-default}` and `${VAR}` in docker-compose.yml. */
function interpolate(value: string, given: Record<string, string>): string {
  return value.replace(/\$\{([A-Z0-9_]+)(?::?([?-])([^}]*))?\}/g, (_, name: string, kind?: string, rest?: string) => {
    if (given[name] !== undefined) return given[name];
    if (kind === '-') return rest ?? '';
    if (kind === '?') throw new Error(`compose would stop: ${name} is required (${rest})`);
    return '';
  });
}

function secret(): string {
  return randomBytes(32).toString('hex');
}

describe('container (Dockerfile, .dockerignore, docker-compose.yml, deploy/kubernetes) without Docker', function () {
  const { stages, runtime } = repoDockerfile();
  const build = stages[0]!;
  const ignored = dockerignore(readRepoFile('.dockerignore'));

  describe('Dockerfile', function () {
    it('has a build stage and a runtime stage, both on the same Node.js LTS image (22 or a later even release)', function () {
      expect(stages).to.have.length.of.at.least(2);
      expect(build.name).to.equal('build');
      for (const stage of stages) {
        const match = /^node:(\d+)(?:[.-][\w.-]*)?$/.exec(stage.image);
        expect(match, `FROM ${stage.image}`).to.not.equal(null);
        const major = Number(match![1]);
        expect(major, 'an LTS line: even, 22 or newer (oidc-provider 9 supports 22+)').to.be.at.least(22);
        expect(major % 2).to.equal(0);
      }
      expect(runtime.image).to.equal(build.image);
    });

    it('installs with npm ci, builds, then prunes the dev dependencies', function () {
      const script = runsOf(build).join(' && ');
      const ci = script.indexOf('npm ci');
      const compile = script.indexOf('npm run build');
      const prune = script.search(/npm prune --omit=dev\b/);
      expect(ci, 'npm ci').to.be.at.least(0);
      expect(compile, 'npm run build after npm ci').to.be.above(ci);
      expect(prune, 'npm prune --omit=dev after the build').to.be.above(compile);
      expect(script).to.not.match(/npm install\b/);
    });

    it('copies the lockfile before npm ci, and the sources the build compiles', function () {
      const before = build.instructions.slice(
        0,
        build.instructions.findIndex((i) => i.args.includes('npm ci')),
      );
      const early = copiesOf({ ...build, instructions: before }).flatMap((copy) => copy.sources);
      expect(early).to.include.members(['package.json', 'package-lock.json']);
      const tsconfig = JSON.parse(readRepoFile('tsconfig.build.json')) as { extends?: string; include: string[] };
      const sources = copiesOf(build).flatMap((copy) => copy.sources);
      expect(sources).to.include.members([
        ...tsconfig.include,
        'tsconfig.build.json',
        ...(tsconfig.extends ? [path.basename(tsconfig.extends)] : []),
      ]);
    });

    it('builds dist/ where the CMD expects it (tsconfig outDir and rootDir)', function () {
      const tsconfig = JSON.parse(readRepoFile('tsconfig.json')) as { compilerOptions: { outDir: string; rootDir: string } };
      expect(tsconfig.compilerOptions.outDir).to.equal('dist');
      expect(tsconfig.compilerOptions.rootDir).to.equal('.');
      const entry = imageCommand(runtime)[1]!;
      expect(entry).to.match(/^dist\//);
      expect(existsSync(path.join(ROOT, entry.replace(/^dist\//, '').replace(/\.js$/, '.ts'))), `source of ${entry}`).to.equal(true);
    });

    it('runs node dist/src/cli/index.js start directly (exec form, so SIGTERM reaches the server)', function () {
      expect(imageCommand(runtime)).to.deep.equal(START);
      expect(runtime.instructions.some((i) => i.keyword === 'ENTRYPOINT')).to.equal(false);
    });

    it('runs as a user other than root, from before the CMD', function () {
      const users = runtime.instructions.filter((i) => i.keyword === 'USER');
      expect(users, 'a USER instruction').to.have.length.of.at.least(1);
      const user = users.at(-1)!.args.split(':')[0]!;
      expect(user).to.not.match(/^(root|0)$/);
      const cmd = runtime.instructions.findIndex((i) => i.keyword === 'CMD');
      expect(runtime.instructions.indexOf(users.at(-1)!)).to.be.below(cmd);
    });

    it('has a HEALTHCHECK on /healthz with a timeout', function () {
      const healthcheck = runtime.instructions.find((i) => i.keyword === 'HEALTHCHECK');
      expect(healthcheck, 'HEALTHCHECK').to.not.equal(undefined);
      expect(healthcheck!.args).to.match(/--timeout=\d+s/);
      expect(healthcheck!.args).to.match(/\bCMD\b.*\/healthz/);
    });

    it('is production mode, and exposes the port it listens on', function () {
      const env = envOf(runtime);
      expect(env.NODE_ENV).to.equal('production');
      const exposed = runtime.instructions.find((i) => i.keyword === 'EXPOSE')?.args;
      expect(exposed).to.equal(env.PORT ?? '3000');
    });

    it('ships production dependencies and the built output only: no sources, no install in the runtime stage', function () {
      const copies = copiesOf(runtime);
      const fromBuild = copies.filter((copy) => copy.from === build.name).flatMap((copy) => copy.sources);
      expect(fromBuild).to.include.members(['/app/node_modules', '/app/dist']);
      const fromContext = copies.filter((copy) => copy.from === undefined).flatMap((copy) => copy.sources);
      for (const source of fromContext) expect(source, 'sources stay in the build stage').to.not.match(/^(src|test|tsconfig|migrations)/);
      expect(runsOf(runtime).join(' ')).to.not.match(/npm (ci|install)/);
    });

    it('copies from the build stage only what that stage has made', function () {
      const workdir = build.instructions.filter((i) => i.keyword === 'WORKDIR').at(-1)?.args ?? '/';
      const made = new Set(['node_modules', 'dist', ...copiesOf(build).flatMap((copy) => copy.sources.map((s) => path.posix.basename(s)))]);
      for (const copy of copiesOf(runtime).filter((c) => c.from === build.name)) {
        for (const source of copy.sources) {
          expect(source.startsWith(`${workdir}/`), `${source} under ${workdir}`).to.equal(true);
          expect(made.has(source.slice(workdir.length + 1)), `${source} is made by the build stage`).to.equal(true);
        }
      }
    });

    it('copies from the context only paths that exist and that .dockerignore lets through', function () {
      const sources = stages.flatMap((stage) =>
        copiesOf(stage)
          .filter((copy) => copy.from === undefined)
          .flatMap((copy) => copy.sources),
      );
      expect(sources).to.have.lengthOf.above(0);
      for (const source of sources) {
        expect(source, 'no wildcard copies').to.not.match(/[*?]/);
        expect(existsSync(path.join(ROOT, source)), `${source} exists in the repository`).to.equal(true);
        expect(ignored(source), `${source} is not excluded by .dockerignore`).to.equal(false);
      }
    });

    it('gives the runtime everything the server reads beside dist/: package.json (ESM), config/, views/', function () {
      const destinations = copiesOf(runtime).map((copy) =>
        copy.destination === './' ? path.posix.basename(copy.sources[0]!) : copy.destination,
      );
      expect(destinations).to.include.members(['package.json', 'config', 'views', 'dist', 'node_modules']);
      expect((JSON.parse(readRepoFile('package.json')) as { type?: string }).type).to.equal('module');
    });
  });

  describe('.dockerignore', function () {
    it('keeps local builds, dependencies, git history and secrets out of the build context', function () {
      for (const entry of ['node_modules', 'dist', '.git', '.env', '.env.production', 'data', 'debug.log']) {
        expect(ignored(entry), entry).to.equal(true);
      }
    });
  });

  describe('docker-compose.yml', function () {
    const compose = load(readRepoFile('docker-compose.yml')) as Json;
    const services = compose.services as Record<string, Json>;

    it('has PostgreSQL 16, Redis 7, the migration and the app, all but the one-off migration with a healthcheck', function () {
      expect(services).to.have.all.keys('postgres', 'redis', 'migrate', 'app');
      expect(services.postgres!.image).to.match(/^postgres:16(\b|-|$)/);
      expect(services.redis!.image).to.match(/^redis:7(\b|-|$)/);
      for (const name of ['postgres', 'redis', 'app']) expect(services[name]!.healthcheck?.test, `${name} healthcheck`).to.be.an('array');
    });

    it('builds the app from the Dockerfile and runs its commands', function () {
      for (const name of ['migrate', 'app']) expect(services[name]!.build).to.equal('.');
      expect(services.migrate!.image).to.equal(services.app!.image);
      expect(services.migrate!.command).to.deep.equal(MIGRATE);
      expect(services.app!.command ?? imageCommand(runtime)).to.deep.equal(imageCommand(runtime));
      expect(services.migrate!.restart).to.equal('no');
    });

    it('migrates once before the app starts, after PostgreSQL is healthy', function () {
      expect(services.migrate!.depends_on.postgres.condition).to.equal('service_healthy');
      expect(services.app!.depends_on).to.deep.include({
        migrate: { condition: 'service_completed_successfully' },
        postgres: { condition: 'service_healthy' },
        redis: { condition: 'service_healthy' },
      });
    });

    it('gives the app every setting production requires (a production config loads from it)', function () {
      const given = {
        POSTGRES_PASSWORD: secret(),
        DINGTALK_CLIENT_ID: 'dingabcdefghijklmnop',
        DINGTALK_CLIENT_SECRET: secret(),
        DINGTALK_CORP_ID: 'dingcorpabcdefghijkl',
        KEY_ENCRYPTION_SECRET: secret(),
        COOKIE_SECRETS: `${secret()},${secret()}`,
      };
      for (const name of ['migrate', 'app']) {
        const env = Object.fromEntries(
          Object.entries(services[name]!.environment as Record<string, string>).map(([key, value]) => [
            key,
            interpolate(String(value), given),
          ]),
        );
        const config = loadConfig({ env: { ...envOf(runtime), ...env } });
        expect(config.env).to.equal('production');
        expect(config.database.url).to.contain('@postgres:5432/');
        expect(config.redis.url).to.match(/^redis:\/\/redis:6379/);
      }
      // Missing any of them stops `docker compose` with a message instead of starting a broken app.
      const appEnvironment = Object.values(services.app!.environment as Record<string, string>).join('\n');
      for (const name of Object.keys(given)) {
        const without: Record<string, string> = { ...given };
        delete without[name];
        expect(() => interpolate(appEnvironment, without), `${name} required`).to.throw(name);
      }
    });

    it('publishes the port the container listens on', function () {
      expect(services.app!.ports).to.satisfy((ports: string[]) => ports.some((port) => port.endsWith(`:${envOf(runtime).PORT}`)));
    });
  });

  describe('deploy/kubernetes', function () {
    const dir = path.join(ROOT, 'deploy/kubernetes');
    const documents = readdirSync(dir)
      .filter((file) => file.endsWith('.yaml'))
      .flatMap((file) => (loadAll(readRepoFile(`deploy/kubernetes/${file}`)) as Json[]).filter(Boolean).map((doc) => ({ file, doc })));
    const byKind = (kind: string): Json[] => documents.filter(({ doc }) => doc.kind === kind).map(({ doc }) => doc);
    const [deployment] = byKind('Deployment');
    const [job] = byKind('Job');
    const [service] = byKind('Service');
    const [secretDoc] = byKind('Secret');
    const configMaps = byKind('ConfigMap');

    it('are valid YAML documents with apiVersion, kind and a name: Deployment, Service, Secret, migration Job', function () {
      expect(documents).to.have.lengthOf.above(0);
      for (const { file, doc } of documents) {
        expect(doc, file).to.include.keys('apiVersion', 'kind', 'metadata');
        expect(doc.metadata.name, file).to.be.a('string');
      }
      for (const doc of [deployment, job, service, secretDoc]) expect(doc).to.not.equal(undefined);
    });

    it('probes /healthz for liveness and /readyz for readiness on the container port', function () {
      const container = deployment!.spec.template.spec.containers[0] as Json;
      const port = (container.ports as Json[]).find((p) => p.containerPort === Number(envOf(runtime).PORT));
      expect(port, 'the image port').to.not.equal(undefined);
      expect(container.livenessProbe.httpGet).to.deep.include({ path: '/healthz', port: port!.name });
      expect(container.readinessProbe.httpGet).to.deep.include({ path: '/readyz', port: port!.name });
      // /readyz bounds each check at 3 s (src/http/health.ts): the probe waits for its answer.
      expect(container.readinessProbe.timeoutSeconds).to.be.above(3);
    });

    it('sets resources and a restrictive security context (non-root, read-only root file system)', function () {
      const pod = deployment!.spec.template.spec as Json;
      for (const container of [pod.containers[0], job!.spec.template.spec.containers[0]] as Json[]) {
        expect(container.resources.requests).to.include.keys('cpu', 'memory');
        expect(container.resources.limits).to.include.keys('memory');
        expect(container.securityContext).to.deep.include({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
        expect(container.securityContext.capabilities.drop).to.include('ALL');
      }
      expect(pod.securityContext.runAsNonRoot).to.equal(true);
      expect(pod.securityContext.runAsUser).to.be.above(0);
    });

    it('runs the image commands: start in the Deployment, migrate in the Job, on the same image', function () {
      const container = deployment!.spec.template.spec.containers[0] as Json;
      const migrate = job!.spec.template.spec.containers[0] as Json;
      expect(container.command ?? imageCommand(runtime)).to.deep.equal(imageCommand(runtime));
      expect(migrate.command).to.deep.equal(MIGRATE);
      expect(migrate.image).to.equal(container.image);
      expect(job!.spec.template.spec.restartPolicy).to.equal('Never');
    });

    it('selects the Deployment pods from the Service, on the named port', function () {
      const labels = deployment!.spec.template.metadata.labels as Json;
      expect(deployment!.spec.selector.matchLabels).to.deep.equal(labels);
      expect(labels).to.deep.include(service!.spec.selector);
      const names = (deployment!.spec.template.spec.containers[0].ports as Json[]).map((p) => p.name);
      expect(names).to.include(service!.spec.ports[0].targetPort);
    });

    it('has placeholders, not secrets, in the Secret', function () {
      for (const [key, value] of Object.entries(secretDoc!.stringData as Record<string, string>)) {
        expect(value, key).to.contain('CHANGE-ME');
      }
    });

    it('gives the server and the Job every setting production requires (a production config loads from it)', function () {
      const sources = (container: Json): Record<string, string> => {
        const env: Record<string, string> = { ...envOf(runtime) };
        for (const from of container.envFrom as Json[]) {
          if (from.configMapRef) {
            const map = configMaps.find((m) => m.metadata.name === from.configMapRef.name);
            expect(map, `ConfigMap ${from.configMapRef.name}`).to.not.equal(undefined);
            Object.assign(env, map!.data);
          }
          if (from.secretRef) {
            expect(secretDoc!.metadata.name).to.equal(from.secretRef.name);
            // Stand-ins for the placeholders, as an operator would fill them in.
            for (const [key, value] of Object.entries(secretDoc!.stringData as Record<string, string>)) {
              env[key] = /SECRET|COOKIE/.test(key) ? secret() : value.replaceAll('CHANGE-ME', 'x');
            }
          }
        }
        for (const variable of (container.env ?? []) as Json[]) env[variable.name] = String(variable.value);
        return env;
      };
      for (const container of [deployment!.spec.template.spec.containers[0], job!.spec.template.spec.containers[0]] as Json[]) {
        const config = loadConfig({ env: sources(container) });
        expect(config.env).to.equal('production');
        expect(config.trustProxy, 'an https issuer behind an Ingress').to.equal(true);
      }
    });
  });

  it('docs/production.md shows the same commands as the image', function () {
    const production = readRepoFile('docs/production.md');
    expect(production).to.contain(imageCommand(runtime).join(' '));
    expect(production).to.contain(MIGRATE.join(' '));
    expect(production).to.contain('docker compose');
    expect(production).to.contain('deploy/kubernetes');
  });
});
