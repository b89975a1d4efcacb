// The guarded state machines of IKE and Child SAs (iked's sa_state(): one function that refuses
// illegal moves and logs "a -> b"). RFC 7296 §1 (lifecycle), §2.8 (rekeying), §1.4.1 (deleting).
import type { Logger } from '../base/logger.ts';

export type IkeSaState =
  | 'created' // allocated, nothing sent/received yet
  | 'connecting' // IKE_SA_INIT / IKE_AUTH in progress (half-open until authenticated)
  | 'established' // authenticated (RFC 7296 §1.2)
  | 'rekeying' // a CREATE_CHILD_SA rekey of this IKE SA is in progress (§1.3.2)
  | 'rekeyed' // replaced by a new IKE SA, waiting for the delete (§2.18)
  | 'deleting' // INFORMATIONAL Delete sent (§1.4.1)
  | 'destroyed'; // keys wiped, removed from the engine

export type ChildSaState =
  'created' | 'installing' | 'installed' | 'rekeying' | 'rekeyed' | 'deleting' | 'destroyed';

export const IKE_TRANSITIONS: Readonly<Record<IkeSaState, readonly IkeSaState[]>> = {
  created: ['connecting', 'destroyed'],
  connecting: ['established', 'deleting', 'destroyed'],
  // established -> rekeyed: we answered the peer's rekey of this SA (RFC 7296 §2.18).
  established: ['rekeying', 'rekeyed', 'deleting', 'destroyed'],
  rekeying: ['established', 'rekeyed', 'deleting', 'destroyed'],
  rekeyed: ['deleting', 'destroyed'],
  deleting: ['destroyed'],
  destroyed: [],
};

export const CHILD_TRANSITIONS: Readonly<Record<ChildSaState, readonly ChildSaState[]>> = {
  created: ['installing', 'destroyed'],
  installing: ['installed', 'destroyed'],
  // installed -> rekeyed: we answered the peer's rekey of this Child SA (RFC 7296 §2.8).
  installed: ['rekeying', 'rekeyed', 'deleting', 'destroyed'],
  rekeying: ['installed', 'rekeyed', 'deleting', 'destroyed'],
  // rekeyed -> installed: the peer deleted the replacement it could not install (RFC 7296 §2.9).
  rekeyed: ['installed', 'deleting', 'destroyed'],
  deleting: ['destroyed'],
  destroyed: [],
};

export class StateError extends Error {
  override readonly name = 'StateError';
  readonly code = 'ERR_ILLEGAL_TRANSITION';
  constructor(
    readonly what: string,
    readonly from: string,
    readonly to: string,
  ) {
    super(`ERR_ILLEGAL_TRANSITION: ${what} ${from} -> ${to} refused`);
  }
}

/** One guarded state variable: `set` refuses moves outside `table` and logs every accepted one. */
export class StateMachine<S extends string> {
  #state: S;
  constructor(
    initial: S,
    private readonly table: Readonly<Record<S, readonly S[]>>,
    /** Names the owner in logs and errors; a function, so that no string is kept per SA. */
    private readonly what: () => string,
    private readonly logger: Logger,
    private readonly onChange?: (from: S, to: S) => void,
  ) {
    this.#state = initial;
  }
  get state(): S {
    return this.#state;
  }
  can(to: S): boolean {
    return this.table[this.#state].includes(to);
  }
  set(to: S): void {
    const from = this.#state;
    if (from === to) return;
    if (!this.can(to)) {
      const what = this.what();
      this.logger.log('error', `${what} illegal state change ${from} -> ${to}`);
      throw new StateError(what, from, to);
    }
    this.#state = to;
    if (this.logger.enabled?.('debug') !== false) this.logger.log('debug', `${this.what()} ${from} -> ${to}`);
    this.onChange?.(from, to);
  }
}
