import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { GpgHome } from '../helpers/gpg.js';
import { startServerProcess, writeServerConfig, type ServerProcess } from '../helpers/processes.js';
import { apiCall, tempDir } from '../helpers/test-server.js';

// Debian's chromium, driven by playwright-core (never a downloaded browser). As root it needs --no-sandbox.
const CHROMIUM = ['/usr/bin/chromium', '/usr/lib/chromium/chromium'].find((p) => existsSync(p));
const SKIP = CHROMIUM ? false : 'chromium is not installed (Debian package "chromium"; .ci/run installs it)';

async function launch(t: TestContext): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM!,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  t.after(() => browser.close());
  return browser;
}

async function startUiServer(t: TestContext, ui = true): Promise<ServerProcess> {
  const dir = await tempDir(t);
  const config = await writeServerConfig(dir, { extra: ui ? 'ui = true' : 'ui = false' });
  return startServerProcess(t, [`-config=${config}`]);
}

/** Waits until the element's text matches (Playwright's own polling: no sleeps here). */
async function waitText(page: Page, selector: string, pattern: RegExp): Promise<void> {
  await page.locator(selector).filter({ hasText: pattern }).first().waitFor();
}

describe('operator page in a real browser', { skip: SKIP }, () => {
  test('init, unseal with three typed shares, log in, rotate twice, rewrap everything to completed with 0 entries under old terms in the census, PGP rekey reviewed before each share, generate-root decoded once; no secret left in URLs, storage or DOM', async (t) => {
    const server = await startUiServer(t);
    const browser = await launch(t);
    const shots = process.env.COFFER_UI_SCREENSHOTS ?? (await mkdtemp(path.join(os.tmpdir(), 'coffer-ui-screenshots-')));
    t.diagnostic(`screenshots: ${shots}`);
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    const consoleErrors: string[] = [];
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    const shot = (name: string) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
    const secrets: string[] = [];

    // 1. Init through the page (Enter in the form: keyboard only).
    await page.goto(`${server.url}/ui/`);
    await waitText(page, '#seal-state', /^not initialized$/);
    await shot('01-not-initialized');
    await page.fill('#init-shares', '5');
    await page.fill('#init-threshold', '3');
    await page.press('#init-threshold', 'Enter');
    await page.locator('#once-list li').nth(5).waitFor();
    assert.match((await page.textContent('#once-warning')) ?? '', /shown once and Coffer does not keep them/);
    const codes = await page.locator('#once-list li code').allTextContents();
    const shares = codes.slice(0, 5);
    const rootToken = codes[5]!;
    assert.match(rootToken, /^hvs\./);
    for (const s of shares) secrets.push(s, Buffer.from(s, 'base64').toString('hex'));
    secrets.push(rootToken);
    await shot('02-init-shares-once');
    await page.click('#once-clear');
    assert.equal(await page.locator('#once-list li').count(), 0, 'the shares leave the page once saved');
    await waitText(page, '#seal-state', /^sealed$/);

    // 2. A page on another site posts a share to sys/unseal with a plain form: refused, nothing changes.
    const attacker = createServer((_req, res) => {
      res.setHeader('Content-Type', 'text/html');
      res.end(
        `<form method="post" action="${server.url}/v1/sys/unseal" enctype="text/plain">` +
          `<input type="hidden" name='{"key":"${shares[0]}","x":"' value='"}'><button id="go">go</button></form>`,
      );
    });
    await new Promise<void>((resolve) => attacker.listen(0, resolve));
    t.after(() => attacker.close());
    const evil = await context.newPage();
    await evil.goto(`http://localhost:${(attacker.address() as AddressInfo).port}/`);
    await Promise.all([evil.waitForURL(`${server.url}/v1/sys/unseal`), evil.click('#go')]);
    assert.match((await evil.textContent('body')) ?? '', /cross-site request refused/);
    await evil.close();
    const afterAttack = await apiCall(server.url, 'GET', 'sys/seal-status');
    assert.equal(afterAttack.body.progress, 0, 'the cross-site post did not count as a share');

    // 3. Unseal: three shares typed into the password field, which is emptied after each submit.
    for (const [i, share] of shares.slice(0, 3).entries()) {
      await page.focus('#unseal-key');
      await page.keyboard.type(share);
      await page.keyboard.press('Enter');
      if (i < 2) await waitText(page, '#unseal-progress-text', new RegExp(`^${i + 1} / 3$`));
      assert.equal(await page.inputValue('#unseal-key'), '', 'the share field is cleared after submit');
      if (i === 1) await shot('03-unseal-progress');
    }
    await waitText(page, '#seal-state', /^unsealed$/);
    await shot('04-unsealed');

    // 4. Log in with the root token (kept in memory only).
    await page.fill('#token-input', rootToken);
    await page.press('#token-input', 'Enter');
    await waitText(page, '#token-state', /Token in use/);
    assert.equal(await page.inputValue('#token-input'), '');

    // 5. Through the API: a file audit device and some secrets, then more secrets between the two rotations done in
    // the page (each through its confirmation), so that terms 1 and 2 both hold data.
    const auditLog = path.join(await tempDir(t), 'audit.log');
    const audit = await apiCall(server.url, 'PUT', 'sys/audit/file', { token: rootToken, body: { type: 'file', options: { file_path: auditLog } } });
    assert.equal(audit.status, 204, audit.text);
    assert.equal((await apiCall(server.url, 'POST', 'sys/mounts/secret', { token: rootToken, body: { type: 'kv' } })).status, 204);
    const write = async (name: string) => {
      const res = await apiCall(server.url, 'PUT', `secret/${name}`, { token: rootToken, body: { value: `value of ${name}` } });
      assert.equal(res.status, 204, res.text);
    };
    for (const name of ['a', 'b', 'c']) await write(name);
    await waitText(page, '#key-term', /^1$/);
    for (const term of [2, 3]) {
      await page.click('#rotate-ask');
      await page.locator('#rotate-confirm').waitFor();
      await page.click('#rotate-yes');
      await waitText(page, '#key-term', new RegExp(`^${term}$`));
      if (term === 2) for (const name of ['d', 'e']) await write(name);
    }
    await page.locator('#key-terms-body tr[data-term="3"]').waitFor();
    const terms = await page
      .locator('#key-terms-body tr')
      .evaluateAll((trs) =>
        trs.map((tr) => [tr.getAttribute('data-term'), tr.children[2]?.textContent, tr.querySelector('time')?.getAttribute('datetime') ?? '']),
      );
    assert.deepEqual(
      terms.map(([term, state]) => [term, state]),
      [
        ['1', 'decrypt'],
        ['2', 'decrypt'],
        ['3', 'active'],
      ],
      'every term with its state',
    );
    for (const [term, , installed] of terms) assert.match(installed!, /^\d{4}-\d\d-\d\dT/, `term ${term} shows its install time`);
    await waitText(page, '#audit-list', new RegExp(`^file/ \\(file\\) → ${auditLog.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
    await shot('05-rotated-twice');

    // 6. A rewrap job started in the page with no selection (every entry under an older term) runs to completed.
    await page.locator('#rewrap-body').waitFor();
    await page.click('#rewrap-start-submit');
    await waitText(page, '#rewrap-state', /^completed$/);
    assert.match((await page.textContent('#rewrap-remaining')) ?? '', /^none$/);
    assert.match((await page.textContent('#rewrap-counts')) ?? '', /^[1-9]\d* \/ \d+ \/ 0 of \d+$/, 'entries were rewrapped and none failed');
    await shot('06-rewrap-completed');

    // 7. A census run from the page: its chart lists every keyring term, with 0 entries under terms 1 and 2.
    await page.click('#census-start');
    await waitText(page, '#census-caption', /census completed/);
    const census = await page
      .locator('#census-body tr')
      .evaluateAll((trs) =>
        trs.map((tr) => [tr.getAttribute('data-term'), tr.querySelector('.count')?.textContent, tr.querySelector('meter')?.value]),
      );
    assert.deepEqual(
      census.map(([term]) => term),
      ['1', '2', '3'],
    );
    assert.deepEqual(census.slice(0, 2), [
      ['1', '0', 0],
      ['2', '0', 0],
    ]);
    assert.ok(Number(census[2]![1]) >= 5, `the secrets and the rest of the barrier are under term 3: ${JSON.stringify(census)}`);
    const fromApi = (await apiCall(server.url, 'GET', 'sys/rewrap/census', { token: rootToken })).body.data;
    assert.equal(fromApi.terms['1'], undefined, 'the server agrees: nothing under term 1');
    assert.equal(fromApi.terms['2'], undefined, 'nor under term 2');
    // The key-status terms show the same census as a bar chart.
    await waitText(page, '#key-terms-body tr[data-term="1"] .count', /^0$/);
    await waitText(page, '#key-terms-body tr[data-term="3"] .count', new RegExp(`^${census[2]![1]}$`));
    await shot('07-census-after-rewrap');
    for (const name of ['a', 'b', 'c', 'd', 'e'])
      assert.equal((await apiCall(server.url, 'GET', `secret/${name}`, { token: rootToken })).body.data.value, `value of ${name}`);

    // 8. Rekey to two PGP-encrypted shares; each holder reviews nonce, n/t, fingerprints and start time first.
    const gpg = await GpgHome.create(t);
    const holders = [await gpg.generateKey('one@example.com'), await gpg.generateKey('two@example.com')];
    await page.fill('#rekey-shares', '2');
    await page.fill('#rekey-threshold', '2');
    await page.fill('#rekey-pgp', holders.map((h) => h.base64).join('\n'));
    await page.click('#rekey-start-submit');
    await page.locator('#rekey-running').waitFor();
    const status = (await apiCall(server.url, 'GET', 'sys/rekey/init')).body;
    for (const [i, share] of shares.slice(1, 4).entries()) {
      await page.fill('#rekey-key', share);
      await page.click('#rekey-review');
      await page.locator('#rekey-confirm').waitFor();
      assert.equal(await page.inputValue('#rekey-key'), '', 'the share field is emptied at review');
      const shown = (await page.textContent('#rc-fingerprints'))!.toLowerCase();
      for (const h of holders) assert.ok(shown.includes(h.fingerprint), `the holder sees fingerprint ${h.fingerprint} before sending`);
      assert.equal(await page.textContent('#rc-nonce'), status.nonce);
      assert.equal(await page.textContent('#rc-tn'), '2 of 2');
      assert.equal(await page.textContent('#rc-started'), status.started_time);
      assert.equal(requests.filter((u) => u.endsWith('/v1/sys/rekey/update')).length, i, 'nothing was sent before the holder confirmed');
      if (i === 0) await shot('08-rekey-review-before-share');
      await page.click('#rekey-send');
      if (i < 2) await waitText(page, '#rekey-progress-text', new RegExp(`^${i + 1} / 3$`));
    }
    await page.locator('#once-list li').nth(1).waitFor();
    const newShares = await page.locator('#once-list li code').allTextContents();
    const labels = (await page.textContent('#once-list'))!.toLowerCase();
    for (const h of holders) assert.ok(labels.includes(h.fingerprint));
    const plainShares: string[] = [];
    for (const [i, enc] of newShares.entries()) {
      const plain = (await gpg.decryptBase64(enc)).trim();
      secrets.push(plain, Buffer.from(plain, 'hex').toString('base64'));
      plainShares.push(plain);
      assert.match(plain, /^[0-9a-f]{66}$/, `new share ${i + 1} decrypts with its holder's key`);
    }
    await shot('09-rekey-new-shares-once');
    await page.click('#once-clear');
    await waitText(page, '#rekey-done', /Rekey completed/);
    // A rekey installs a new keyring term too: the census taken before it is marked stale.
    await waitText(page, '#key-term', /^4$/);
    await waitText(page, '#census-caption', /stale: taken while term 3 was active/);

    // 9. generate-root with the OTP flow: the two new holders send their shares; the page decodes the token and shows
    // it once, and that token really is a root token.
    await page.locator('#root-start').waitFor();
    await page.click('#root-start');
    await waitText(page, '#once-title', /one-time password/);
    const otp = (await page.locator('#once-list li code').first().textContent())!;
    secrets.push(otp);
    await page.click('#once-clear');
    await page.locator('#root-running').waitFor();
    const attempt = (await apiCall(server.url, 'GET', 'sys/generate-root/attempt')).body;
    await waitText(page, '#root-nonce', new RegExp(`^${attempt.nonce}$`));
    for (const [i, share] of plainShares.entries()) {
      await page.fill('#root-key', share);
      await page.press('#root-key', 'Enter');
      assert.equal(await page.inputValue('#root-key'), '', 'the share field is emptied at once');
      if (i === 0) {
        await waitText(page, '#root-progress-text', /^1 \/ 2$/);
        await shot('10-generate-root-progress');
      }
    }
    await waitText(page, '#once-title', /the new root token/);
    const newRoot = (await page.locator('#once-list li code').first().textContent())!;
    secrets.push(newRoot);
    assert.notEqual(newRoot, rootToken);
    await shot('11-generate-root-token-once');
    const self = await apiCall(server.url, 'GET', 'auth/token/lookup-self', { token: newRoot });
    assert.equal(self.status, 200, self.text);
    assert.deepEqual(self.body.data.policies, ['root'], 'the decoded token is a root token');
    await page.click('#once-clear');
    await page.locator('#root-start').waitFor();
    assert.ok(
      requests.every((u) => !u.includes('decode-token')),
      'the page decodes the token itself: the OTP never goes back to the server',
    );

    // 10. A phone-width look, then: no secret in any URL, in storage or in the DOM (markup and field values).
    await page.setViewportSize({ width: 390, height: 844 });
    await shot('12-phone-width');
    for (const url of requests) for (const s of secrets) assert.ok(!url.includes(s) && !url.includes(encodeURIComponent(s)), `no secret in ${url}`);
    // A string, not a function: tsx would wrap named helpers in a `__name` call the page does not have.
    const leftovers = await page.evaluate<string>(`[
      ...[localStorage, sessionStorage].flatMap((store) => Array.from({ length: store.length }, (_, i) => store.key(i) + '=' + store.getItem(store.key(i)))),
      document.cookie,
      document.documentElement.outerHTML,
      ...Array.from(document.querySelectorAll('input, textarea'), (e) => e.value),
    ].join('\\n')`);
    for (const s of secrets) assert.ok(!leftovers.includes(s), 'no share or token left in storage or the DOM');
    assert.deepEqual(consoleErrors, []);
  });

  test('a rekey with verification through the page: the new share is shown once, then verified, then it alone unseals', async (t) => {
    const server = await startUiServer(t);
    const init = await apiCall(server.url, 'PUT', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1 } });
    const [oldShare] = init.body.keys_base64 as string[];
    await apiCall(server.url, 'PUT', 'sys/unseal', { body: { key: oldShare } });
    const browser = await launch(t);
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`${server.url}/ui/`);
    await waitText(page, '#seal-state', /^unsealed$/);

    await page.fill('#rekey-shares', '1');
    await page.fill('#rekey-threshold', '1');
    await page.focus('#rekey-verify');
    await page.keyboard.press('Space');
    await page.click('#rekey-start-submit');
    await waitText(page, '#rekey-verification', /^required$/);
    await page.fill('#rekey-key', oldShare!);
    await page.press('#rekey-key', 'Enter');
    await page.locator('#rekey-confirm').waitFor();
    assert.match((await page.textContent('#rc-fingerprints')) ?? '', /none: the new shares will be shown in clear/);
    await page.click('#rekey-send');
    await page.locator('#once-list li').first().waitFor();
    assert.match((await page.textContent('#once-warning')) ?? '', /old shares stay valid until enough new shares are verified/);
    const newShare = (await page.locator('#once-list li code').first().textContent())!;
    await page.click('#once-clear');
    await page.locator('#rekey-verify-form').waitFor();
    await page.fill('#rekey-verify-key', newShare);
    await page.press('#rekey-verify-key', 'Enter');
    await waitText(page, '#rekey-done', /Verification complete/);

    const secrets = [oldShare!, newShare, init.body.root_token as string];
    for (const url of requests) for (const s of secrets) assert.ok(!url.includes(s) && !url.includes(encodeURIComponent(s)), `no secret in ${url}`);
    const html = await page.content();
    for (const s of secrets) assert.ok(!html.includes(s), 'no share left in the DOM');
    assert.equal((await apiCall(server.url, 'PUT', 'sys/seal', { token: init.body.root_token })).status, 204);
    assert.equal((await apiCall(server.url, 'PUT', 'sys/unseal', { body: { key: oldShare } })).status, 400, 'the old share no longer unseals');
    const unsealed = await apiCall(server.url, 'PUT', 'sys/unseal', { body: { key: newShare } });
    assert.equal(unsealed.body.sealed, false, 'the verified new share unseals');
  });

  test('a rate-limited rewrap job is paused, resumed and canceled from the page, which follows each state the server reports', async (t) => {
    const server = await startUiServer(t);
    const init = await apiCall(server.url, 'PUT', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1 } });
    await apiCall(server.url, 'PUT', 'sys/unseal', { body: { key: init.body.keys_base64[0] } });
    const token = init.body.root_token as string;
    assert.equal((await apiCall(server.url, 'POST', 'sys/mounts/secret', { token, body: { type: 'kv' } })).status, 204);
    for (let i = 0; i < 40; i++) assert.equal((await apiCall(server.url, 'PUT', `secret/s${i}`, { token, body: { value: `v${i}` } })).status, 204);
    assert.equal((await apiCall(server.url, 'PUT', 'sys/rotate', { token })).status, 204);
    const browser = await launch(t);
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${server.url}/ui/`);
    await page.fill('#token-input', token);
    await page.press('#token-input', 'Enter');
    await page.locator('#rewrap-body').waitFor();
    // Ten entries a second, one per page, over the 40 secrets: counting then rewrapping take about four seconds each,
    // long enough to act on the job. (The counted entries count against the rate too, and a pause waits for that.)
    const spec = { rewrap: { apiVersion: 'v1', selection: { prefixes: ['secret/'] }, execution: { batchSize: 1, maxEntriesPerSecond: 10 } } };
    await page.fill('#rewrap-spec', JSON.stringify(spec));
    await page.click('#rewrap-start-submit');
    await waitText(page, '#rewrap-state', /^(pending|counting|running)$/);
    await page.click('#rewrap-pause');
    await waitText(page, '#rewrap-state', /^paused$/);
    assert.equal(await page.isDisabled('#rewrap-pause'), true);
    assert.equal(await page.isEnabled('#rewrap-resume'), true);
    const jobId = (await page.textContent('#rewrap-id'))!;
    assert.equal((await apiCall(server.url, 'GET', `sys/rewrap/jobs/${jobId}`, { token })).body.data.state, 'paused');
    await page.click('#rewrap-resume');
    await waitText(page, '#rewrap-state', /^(counting|running)$/);
    await page.click('#rewrap-cancel');
    await waitText(page, '#rewrap-state', /^canceled$/);
    assert.equal(await page.isDisabled('#rewrap-cancel'), true);
    assert.equal((await apiCall(server.url, 'GET', `sys/rewrap/jobs/${jobId}`, { token })).body.data.state, 'canceled');
    for (let i = 0; i < 40; i += 13) assert.equal((await apiCall(server.url, 'GET', `secret/s${i}`, { token })).body.data.value, `v${i}`);
  });

  test('ui = false: /ui/ answers 404 and the page is not served', async (t) => {
    const server = await startUiServer(t, false);
    for (const p of ['/ui/', '/ui/app.js', '/ui/index.html']) {
      const res = await fetch(`${server.url}${p}`);
      assert.equal(res.status, 404, p);
      assert.deepEqual(await res.json(), { errors: [] });
    }
  });
});

test('coffer server -dev serves the page even when its config file says ui = false', async (t) => {
  const dir = await tempDir(t);
  const config = await writeServerConfig(dir, { extra: 'ui = false' });
  const server = await startServerProcess(t, ['-dev', `-config=${config}`]);
  const res = await fetch(`${server.url}/ui/`);
  assert.equal(res.status, 200);
  assert.match(await res.text(), /<title>Coffer operator page<\/title>/);
});
