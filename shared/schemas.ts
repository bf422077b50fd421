/**
 * JSON schemas of request bodies, keyed by the Go struct name Vault reports in its decoding errors. The sys bodies
 * Vault decodes into Go structs allow unknown fields (Vault ignores them); the auth-method, token-store and
 * wrapping bodies set `additionalProperties: false`, so an unknown field is a 400 naming it rather than a parameter
 * silently not applied. `null` is stripped before validation (it means "unset").
 */
export type FieldType = 'string' | 'integer' | 'boolean' | 'array' | 'number' | 'object';

export interface FieldSchema {
  readonly type: FieldType | readonly FieldType[];
  readonly items?: { readonly type: string };
}

export interface BodySchema {
  readonly goStruct: string;
  readonly schema: {
    readonly type: 'object';
    readonly properties: Readonly<Record<string, FieldSchema>>;
    readonly additionalProperties?: false;
  };
}

/** Vault's framework types as they arrive in JSON: a duration is seconds or a Go duration string. */
const DURATION: FieldSchema = { type: ['string', 'integer'] };
/** A list of strings, or one comma-separated string. */
const LIST: FieldSchema = { type: ['array', 'string'], items: { type: 'string' } };
/** Vault's framework accepts `"true"`/`"false"` for booleans too. */
const BOOL: FieldSchema = { type: ['boolean', 'string'] };
const STRING: FieldSchema = { type: 'string' };
const INT: FieldSchema = { type: ['integer', 'string'] };
const OBJECT: FieldSchema = { type: 'object' };

function strict(goStruct: string, properties: Record<string, FieldSchema>): BodySchema {
  return { goStruct, schema: { type: 'object', properties, additionalProperties: false } };
}

/** The token fields every auth method's roles and users share (Vault's `tokenutil`). */
const TOKEN_FIELDS: Record<string, FieldSchema> = {
  token_policies: LIST,
  policies: LIST,
  token_ttl: DURATION,
  token_max_ttl: DURATION,
  token_explicit_max_ttl: DURATION,
  token_period: DURATION,
  period: DURATION,
  token_num_uses: INT,
  token_no_default_policy: BOOL,
  token_bound_cidrs: LIST,
  token_type: STRING,
};

export const TOKEN_CREATE_REQUEST = strict('TokenCreateRequest', {
  policies: LIST,
  meta: OBJECT,
  no_parent: BOOL,
  no_default_policy: BOOL,
  renewable: BOOL,
  ttl: DURATION,
  lease: DURATION,
  explicit_max_ttl: DURATION,
  period: DURATION,
  display_name: STRING,
  num_uses: INT,
  type: STRING,
});

export const TOKEN_ROLE_REQUEST = strict('TokenRoleRequest', {
  allowed_policies: LIST,
  disallowed_policies: LIST,
  orphan: BOOL,
  renewable: BOOL,
  path_suffix: STRING,
  period: DURATION,
  token_period: DURATION,
  explicit_max_ttl: DURATION,
  token_explicit_max_ttl: DURATION,
  token_no_default_policy: BOOL,
  token_num_uses: INT,
  token_bound_cidrs: LIST,
  token_type: STRING,
});

export const TOKEN_RENEW_REQUEST = strict('TokenRenewRequest', { token: STRING, accessor: STRING, increment: DURATION });
export const TOKEN_REF_REQUEST = strict('TokenRequest', { token: STRING, accessor: STRING });
export const CAPABILITIES_REQUEST = strict('CapabilitiesRequest', { token: STRING, accessor: STRING, path: LIST, paths: LIST });

export const AUTH_ENABLE_REQUEST = strict('EnableAuthRequest', {
  /** node-vault's `enableAuth` repeats the path in the body; accepted only when it names the same path. */
  mount_point: STRING,
  type: STRING,
  description: STRING,
  config: OBJECT,
  options: OBJECT,
  local: BOOL,
  seal_wrap: BOOL,
  external_entropy_access: BOOL,
  plugin_name: STRING,
  plugin_version: STRING,
});

