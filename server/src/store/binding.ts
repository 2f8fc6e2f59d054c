/** The condition both stores apply to a Binding (types.ts), inside the attempt's transaction. */
import { ServiceError } from '../domain/errors.js';

/**
 * Whether `deactivated`, the tokens the binding of `serial` just took from the user, are exactly
 * the one the decision saw active: none for a new user, or the token bound itself.
 */
export function isReplaced(deactivated: readonly string[], serial: string, replaces: string | null): boolean {
  if (replaces === null || replaces === serial) return deactivated.length === 0;
  return deactivated.length === 1 && deactivated[0] === replaces;
}

export const userChanged = (userId: string): ServiceError =>
  new ServiceError('ERR_USER_CHANGED', `user ${userId} changed while the activation was decided`);
