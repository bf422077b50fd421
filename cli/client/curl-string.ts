/** What `-output-curl-string` needs to describe one request. */
export interface CurlRequest {
  method: string;
  url: string;
  body?: unknown;
  hasToken: boolean;
  skipVerify: boolean;
  caCert?: string;
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'"'"'`)}'`;

/**
 * The curl command equivalent to a request, laid out as Vault's `-output-curl-string` prints it: `--insecure`,
 * `-X METHOD` (not for GET), `--cacert`, the headers, `-d '<json>'`, then the quoted URL. The token is never
 * printed: its header reads `$(coffer print token)`, which expands to the same token in a shell.
 */
export function curlString(req: CurlRequest): string {
  let out = 'curl ';
  if (req.skipVerify) out += '--insecure ';
  if (req.method !== 'GET') out += `-X ${req.method} `;
  if (req.caCert) out += `--cacert ${shellQuote(req.caCert)} `;
  out += '-H "X-Vault-Request: true" ';
  if (req.hasToken) out += '-H "X-Vault-Token: $(coffer print token)" ';
  if (req.body !== undefined) out += `-d ${shellQuote(JSON.stringify(req.body))} `;
  return out + JSON.stringify(req.url);
}
