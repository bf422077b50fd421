import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../server/config/load-config.js';

const base = 'storage "inmem" {}\n';

test('audit stanzas are read in file order with their description and options; prefixing is off unless allowed', () => {
  const config = parseConfig(`${base}
audit "file" "to-file" {
  description = "main log"
  options {
    file_path = "/var/log/coffer/audit.log"
    mode      = "0640"
    log_raw   = false
  }
}
audit "file" "stdout" {
  options { file_path = "stdout" }
}
`);
  assert.deepEqual(config.audit, [
    { type: 'file', path: 'to-file', description: 'main log', options: { file_path: '/var/log/coffer/audit.log', mode: '0640', log_raw: 'false' } },
    { type: 'file', path: 'stdout', description: '', options: { file_path: 'stdout' } },
  ]);
  assert.equal(config.allowAuditLogPrefixing, false);
  assert.deepEqual(parseConfig(base).audit, []);
});

test('a prefix in an audit stanza is refused unless allow_audit_log_prefixing = true (CVE-2025-6000)', () => {
  const stanza = 'audit "file" "p" {\n  options {\n    file_path = "/tmp/a.log"\n    prefix = "#!/bin/sh"\n  }\n}\n';
  assert.throws(() => parseConfig(base + stanza), /audit log prefixing is not allowed/);
  const allowed = parseConfig(`${base}allow_audit_log_prefixing = true\n${stanza}`);
  assert.equal(allowed.allowAuditLogPrefixing, true);
  assert.equal(allowed.audit[0]!.options.prefix, '#!/bin/sh');
});

test('unknown keys, local devices and duplicate paths in audit stanzas are refused, naming them', () => {
  assert.throws(() => parseConfig(`${base}audit "file" "a" {\n  colour = "red"\n}\n`), /unknown key "colour" in audit "file" "a"/);
  assert.throws(() => parseConfig(`${base}audit "file" "a" {\n  local = true\n}\n`), /local audit devices are not supported/);
  assert.throws(() => parseConfig(`${base}audit "file" "a" {}\naudit "file" "a/" {}\n`), /two audit stanzas for the path "a\/"/);
  assert.throws(
    () => parseConfig(`${base}audit "file" "a" {\n  options { file_path = "/tmp/a", mode = "0755" }\n}\n`),
    /audit "file" "a": mode "0755" is refused/,
  );
  assert.throws(() => parseConfig(`${base}audit "file" "a" {\n  options { bogus = "1" }\n}\n`), /unknown option\(s\) for a file audit device: bogus/);
  assert.throws(() => parseConfig(`${base}audit "syslog" "a" {}\n`), /unknown backend type: "syslog"/);
  assert.throws(() => parseConfig(`${base}audit "file" "a" {}\n`), /audit "file" "a": file_path is required/);
});
