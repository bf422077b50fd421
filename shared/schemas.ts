/**
 * JSON schemas of request bodies, keyed by the Go struct name Vault reports in its decoding errors. Unknown fields
 * are allowed (Vault ignores them); `null` is stripped before validation (it means "unset").
 */
export interface BodySchema {
  readonly goStruct: string;
  readonly schema: {
    readonly type: 'object';
    readonly properties: Readonly<Record<string, { readonly type: string; readonly items?: { readonly type: string } }>>;
  };
}

export const INIT_REQUEST: BodySchema = {
  goStruct: 'InitRequest',
  schema: {
    type: 'object',
    properties: {
      secret_shares: { type: 'integer' },
      secret_threshold: { type: 'integer' },
      stored_shares: { type: 'integer' },
      pgp_keys: { type: 'array', items: { type: 'string' } },
      root_token_pgp_key: { type: 'string' },
      recovery_shares: { type: 'integer' },
      recovery_threshold: { type: 'integer' },
      recovery_pgp_keys: { type: 'array', items: { type: 'string' } },
    },
  },
};

export const UNSEAL_REQUEST: BodySchema = {
  goStruct: 'UnsealRequest',
  schema: {
    type: 'object',
    properties: {
      key: { type: 'string' },
      reset: { type: 'boolean' },
      migrate: { type: 'boolean' },
    },
  },
};

export const REKEY_INIT_REQUEST: BodySchema = {
  goStruct: 'RekeyRequest',
  schema: {
    type: 'object',
    properties: {
      secret_shares: { type: 'integer' },
      secret_threshold: { type: 'integer' },
      stored_shares: { type: 'integer' },
      pgp_keys: { type: 'array', items: { type: 'string' } },
      backup: { type: 'boolean' },
      require_verification: { type: 'boolean' },
    },
  },
};

export const REKEY_UPDATE_REQUEST: BodySchema = {
  goStruct: 'RekeyUpdateRequest',
  schema: {
    type: 'object',
    properties: {
      key: { type: 'string' },
      nonce: { type: 'string' },
    },
  },
};
