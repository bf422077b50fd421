/**
 * JSON schemas of request bodies, keyed by the Go struct name Vault reports in its decoding errors. Unknown fields
 * are allowed (Vault ignores them); `null` is stripped before validation (it means "unset").
 */
export interface BodySchema {
  readonly goStruct: string;
  readonly schema: {
    readonly type: 'object';
    readonly properties: Readonly<Record<string, { readonly type: string | readonly string[]; readonly items?: { readonly type: string } }>>;
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

/** `sys/rotate/config` (and `sys/rotate/keyring/config`): numbers may come as strings, durations as Go text or seconds. */
export const ROTATE_CONFIG_REQUEST: BodySchema = {
  goStruct: 'RotateConfigRequest',
  schema: {
    type: 'object',
    properties: {
      max_operations: { type: ['integer', 'string'] },
      interval: { type: ['integer', 'string'] },
      enabled: { type: ['boolean', 'string'] },
    },
  },
};

/** `sys/policy/:name` (`rules`, legacy) and `sys/policies/acl/:name` (`policy`). */
export const POLICY_WRITE_REQUEST: BodySchema = {
  goStruct: 'PolicyRequest',
  schema: { type: 'object', properties: { policy: { type: 'string' }, rules: { type: 'string' } } },
};

/** `sys/capabilities-self`: `paths` as a list or a comma-free single string; `path` is the legacy single form. */
export const CAPABILITIES_REQUEST: BodySchema = {
  goStruct: 'CapabilitiesRequest',
  schema: { type: 'object', properties: { path: { type: 'string' }, paths: { type: ['array', 'string'] } } },
};

/** `DELETE sys/rekey/init` (and the recovery variant). */
export const REKEY_CANCEL_REQUEST: BodySchema = {
  goStruct: 'RekeyCancelRequest',
  schema: { type: 'object', properties: { nonce: { type: 'string' } } },
};

/** `sys/generate-root/attempt`. */
export const GENERATE_ROOT_INIT_REQUEST: BodySchema = {
  goStruct: 'GenerateRootInitRequestBody',
  schema: { type: 'object', properties: { otp: { type: 'string' }, pgp_key: { type: 'string' } } },
};

/** `sys/generate-root/update`. */
export const GENERATE_ROOT_UPDATE_REQUEST: BodySchema = {
  goStruct: 'GenerateRootUpdateRequestBody',
  schema: { type: 'object', properties: { key: { type: 'string' }, nonce: { type: 'string' } } },
};

/** `sys/decode-token`. */
export const DECODE_TOKEN_REQUEST: BodySchema = {
  goStruct: 'DecodeTokenRequest',
  schema: { type: 'object', properties: { encoded_token: { type: 'string' }, otp: { type: 'string' } } },
};
