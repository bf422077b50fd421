import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import type { CofferCore } from '../../core/coffer-core.js';
import type { BodyValidator } from '../request-body.js';

/** Methods as the router sees them: HEAD is GET, POST is PUT, `LIST` and `GET ?list=true` are LIST. */
export type Method = 'GET' | 'PUT' | 'DELETE' | 'LIST' | 'PATCH';
export type Handler = (req: Request, res: Response) => Promise<void>;
/** Handlers by path below `/v1/` (for example `sys/init`). */
export type RouteTable = Record<string, Partial<Record<Method, Handler>>>;

/** What route factories receive; there is no module-level state. */
export interface HttpDeps {
  core: CofferCore;
  validator: BodyValidator;
  logger: Logger;
  /** Advertised API address (sys/leader). */
  apiAddr: string;
}
