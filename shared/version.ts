/** Reported by seal-status and health; kept equal to package.json's version (a unit test checks it). */
export const COFFER_VERSION = '0.1.0';
export const COFFER_BUILD_DATE = '2026-11-21T00:00:00Z';
