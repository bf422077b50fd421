import { refreshAudit } from './audit-panel.js';
import { refreshCensus, wireCensusPanel } from './census-panel.js';
import { clearOnce, onClick } from './dom.js';
import { refreshKeys, wireKeysPanel } from './keys-panel.js';
import { refreshRekey, wireRekeyPanel } from './rekey-panel.js';
import { refreshRewrap, wireRewrapPanel } from './rewrap-panel.js';
import { refreshRoot, wireRootPanel } from './root-panel.js';
import { refreshStatus, wireSealPanel } from './seal-panel.js';
import { setRefresher } from './session.js';
import { wireTokenPanel } from './token-panel.js';

// The operator page's entry point: wires every panel and keeps them current by polling the same /v1 API as any
// client. Shares and tokens live only in module variables (session.ts and the ceremony panels), never in storage,
// URLs, attributes or the DOM after use; every input that held one is emptied as soon as it was read.

const POLL_MS = 2000;

let refreshing = false;

async function refreshAll(): Promise<void> {
  if (refreshing) return;
  refreshing = true;
  try {
    await refreshStatus();
    await Promise.all([refreshRekey(), refreshRoot(), refreshKeys(), refreshRewrap(), refreshCensus(), refreshAudit()]);
  } finally {
    refreshing = false;
  }
}

function start(): void {
  setRefresher(refreshAll);
  wireSealPanel();
  wireTokenPanel();
  wireKeysPanel();
  wireRekeyPanel();
  wireRootPanel();
  wireRewrapPanel();
  wireCensusPanel();
  onClick('once-clear', clearOnce);
  void refreshAll();
  setInterval(() => void refreshAll(), POLL_MS);
}

start();
