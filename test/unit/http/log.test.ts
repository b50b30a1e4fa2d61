import { Writable } from 'node:stream';
import { expect } from 'chai';
import Provider from 'oidc-provider';
import { createLogger, currentRequest, prettyStream, runInRequest } from '../../../src/log.js';

function capture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, stream };
}

describe('logs', function () {
  it('put the request id on every line written on behalf of a request, by any logger', async function () {
    const { lines, stream } = capture();
    const logger = createLogger({ logLevel: 'info' }, { destination: stream });
    const child = logger.child({ component: 'dingtalk' });
    logger.info('outside');
    await runInRequest({ state: { requestId: 'req-1' } }, async () => {
      await Promise.resolve();
      child.info({ operation: 'x' }, 'inside');
    });
    const [outside, inside] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(outside).to.not.have.property('reqId');
    expect(inside).to.include({ reqId: 'req-1', component: 'dingtalk', operation: 'x', msg: 'inside' });
  });

  it("keep the request in oidc-provider's own request storage, so Provider.ctx and our lines see the same request", async function () {
    const context = { state: { requestId: 'req-2' } };
    expect(currentRequest()).to.equal(undefined);
    await runInRequest(context, async () => {
      await Promise.resolve();
      // If oidc-provider moved its storage, this fails: src/log.ts imports it by path.
      expect(Provider.ctx).to.equal(context);
      expect(currentRequest()).to.equal(context.state);
    });
  });

  it('censor secrets wherever they appear', function () {
    const { lines, stream } = capture();
    const logger = createLogger({ logLevel: 'info' }, { destination: stream });
    logger.info({ req: { headers: { authorization: 'Basic abc', cookie: 'c=1' } }, body: { client_secret: 's', code: 'k' } }, 'x');
    expect(lines[0]).to.not.match(/Basic abc|c=1|"s"|"k"/);
  });

  it('print one readable line per entry in development (pino-pretty), secrets still censored', async function () {
    const { lines, stream } = capture();
    const logger = createLogger({ logLevel: 'info' }, { destination: prettyStream(stream) });
    runInRequest({ state: { requestId: 'r-9' } }, () => logger.warn({ route: 'token', status: 429, client_secret: 's3cr3t' }, 'request'));
    // pino-pretty formats on its own stream: wait for the line to come out.
    while (lines.length === 0) await new Promise((resolve) => setImmediate(resolve));
    expect(lines).to.have.length(1);
    expect(lines[0]).to.match(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: request \{.*\}$/);
    expect(lines[0]).to.contain('"reqId":"r-9"').and.contain('"route":"token"').and.contain('"status":429');
    expect(lines[0]).to.contain('"client_secret":"[redacted]"').and.not.contain('s3cr3t');
  });
});
