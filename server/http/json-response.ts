import type { Response } from 'express';

/**
 * Vault's clients compare the content type as a string (hvac) and expect compact JSON ending in a newline, so
 * responses are written here rather than with `res.json`, which appends a charset.
 */
export function sendJson(res: Response, status: number, body: unknown): void {
  res.status(status);
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify(body) + '\n');
}

/** Success without a body. Vault still labels it JSON. */
export function sendNoContent(res: Response): void {
  res.status(204);
  res.setHeader('Content-Type', 'application/json');
  res.end();
}

export function sendErrors(res: Response, status: number, errors: string[]): void {
  sendJson(res, status, { errors });
}
