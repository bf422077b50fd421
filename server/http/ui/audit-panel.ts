import { api, dataOf, isRecord } from './api.js';
import { clearError, fillList, showError, str, unavailable, waiting, show } from './dom.js';
import { session } from './session.js';

// Audit devices (`sys/audit`, sudo): path, type, description and, for a file device, where it writes.

export async function refreshAudit(): Promise<void> {
  if (waiting('audit', true) || session.token === undefined) {
    fillList('audit-list', [], '–');
    return;
  }
  try {
    const a = dataOf(await api('GET', 'sys/audit', { token: session.token }));
    show('audit-unavailable', false);
    const devices = Object.entries(a).filter((entry): entry is [string, Record<string, unknown>] => isRecord(entry[1]));
    fillList(
      'audit-list',
      devices.map(([path, v]) => {
        const options = isRecord(v.options) ? v.options : {};
        const where = str(options.file_path) || str(options.address) || str(options.facility);
        return `${path} (${str(v.type)})${where ? ` → ${where}` : ''}${str(v.description) ? `: ${str(v.description)}` : ''}`;
      }),
      'no audit device enabled',
    );
    clearError('audit-error');
  } catch (err) {
    if (!unavailable('audit', err)) showError('audit-error', err);
  }
}
