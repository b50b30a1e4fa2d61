import { expect } from 'chai';
import { freePort, resetState, startTestServer, type TestServer } from '../../helpers/bootstrap.js';

describe('security: /metrics off the public port, /readyz from a short cache (real PostgreSQL and Redis)', function () {
  let server: TestServer;

  before(async function () {
    await resetState();
    server = await startTestServer({ metrics: { enabled: true, port: await freePort() }, readinessCacheMs: 1000 });
  });

  after(async function () {
    await server?.close();
  });

  it('with METRICS_PORT, /metrics is not served on PORT', async function () {
    expect((await fetch(`${server.issuer}/metrics`)).status).to.equal(404);
  });

  it('with METRICS_PORT, /metrics is served on its own listener, and nothing else is', async function () {
    expect(server.metricsUrl).to.be.a('string');
    const response = await fetch(server.metricsUrl!);
    expect(response.status).to.equal(200);
    expect(await response.text()).to.contain('# TYPE');
    expect((await fetch(new URL('/.well-known/openid-configuration', server.metricsUrl).toString())).status).to.equal(404);
  });

  it('a burst of /readyz probes costs PostgreSQL one check, not one per probe', async function () {
    const { sequelize } = server.services.db;
    const original = sequelize.query.bind(sequelize);
    let selects = 0;
    (sequelize as unknown as { query: (...args: unknown[]) => Promise<unknown> }).query = (...args: unknown[]) => {
      if (args[0] === 'SELECT 1') selects += 1;
      return (original as (...a: unknown[]) => Promise<unknown>)(...args);
    };
    try {
      const answers = await Promise.all(Array.from({ length: 40 }, () => fetch(`${server.issuer}/readyz`)));
      expect(answers.map((answer) => answer.status)).to.deep.equal(Array(40).fill(200));
      expect(selects).to.be.within(1, 2);
    } finally {
      (sequelize as unknown as { query: typeof original }).query = original;
    }
  });
});
