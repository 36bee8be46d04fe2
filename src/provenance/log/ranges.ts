/** Argument checks shared by the writable and the read-only log. */
import { LightproofError } from '../../core/errors.js';

export function outOfRange(message: string, details: Record<string, unknown>): LightproofError {
  return new LightproofError('LP_LOG_INDEX_OUT_OF_RANGE', message, { status: 404, details });
}

/** `size` must be a tree size of a log holding `count` leaves. */
export function checkSize(what: string, size: number, count: number): void {
  if (!Number.isSafeInteger(size) || size < 0 || size > count) {
    throw outOfRange(`${what} ${size} is not a tree size of this log (0..${count})`, { [what]: size });
  }
}

export function checkIndex(index: number, size: number): void {
  if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
    throw outOfRange(`leaf index ${index} is not below the tree size ${size}`, { index, size });
  }
}
