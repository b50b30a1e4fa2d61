import { expect } from 'chai';
import { floodWindow } from '../../../src/http/middleware/flood-window.js';

describe('the token endpoints flood window', function () {
  it('accepts `points` requests of an address per window, then says how long to wait', function () {
    const flood = floodWindow({ points: 3, durationSeconds: 10 });
    expect([1, 2, 3].map(() => flood.hit('10.0.0.1', 1_000))).to.deep.equal([0, 0, 0]);
    expect(flood.hit('10.0.0.1', 4_000)).to.equal(7_000);
    expect(flood.hit('10.0.0.2', 4_000)).to.equal(0); // another address has its own count
  });

  it('starts every count again when the window has passed', function () {
    const flood = floodWindow({ points: 1, durationSeconds: 10 });
    expect(flood.hit('a', 0)).to.equal(0);
    expect(flood.hit('a', 9_999)).to.equal(1);
    expect(flood.hit('a', 10_000)).to.equal(0);
    expect(flood.hit('a', 10_001)).to.equal(9_999);
  });

  it('refuses for blockSeconds when set, across windows', function () {
    const flood = floodWindow({ points: 1, durationSeconds: 1, blockSeconds: 5 });
    expect(flood.hit('a', 0)).to.equal(0);
    expect(flood.hit('a', 100)).to.equal(5_000);
    expect(flood.hit('a', 2_000)).to.equal(3_100); // a new window, still blocked
    expect(flood.hit('b', 2_000)).to.equal(0);
    expect(flood.hit('a', 5_100)).to.equal(0); // block over, new window
  });
});
