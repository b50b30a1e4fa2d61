import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { firstFolderClosedTo } from '../../../src/db/embedded.js';

describe('embedded PostgreSQL: can its OS user reach the data?', function () {
  let root: string;
  const nobody = { uid: 65534, gid: 65534 };

  beforeEach(function () {
    root = mkdtempSync(path.join(tmpdir(), 'embedded-access-'));
    chmodSync(root, 0o755);
    mkdirSync(path.join(root, 'clone/data'), { recursive: true, mode: 0o755 });
  });

  afterEach(function () {
    chmodSync(root, 0o755);
    rmSync(root, { recursive: true, force: true });
  });

  it('names the first folder on the way that another user may not enter', function () {
    chmodSync(path.join(root, 'clone'), 0o700);
    expect(firstFolderClosedTo(path.join(root, 'clone/data/postgres'), nobody)).to.equal(path.join(root, 'clone'));
  });

  it('finds nothing when every folder on the way lets others through, even without listing (o+x)', function () {
    chmodSync(path.join(root, 'clone'), 0o711);
    expect(firstFolderClosedTo(path.join(root, 'clone/data/postgres'), nobody)).to.equal(undefined);
  });

  it("uses the owner's and the group's rights for the owner and the group", function () {
    const clone = path.join(root, 'clone');
    const { uid, gid } = statSync(clone);
    chmodSync(clone, 0o700);
    expect(firstFolderClosedTo(clone, { uid, gid: -1 })).to.equal(undefined);
    chmodSync(clone, 0o070);
    expect(firstFolderClosedTo(clone, { uid: -1, gid })).to.equal(undefined);
    expect(firstFolderClosedTo(clone, { uid, gid: -1 }), 'the owner gets the owner bits only').to.equal(clone);
  });
});
