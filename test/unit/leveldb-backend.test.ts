import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { isCofferError } from '../../server/core/errors.js';
import { LeveldbBackend, osErrorOf } from '../../server/core/storage/leveldb-backend.js';
import { tempDir } from '../helpers/test-server.js';

test('opening a data directory held by another process fails with a clear storage_locked error', async (t) => {
  const dir = await tempDir(t);
  const holder = spawn(
    process.execPath,
    [
      '-e',
      `const {Level}=require('level');const d=new Level(${JSON.stringify(dir)});d.open().then(()=>console.log('held'));setInterval(()=>{},1000)`,
    ],
    { cwd: path.resolve('.'), stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.after(() => holder.kill('SIGKILL'));
  const [chunk] = (await once(holder.stdout, 'data')) as [Buffer];
  assert.equal(chunk.toString().trim(), 'held');

  await assert.rejects(LeveldbBackend.open(dir), (err) => {
    assert.ok(isCofferError(err, 'storage_locked'));
    assert.match(err.message, /locked by another process/);
    assert.ok(err.message.includes(dir));
    return true;
  });
});

test('a second open of the same directory in one process is refused without releasing the first lock', async (t) => {
  const dir = await tempDir(t);
  const first = await LeveldbBackend.open(dir);
  t.after(() => first.close());
  await assert.rejects(LeveldbBackend.open(dir), (err) => isCofferError(err, 'storage_locked'));
  // The first handle still works, and still excludes other processes (checked by the lock test above).
  await first.put('k', new Uint8Array([1]));
  assert.deepEqual([...(await first.get('k'))!], [1]);
});

test('after close the directory can be opened again and the data is there', async (t) => {
  const dir = await tempDir(t);
  const first = await LeveldbBackend.open(dir);
  await first.put('k', new Uint8Array([7]));
  await first.close();
  const second = await LeveldbBackend.open(dir);
  t.after(() => second.close());
  assert.deepEqual([...(await second.get('k'))!], [7]);
});

test('a data directory that cannot be created names the OS error', async (t) => {
  const dir = await tempDir(t);
  await writeFile(path.join(dir, 'a-file'), '');
  await assert.rejects(LeveldbBackend.open(path.join(dir, 'a-file', 'data')), (err) => {
    assert.ok(isCofferError(err, 'storage'));
    assert.match(err.message, /cannot open LevelDB storage at .*a-file\/data: ENOTDIR \(a part of the path is a file, not a directory\)$/);
    return true;
  });
});

test('an unwritable data directory names EACCES', async (t) => {
  if (process.getuid?.() === 0) return t.skip('root can write any directory; the message mapping is covered by the next test');
  const dir = await tempDir(t);
  await chmod(dir, 0o555);
  t.after(() => chmod(dir, 0o755));
  await assert.rejects(
    LeveldbBackend.open(path.join(dir, 'data')),
    (err) => isCofferError(err, 'storage') && /: EACCES \(permission denied/.test(err.message),
  );
});

test("LevelDB's own I/O error text is mapped back to the errno name (EACCES, EROFS, ENOSPC)", () => {
  const levelError = (text: string) =>
    Object.assign(new Error('Database failed to open'), {
      code: 'LEVEL_DATABASE_NOT_OPEN',
      cause: Object.assign(new Error(text), { code: 'LEVEL_IO_ERROR' }),
    });
  assert.match(osErrorOf(levelError('IO error: /srv/data/LOCK: Permission denied')), /^EACCES \(permission denied/);
  assert.match(osErrorOf(levelError('IO error: /srv/data/000005.log: Read-only file system')), /^EROFS \(read-only file system\)$/);
  assert.match(osErrorOf(levelError('IO error: /srv/data/MANIFEST-000002: No space left on device')), /^ENOSPC/);
  assert.equal(osErrorOf(levelError('Corruption: bad block')), 'Corruption: bad block');
});

test('a new data directory is created 0700; an existing one open to group or others is refused before LevelDB touches it', async (t) => {
  const parent = await tempDir(t);
  const dir = path.join(parent, 'nested', 'data');
  const storage = await LeveldbBackend.open(dir);
  await storage.put('core/x', new Uint8Array([1]));
  await storage.close();
  assert.equal((await stat(dir)).mode & 0o777, 0o700);

  const exposed = path.join(parent, 'exposed');
  await mkdir(exposed, { mode: 0o700 });
  await chmod(exposed, 0o755);
  await assert.rejects(LeveldbBackend.open(exposed), (err) => {
    assert.ok(isCofferError(err, 'config'));
    assert.ok(err.message.includes(`mode 0755`) && err.message.includes(`chmod 700 ${exposed}`), err.message);
    return true;
  });
  assert.deepEqual(await readdir(exposed), [], 'nothing was created');
});

test('files of an existing data directory lose their group/other permission bits when it is opened', async (t) => {
  const dir = await tempDir(t);
  const storage = await LeveldbBackend.open(dir);
  await storage.put('core/x', new Uint8Array([1]));
  await storage.close();
  const files = await readdir(dir);
  for (const file of files) await chmod(path.join(dir, file), 0o644);
  const again = await LeveldbBackend.open(dir);
  t.after(() => again.close());
  // LevelDB replaces some files when it opens (log, manifest); every file there once it is open was tightened.
  const now = await readdir(dir);
  assert.ok(now.includes('CURRENT') && now.some((file) => files.includes(file) && file !== 'CURRENT'), now.join());
  for (const file of now) assert.equal((await stat(path.join(dir, file))).mode & 0o777, 0o600, file);
});