export const MOUNT_ENABLE_REQUEST = strict('MountInput', {
  mount_point: STRING,
  type: STRING,
  description: STRING,
  config: OBJECT,
  options: OBJECT,
  local: BOOL,
  seal_wrap: BOOL,
  external_entropy_access: BOOL,
  plugin_name: STRING,
  plugin_version: STRING,
});

/** The `config` object of a mount or auth enable, and the body of a tune. */
export const MOUNT_CONFIG = strict('MountConfigInput', {
  default_lease_ttl: DURATION,
  max_lease_ttl: DURATION,
  description: STRING,
  options: OBJECT,
  force_no_cache: BOOL,
});

export const REMOUNT_REQUEST = strict('RemountRequest', { from: STRING, to: STRING });

export const APPROLE_ROLE_REQUEST = strict('AppRoleRole', {
  ...TOKEN_FIELDS,
  bind_secret_id: BOOL,
  secret_id_bound_cidrs: LIST,
  bound_cidr_list: LIST,
  secret_id_num_uses: INT,
  secret_id_ttl: DURATION,
  local_secret_ids: BOOL,
  role_id: STRING,
});

export const APPROLE_SECRET_ID_REQUEST = strict('AppRoleSecretId', {
  metadata: STRING,
  cidr_list: LIST,
  token_bound_cidrs: LIST,
  num_uses: INT,
  ttl: DURATION,
  secret_id: STRING,
});

export const APPROLE_LOGIN_REQUEST = strict('AppRoleLogin', { role_id: STRING, secret_id: STRING });
export const APPROLE_SECRET_ID_REF = strict('AppRoleSecretIdRef', { secret_id: STRING, secret_id_accessor: STRING });
export const APPROLE_ROLE_ID_REQUEST = strict('AppRoleRoleId', { role_id: STRING });

export const USERPASS_USER_REQUEST = strict('UserpassUser', {
  ...TOKEN_FIELDS,
  password: STRING,
  ttl: DURATION,
  max_ttl: DURATION,
  bound_cidrs: LIST,
});
export const USERPASS_LOGIN_REQUEST = strict('UserpassLogin', { password: STRING });

export const WRAPPING_TOKEN_REQUEST = strict('WrappingRequest', { token: STRING });

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
    additionalProperties: false,
  },
};

/** `sys/policy/:name` (`rules`, legacy) and `sys/policies/acl/:name` (`policy`). */
export const POLICY_WRITE_REQUEST: BodySchema = {
  goStruct: 'PolicyRequest',
  schema: { type: 'object', properties: { policy: { type: 'string' }, rules: { type: 'string' } } },
};

/** `sys/capabilities-self`: `paths` as a list or a comma-free single string; `path` is the legacy single form. */
export const CAPABILITIES_SELF_REQUEST: BodySchema = {
  goStruct: 'CapabilitiesRequest',
  schema: { type: 'object', properties: { path: { type: 'string' }, paths: { type: ['array', 'string'] } } },
};

/** `DELETE sys/rekey/init` (and the recovery variant). */
export const REKEY_CANCEL_REQUEST: BodySchema = {
  goStruct: 'RekeyCancelRequest',
  schema: { type: 'object', properties: { nonce: { type: 'string' } }, additionalProperties: false },
};

/** `sys/generate-root/attempt`. */
export const GENERATE_ROOT_INIT_REQUEST: BodySchema = {
  goStruct: 'GenerateRootInitRequestBody',
  schema: { type: 'object', properties: { otp: { type: 'string' }, pgp_key: { type: 'string' } }, additionalProperties: false },
};

/** `sys/generate-root/update`. */
export const GENERATE_ROOT_UPDATE_REQUEST: BodySchema = {
  goStruct: 'GenerateRootUpdateRequestBody',
  schema: { type: 'object', properties: { key: { type: 'string' }, nonce: { type: 'string' } }, additionalProperties: false },
};

/** `sys/decode-token`. */
export const DECODE_TOKEN_REQUEST: BodySchema = {
  goStruct: 'DecodeTokenRequest',
  schema: { type: 'object', properties: { encoded_token: { type: 'string' }, otp: { type: 'string' } }, additionalProperties: false },
};
